"""BPMNDI: the layout a modeller saved in a BPMN file, as plain frozen dataclasses (for the HTML report).

Read with the hardened parser of `bpmn.xml`. Only the first `BPMNDiagram`'s plane is read (the one a
modeller shows first; further planes draw collapsed subprocesses). A file without BPMNDI gives `None`.
No SQLAlchemy, click, engine or storage here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from lxml import etree

from .namespaces import BPMN_NS, BPMNDI_NS
from .xml import parse_xml, source_from_bytes

DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
DI_NS = "http://www.omg.org/spec/DD/20100524/DI"

_SUBPROCESS_TAGS = {"subProcess", "transaction", "adHocSubProcess"}
_DATA_TAGS = {"dataObject", "dataObjectReference", "dataStoreReference", "dataInput", "dataOutput"}


@dataclass(frozen=True)
class Bounds:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class Shape:
    """One BPMNShape: `kind` is participant, lane, task, event, gateway, subprocess, call, data,
    annotation or other; `type` the BPMN tag's local name (userTask, endEvent, parallelGateway, ...)."""

    element: str
    kind: str
    type: str
    name: str | None
    x: float
    y: float
    w: float
    h: float
    is_horizontal: bool = True
    is_expanded: bool | None = None
    label: Bounds | None = None


@dataclass(frozen=True)
class Edge:
    """One BPMNEdge: `kind` is the BPMN tag's local name (sequenceFlow, messageFlow, association, ...)."""

    element: str
    kind: str
    name: str | None
    waypoints: tuple[tuple[float, float], ...]
    label: Bounds | None = None
    source: str | None = None  # the flow's sourceRef and targetRef (element ids), to follow a path
    target: str | None = None


@dataclass(frozen=True)
class Diagram:
    shapes: tuple[Shape, ...]
    edges: tuple[Edge, ...]
    bounds: Bounds  # the box holding every shape, edge waypoint and label

    @property
    def empty(self) -> bool:
        return not self.shapes and not self.edges


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _kind(tag: str) -> str:
    if tag == "participant":
        return "participant"
    if tag == "lane":
        return "lane"
    if tag in _SUBPROCESS_TAGS:
        return "subprocess"
    if tag == "callActivity":
        return "call"
    if tag == "task" or tag.endswith("Task"):
        return "task"
    if tag.endswith("Event"):
        return "event"
    if tag.endswith("Gateway"):
        return "gateway"
    if tag in _DATA_TAGS:
        return "data"
    if tag in ("textAnnotation", "group"):
        return "annotation"
    return "other"


def _float(node: etree._Element, attr: str) -> float:
    try:
        return float(node.get(attr, "0"))
    except ValueError:
        return 0.0


def _bounds(node: etree._Element | None) -> Bounds | None:
    if node is None:
        return None
    return Bounds(_float(node, "x"), _float(node, "y"), _float(node, "width"), _float(node, "height"))


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() == "true"


def _semantic(root: etree._Element) -> dict[str, etree._Element]:
    """Every BPMN-namespace element with an id, by id."""
    out: dict[str, etree._Element] = {}
    for node in root.iter(f"{{{BPMN_NS}}}*"):
        ident = node.get("id")
        if ident and ident not in out:
            out[ident] = node
    return out


def _name(node: etree._Element | None) -> str | None:
    if node is None:
        return None
    name = node.get("name")
    if name is None and _local(node.tag) == "textAnnotation":
        text = node.find(f"{{{BPMN_NS}}}text")
        name = text.text if text is not None else None
    return name.strip() if name and name.strip() else None


def diagram_from_tree(tree: etree._ElementTree) -> Diagram | None:
    root = tree.getroot()
    diagram = root.find(f"{{{BPMNDI_NS}}}BPMNDiagram")
    plane = diagram.find(f"{{{BPMNDI_NS}}}BPMNPlane") if diagram is not None else None
    if plane is None:
        return None
    semantic = _semantic(root)
    shapes: list[Shape] = []
    edges: list[Edge] = []
    xs: list[float] = []
    ys: list[float] = []

    def extend(b: Bounds | None) -> None:
        if b is not None:
            xs.extend((b.x, b.right))
            ys.extend((b.y, b.bottom))

    for node in plane:
        if not isinstance(node.tag, str):
            continue
        tag = _local(node.tag)
        ref = node.get("bpmnElement") or ""
        element = semantic.get(ref)
        etype = _local(element.tag) if element is not None else "unknown"
        label_node = node.find(f"{{{BPMNDI_NS}}}BPMNLabel/{{{DC_NS}}}Bounds")
        label = _bounds(label_node)
        if tag == "BPMNShape":
            box = _bounds(node.find(f"{{{DC_NS}}}Bounds"))
            if box is None:
                continue
            shapes.append(
                Shape(
                    element=ref,
                    kind=_kind(etype),
                    type=etype,
                    name=_name(element),
                    x=box.x,
                    y=box.y,
                    w=box.w,
                    h=box.h,
                    is_horizontal=_bool(node.get("isHorizontal")) is not False,
                    is_expanded=_bool(node.get("isExpanded")),
                    label=label,
                )
            )
            extend(box)
            extend(label)
        elif tag == "BPMNEdge":
            points = tuple((_float(p, "x"), _float(p, "y")) for p in node.findall(f"{{{DI_NS}}}waypoint"))
            if len(points) < 2:
                continue
            edges.append(
                Edge(
                    element=ref,
                    kind=etype,
                    name=_name(element),
                    waypoints=points,
                    label=label,
                    source=element.get("sourceRef") if element is not None else None,
                    target=element.get("targetRef") if element is not None else None,
                )
            )
            xs.extend(p[0] for p in points)
            ys.extend(p[1] for p in points)
            extend(label)
    if not xs:
        return Diagram((), (), Bounds(0, 0, 0, 0))
    x0, y0 = min(xs), min(ys)
    return Diagram(tuple(shapes), tuple(edges), Bounds(x0, y0, max(xs) - x0, max(ys) - y0))


def parse_diagram(content: bytes, name: str = "diagram.bpmn") -> Diagram | None:
    """The layout of a BPMN file's first diagram; None when the file has no BPMNDI. Raises XmlError."""
    return diagram_from_tree(parse_xml(source_from_bytes(name, content)))


def defines_process(tree: etree._ElementTree, process_id: str) -> bool:
    return any(p.get("id") == process_id for p in tree.getroot().iter(f"{{{BPMN_NS}}}process"))


def diagram_for_process(files: Iterable[tuple[str, bytes]], process_id: str) -> Diagram | None:
    """The diagram of the (first) BPMN file among (name, content) pairs that defines `process_id`."""
    for name, content in files:
        source = source_from_bytes(name, content)
        if source.kind != "bpmn":
            continue
        tree = parse_xml(source)
        if defines_process(tree, process_id):
            return diagram_from_tree(tree)
    return None


__all__ = ["Bounds", "Diagram", "Edge", "Shape", "diagram_for_process", "parse_diagram"]

"""Read what SpiffWorkflow's parser does not keep: pools, lanes, forms, extension properties, lines.

Works on the hardened lxml trees of `bpmn.xml`, so the same facts come from Camunda Modeler files
(`camunda:formData`, `camunda:properties`) and SpiffArena files (`spiffworkflow:properties`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from lxml import etree

from . import retry, service_bindings
from .model import Element, FormField, SourceFile
from .namespaces import BPMN_NS, CAMUNDA_NS, SPIFF_NS

NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}

# Flow nodes: what can hold a lane and be reached by a sequence flow.
FLOW_NODE_TAGS = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway", "complexGateway",
}  # fmt: skip
ACTIVITY_TAGS = {
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "subProcess", "transaction", "adHocSubProcess", "callActivity",
}  # fmt: skip
HUMAN_TAGS = {"userTask", "manualTask", "task"}
CONTAINER_TAGS = {"subProcess", "transaction", "adHocSubProcess"}


def local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def is_bpmn(node: etree._Element, *tags: str) -> bool:
    if not isinstance(node.tag, str):
        return False
    q = etree.QName(node.tag)
    return q.namespace == BPMN_NS and (not tags or q.localname in tags)


def uses_namespace(tree: etree._ElementTree, namespace: str) -> bool:
    """True when any element or attribute of the document is in `namespace`."""
    for node in tree.iter():
        if not isinstance(node.tag, str):
            continue
        if etree.QName(node.tag).namespace == namespace:
            return True
        for attr in node.attrib:
            if attr.startswith("{" + namespace + "}"):
                return True
    return False


def dialect_of(trees: Iterable[etree._ElementTree]) -> str:
    """Which SpiffWorkflow parser a set of files needs: camunda, spiff or bpmn (plain)."""
    trees = list(trees)
    if any(uses_namespace(t, CAMUNDA_NS) for t in trees):
        return "camunda"
    if any(uses_namespace(t, SPIFF_NS) for t in trees):
        return "spiff"
    return "bpmn"


def processes(tree: etree._ElementTree) -> list[etree._Element]:
    return [p for p in tree.getroot() if is_bpmn(p, "process")]


def pool_names(tree: etree._ElementTree) -> dict[str, str]:
    """process id -> participant (pool) name, from the collaborations of a document."""
    names: dict[str, str] = {}
    for participant in tree.getroot().iterfind(".//bpmn:collaboration/bpmn:participant", NS):
        ref, name = participant.get("processRef"), participant.get("name")
        if ref and name:
            names[ref] = name.strip()
    return names


def _lanes(process: etree._Element) -> Iterator[tuple[etree._Element, int]]:
    """Every lane of a process with its nesting depth (nested lanes come through childLaneSet)."""

    def walk(lane_set: etree._Element, depth: int) -> Iterator[tuple[etree._Element, int]]:
        for lane in lane_set.iterfind("bpmn:lane", NS):
            yield lane, depth
            for child in lane.iterfind("bpmn:childLaneSet", NS):
                yield from walk(child, depth + 1)

    for lane_set in process.iterfind("bpmn:laneSet", NS):
        yield from walk(lane_set, 0)


def lane_names(process: etree._Element) -> list[str]:
    return [(lane.get("name") or "").strip() or lane.get("id", "") for lane, _ in _lanes(process)]


def direct_lanes(process: etree._Element) -> dict[str, str]:
    """flow node id -> the name of the innermost lane that lists it."""
    assigned: dict[str, tuple[int, str]] = {}
    for lane, depth in _lanes(process):
        name = (lane.get("name") or "").strip() or lane.get("id", "")
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            node_id = (ref.text or "").strip()
            if node_id and (node_id not in assigned or assigned[node_id][0] < depth):
                assigned[node_id] = (depth, name)
    return {k: v for k, (_, v) in assigned.items()}


def extension_properties(node: etree._Element) -> dict[str, str]:
    """`camunda:properties` and `spiffworkflow:properties` of an element, merged (Spiff wins)."""
    props: dict[str, str] = {}
    ext = node.find("bpmn:extensionElements", NS)
    if ext is None:
        return props
    for prop in ext.iterfind("camunda:properties/camunda:property", NS):
        name = prop.get("name") or prop.get("id")
        if name:
            props[name] = prop.get("value", "")
    for prop in ext.iterfind("spiffworkflow:properties/spiffworkflow:property", NS):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value", "")
    return props


def _default(raw: str | None, type_: str) -> Any:
    if raw is None or raw == "":
        return None
    if "${" in raw or "#{" in raw:
        return None  # an expression Camunda would evaluate; not a literal default
    if type_ == "long":
        try:
            return int(raw)
        except ValueError:
            return None
    if type_ == "double":
        try:
            return float(raw)
        except ValueError:
            return None
    if type_ == "boolean":
        return raw.strip().lower() == "true"
    return raw


def camunda_form(node: etree._Element) -> tuple[FormField, ...]:
    fields: list[FormField] = []
    for ff in node.iterfind("bpmn:extensionElements/camunda:formData/camunda:formField", NS):
        fid = ff.get("id")
        if not fid:
            continue
        type_ = ff.get("type") or "string"
        values = tuple(
            (v.get("id", ""), v.get("name") or v.get("id", "")) for v in ff.iterfind("camunda:value", NS)
        )
        if values and type_ not in ("enum",):
            type_ = "enum"
        checks = {
            (c.get("name") or ""): (c.get("config") or "")
            for c in ff.iterfind("camunda:validation/camunda:constraint", NS)
        }
        required = "required" in checks and checks["required"].lower() != "false"
        props = {
            (p.get("id") or p.get("name") or ""): p.get("value", "")
            for p in ff.iterfind("camunda:properties/camunda:property", NS)
        }
        fields.append(
            FormField(
                id=fid,
                label=ff.get("label") or fid,
                type=type_,
                required=required,
                default=_default(ff.get("defaultValue"), type_),
                values=values,
                properties={k: v for k, v in props.items() if k},
                readonly="readonly" in checks and checks["readonly"].lower() != "false",
                constraints=_limits({k: checks.get(k) for k in _CAMUNDA_LIMITS}),
            )
        )
    return tuple(fields)


_CAMUNDA_LIMITS = ("min", "max", "minlength", "maxlength")
# JSON Schema's keywords for the same limits.
_SCHEMA_LIMITS = {"minimum": "min", "maximum": "max", "minLength": "minlength", "maxLength": "maxlength"}
_WIDGETS = {"textarea", "radio", "select", "checkbox", "password", "hidden", "email", "uri", "updown"}


def _limits(raw: dict[str, Any]) -> dict[str, float]:
    """The numeric limits that parse (an upload may hold anything; others are dropped, not guessed)."""
    out: dict[str, float] = {}
    for key, value in raw.items():
        if isinstance(value, bool) or value is None:
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            continue
        if number == number and abs(number) != float("inf"):
            out[key] = number
    return out


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _ordered(names: list[str], order: Any) -> list[str]:
    """Field ids in uiSchema `ui:order` (react-jsonschema-form's: `*` stands for the ones not listed)."""
    if not isinstance(order, list) or not all(isinstance(o, str) for o in order):
        return names
    listed = [o for o in order if o in names]
    rest = [n for n in names if n not in listed]
    if "*" not in order:
        return listed + rest
    star = order.index("*")
    before = [o for o in order[:star] if o in names]
    after = [o for o in order[star + 1 :] if o in names]
    return before + [n for n in names if n not in before and n not in after] + after


_JSON_TYPES = {"string": "string", "integer": "long", "number": "double", "boolean": "boolean"}


def json_schema_form(schema: dict[str, Any], ui_schema: Any = None) -> tuple[FormField, ...]:
    """A SpiffArena form (JSON Schema, with its uiSchema's basics: `ui:order`, `ui:widget`, `ui:help`,
    `ui:placeholder`, `ui:title`, `ui:readonly`) as form fields; nested objects and arrays are not
    flattened."""
    # An upload: any JSON may arrive here, so read only the shapes a form schema has.
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict):
        return ()
    ui = ui_schema if isinstance(ui_schema, dict) else {}
    listed = schema.get("required")
    required = {r for r in listed if isinstance(r, str)} if isinstance(listed, list) else set()
    fields: list[FormField] = []
    for fid in _ordered(list(properties), ui.get("ui:order")):
        prop = properties[fid]
        if not isinstance(prop, dict):
            continue
        found = ui.get(fid)
        look: dict[str, Any] = found if isinstance(found, dict) else {}
        enum = prop.get("enum")
        one_of = prop.get("oneOf") or prop.get("anyOf")
        values: tuple[tuple[str, str], ...] = ()
        if isinstance(enum, list):
            values = tuple((str(v), str(v)) for v in enum)
        elif isinstance(one_of, list) and all(isinstance(o, dict) and "const" in o for o in one_of):
            values = tuple((str(o["const"]), str(o.get("title") or o["const"])) for o in one_of)
        type_ = "enum" if values else _JSON_TYPES.get(str(prop.get("type")), "string")
        if prop.get("format") == "date":
            type_ = "date"
        widget = _text(look.get("ui:widget"))
        fields.append(
            FormField(
                id=fid,
                label=str(look.get("ui:title") or prop.get("title") or fid),
                type=type_,
                required=fid in required,
                default=prop.get("default"),
                values=values,
                help=_text(look.get("ui:help")) or _text(prop.get("description")),
                widget=widget if widget in _WIDGETS else None,
                placeholder=_text(look.get("ui:placeholder")),
                readonly=look.get("ui:readonly") is True or look.get("ui:disabled") is True,
                constraints=_limits({ours: prop.get(theirs) for theirs, ours in _SCHEMA_LIMITS.items()}),
            )
        )
    return tuple(fields)


def _json_file(json_files: dict[str, SourceFile], name: str | None) -> Any:
    """A deployed JSON file's content, or None when it is missing or not JSON (validation said so)."""
    if not name or name not in json_files:
        return None
    try:
        return json.loads(json_files[name].content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def documentation(node: etree._Element) -> str | None:
    """The element's `bpmn:documentation` text (the first one), stripped."""
    doc = node.find("bpmn:documentation", NS)
    return (doc.text or "").strip() or None if doc is not None else None


def instructions(node: etree._Element) -> str | None:
    """SpiffArena's `spiffworkflow:instructionsForEndUser` (Markdown with Jinja `{{ data }}`)."""
    found = node.find("bpmn:extensionElements/spiffworkflow:instructionsForEndUser", NS)
    return (found.text or "").strip() or None if found is not None else None


def elements_of(
    process: etree._Element,
    pool: str | None,
    json_files: dict[str, SourceFile],
) -> dict[str, Element]:
    """Every flow node of a process (embedded subprocesses included) with lane, properties and form."""
    lanes = direct_lanes(process)
    out: dict[str, Element] = {}

    def visit(container: etree._Element, inherited: str | None) -> None:
        for node in container:
            if not is_bpmn(node):
                continue
            tag = local(node.tag)
            if tag not in FLOW_NODE_TAGS:
                continue
            node_id = node.get("id")
            if not node_id:
                continue
            # Embedded subprocess contents take the lane of the subprocess shape (as SpiffWorkflow does).
            lane = lanes.get(node_id) or inherited or pool
            form: tuple[FormField, ...] = ()
            props = extension_properties(node)
            for name, value in retry.camunda_cycle(node).items():
                props.setdefault(name, value)
            if tag in HUMAN_TAGS or tag == "startEvent":  # a start event's form is the start form
                form = camunda_form(node)
                schema = _json_file(json_files, props.get("formJsonSchemaFilename"))
                if not form and schema is not None:
                    form = json_schema_form(schema, _json_file(json_files, props.get("formUiSchemaFilename")))
            out[node_id] = Element(
                id=node_id,
                type=tag,
                name=(node.get("name") or "").strip() or None,
                lane=lane,
                line=node.sourceline,
                properties=props,
                form=form,
                service=service_bindings.binding(node, props) if tag == "serviceTask" else None,
                documentation=documentation(node),
                instructions=instructions(node),
            )
            if tag in CONTAINER_TAGS:
                visit(node, lanes.get(node_id) or inherited)

    visit(process, None)
    return out


def line_index(tree: etree._ElementTree) -> dict[str, int]:
    """element id -> source line, to put lines on SpiffWorkflow's errors (they name ids only)."""
    index: dict[str, int] = {}
    for node in tree.iter():
        if isinstance(node.tag, str):
            node_id = node.get("id")
            if node_id and node.sourceline and node_id not in index:
                index[node_id] = node.sourceline
    return index


def event_subprocesses(process: etree._Element) -> dict[str, bool]:
    """Event subprocess id (at any depth) -> whether its start event interrupts (BPMN's default)."""
    out: dict[str, bool] = {}
    for sub in process.iter(f"{{{BPMN_NS}}}subProcess"):
        if sub.get("triggeredByEvent") != "true" or not sub.get("id"):
            continue
        starts = sub.findall("bpmn:startEvent", NS)
        out[sub.get("id", "")] = any((s.get("isInterrupting") or "true").lower() != "false" for s in starts)
    return out


CALL_BINDINGS = ("latest", "deployment", "version")


def call_bindings(process: etree._Element) -> dict[str, tuple[str, str, str | None, int | None]]:
    """call activity id -> (called process, binding, problem or None, source line), from Camunda's
    `camunda:calledElementBinding`/`camunda:calledElementVersion` or the extension property
    `calledVersion` (`latest`, `deployment` or a version number; Camunda or Spiff properties)."""
    out: dict[str, tuple[str, str, str | None, int | None]] = {}
    for node in process.iter(f"{{{BPMN_NS}}}callActivity"):
        node_id, called = node.get("id"), (node.get("calledElement") or "").strip()
        if not node_id or not called:
            continue
        binding = (node.get(f"{{{CAMUNDA_NS}}}calledElementBinding") or "").strip()
        version = (node.get(f"{{{CAMUNDA_NS}}}calledElementVersion") or "").strip()
        prop = extension_properties(node).get("calledVersion", "").strip()
        if prop:
            binding, version = (prop, "") if prop in CALL_BINDINGS else ("version", prop)
        binding = binding or "latest"
        problem = None
        if binding not in CALL_BINDINGS:
            problem = f"calledElementBinding '{binding}' is not supported (one of {', '.join(CALL_BINDINGS)})"
        elif binding == "version" and not (version.isdigit() and int(version) > 0):
            problem = f"a pinned call needs a version number (1, 2, ...), got '{version}'"
        out[node_id] = (called, binding, problem, node.sourceline)
        if binding == "version" and problem is None:
            out[node_id] = (called, f"version:{int(version)}", None, node.sourceline)
    return out

"""Checks SpiffWorkflow's parser does not make: constructs it cannot run, and designers' slips."""

from __future__ import annotations

from collections import defaultdict

from lxml import etree

from .inspect import (
    ACTIVITY_TAGS,
    CONTAINER_TAGS,
    FLOW_NODE_TAGS,
    NS,
    direct_lanes,
    is_bpmn,
    local,
    pool_names,
)
from .model import Problem

# Refused by name: SpiffWorkflow 3.2 parses some of these but cannot run them faithfully.
_REFUSED_EVENT_DEFINITIONS = {
    "compensateEventDefinition": "compensation events are not supported (SpiffWorkflow cannot run them)",
    "linkEventDefinition": "link events are not supported (SpiffWorkflow cannot run them)",
}


# SpiffWorkflow names its own task specs so; a flow node with one of these ids replaces them.
_RESERVED_IDS = frozenset({"Start", "End", "Root"})


def _describe(node: etree._Element) -> str:
    name = (node.get("name") or "").strip()
    return f"{local(node.tag)} '{name or node.get('id')}'"


def refused_constructs(tree: etree._ElementTree, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for node in tree.iter():
        if not is_bpmn(node):
            continue
        tag = local(node.tag)
        if tag == "complexGateway":
            problems.append(
                Problem(filename, node.sourceline, f"{_describe(node)}: complex gateways are not supported")
            )
        elif tag in _REFUSED_EVENT_DEFINITIONS:
            parent = node.getparent()
            where = _describe(parent) if parent is not None else tag
            problems.append(Problem(filename, node.sourceline, f"{where}: {_REFUSED_EVENT_DEFINITIONS[tag]}"))
        elif tag in FLOW_NODE_TAGS and (
            node.get("id") in _RESERVED_IDS or (node.get("id") or "").endswith(".EndJoin")
        ):
            problems.append(
                Problem(
                    filename,
                    node.sourceline,
                    f"{_describe(node)}: the id '{node.get('id')}' is reserved by SpiffWorkflow for its own "
                    "start and end tasks (the diagram would lose its flow): rename it",
                )
            )
        elif tag == "startEvent" and _code_start(node) and not _in_event_subprocess(node):
            problems.append(
                Problem(
                    filename,
                    node.sourceline,
                    f"{_describe(node)}: {_code_start(node)} start events are allowed only in event subprocesses "
                    '(a subProcess with triggeredByEvent="true")',
                )
            )
        elif tag == "subProcess" and node.get("triggeredByEvent") == "true" and not node.get("id"):
            problems.append(
                Problem(
                    filename, node.sourceline, "an event subprocess has no id: give it one (BPMN requires it)"
                )
            )
        elif tag in ACTIVITY_TAGS and node.get("isForCompensation") == "true":
            problems.append(
                Problem(
                    filename, node.sourceline, f"{_describe(node)}: compensation handlers are not supported"
                )
            )
    return problems


def _code_start(node: etree._Element) -> str | None:
    for child in node:
        if is_bpmn(child, "errorEventDefinition"):
            return "error"
        if is_bpmn(child, "escalationEventDefinition"):
            return "escalation"
    return None


def _in_event_subprocess(node: etree._Element) -> bool:
    parent = node.getparent()
    return parent is not None and is_bpmn(parent, "subProcess") and parent.get("triggeredByEvent") == "true"


def name_anonymous_flows(tree: etree._ElementTree) -> int:
    """Give id-less sequence flows a stable id, in place.

    SpiffWorkflow indexes flows by id and silently drops the others, so such a file would "complete"
    after a step or two. With an id they run as drawn.
    """
    taken = {n.get("id") for n in tree.iter() if isinstance(n.tag, str) and n.get("id")}
    count = 0
    for flow in tree.getroot().iterfind(".//bpmn:sequenceFlow", NS):
        if flow.get("id"):
            continue
        count += 1
        candidate = f"handoff_flow_{count}"
        while candidate in taken:
            count += 1
            candidate = f"handoff_flow_{count}"
        taken.add(candidate)
        flow.set("id", candidate)
    return count


def dangling_flows(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Sequence flows whose source or target is not an element of the same process."""
    problems: list[Problem] = []
    for container in tree.getroot().iter():
        if not is_bpmn(container, "process", *CONTAINER_TAGS):
            continue
        ids = {n.get("id") for n in container if isinstance(n.tag, str) and n.get("id")}
        for flow in container.iterfind("bpmn:sequenceFlow", NS):
            for attr in ("sourceRef", "targetRef"):
                ref = flow.get(attr)
                if not ref:
                    problems.append(
                        Problem(filename, flow.sourceline, f"sequenceFlow '{flow.get('id')}' has no {attr}")
                    )
                elif ref not in ids:
                    problems.append(
                        Problem(
                            filename,
                            flow.sourceline,
                            f"sequenceFlow '{flow.get('id')}' {attr} '{ref}' is not an element of its process",
                        )
                    )
    return problems


def warnings(tree: etree._ElementTree, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    root = tree.getroot()
    pools = pool_names(tree)
    for process in root.iterfind("bpmn:process", NS):
        lanes = direct_lanes(process)
        for lane in process.iter("{{{}}}lane".format(NS["bpmn"])):
            if not (lane.get("name") or "").strip():
                problems.append(
                    Problem(filename, lane.sourceline, f"lane '{lane.get('id')}' has no name", "warning")
                )
        if pools.get(process.get("id", "")):
            continue  # a task outside the lanes belongs to the pool's department (DESIGN §3)
        for task in process.iter("{{{}}}userTask".format(NS["bpmn"])):
            if task.get("id") not in lanes and not _inside_laned_subprocess(task, lanes):
                problems.append(
                    Problem(
                        filename,
                        task.sourceline,
                        f"{_describe(task)} is outside any lane: no department owns it",
                        "warning",
                    )
                )
    for container in root.iter():
        if is_bpmn(container, "process", *CONTAINER_TAGS):
            problems.extend(_unreachable(container, filename))
    return problems


def _inside_laned_subprocess(node: etree._Element, lanes: dict[str, str]) -> bool:
    parent = node.getparent()
    while parent is not None and is_bpmn(parent, *CONTAINER_TAGS):
        if parent.get("id") in lanes:
            return True
        parent = parent.getparent()
    return False


def _unreachable(container: etree._Element, filename: str) -> list[Problem]:
    nodes = {
        n.get("id"): n for n in container if is_bpmn(n) and local(n.tag) in FLOW_NODE_TAGS and n.get("id")
    }
    if not nodes:
        return []
    outgoing: dict[str, list[str]] = defaultdict(list)
    for flow in container.iterfind("bpmn:sequenceFlow", NS):
        src, dst = flow.get("sourceRef"), flow.get("targetRef")
        if src and dst:
            outgoing[src].append(dst)
    boundary: dict[str, list[str]] = defaultdict(list)
    for nid, n in nodes.items():
        if local(n.tag) == "boundaryEvent" and n.get("attachedToRef"):
            boundary[n.get("attachedToRef")].append(nid)
    # Entry points: start events, and event subprocesses (triggered, not reached by a flow).
    seeds = [
        nid for nid, n in nodes.items() if local(n.tag) == "startEvent" or n.get("triggeredByEvent") == "true"
    ]
    if not seeds:
        return []  # the parser reports a missing start event itself
    seen: set[str] = set()
    stack = list(seeds)
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        stack.extend(outgoing.get(nid, ()))
        stack.extend(boundary.get(nid, ()))
    return [
        Problem(filename, n.sourceline, f"{_describe(n)} is unreachable from any start event", "warning")
        for nid, n in nodes.items()
        if nid not in seen
    ]


# what refers -> (its reference attribute, the kind of root element it refers to)
_EVENT_REFERENCES = {
    "messageEventDefinition": ("messageRef", "message"),
    "signalEventDefinition": ("signalRef", "signal"),
    "errorEventDefinition": ("errorRef", "error"),
    "escalationEventDefinition": ("escalationRef", "escalation"),
    "receiveTask": ("messageRef", "message"),
    "sendTask": ("messageRef", "message"),
}


def event_references(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """Events naming a message, signal, error or escalation the file does not define, or a message or
    signal without a name (events are matched by name): SpiffWorkflow's parser fails on them obscurely."""
    root = tree.getroot()
    defined: dict[str, dict[str, etree._Element]] = defaultdict(dict)
    for node in root:
        if is_bpmn(node, "message", "signal", "error", "escalation") and node.get("id"):
            defined[local(node.tag)][node.get("id", "")] = node
    problems: list[Problem] = []
    for node in root.iter():
        if not is_bpmn(node, *_EVENT_REFERENCES):
            continue
        attr, kind = _EVENT_REFERENCES[local(node.tag)]
        ref = node.get(attr)
        if not ref:
            continue
        owner = node if local(node.tag) in ("receiveTask", "sendTask") else node.getparent()
        where = _describe(owner) if owner is not None else local(node.tag)
        target = defined[kind].get(ref)
        if target is None:
            problems.append(
                Problem(filename, node.sourceline, f"{where}: {attr} '{ref}' is not a {kind} of this file")
            )
        elif kind in ("message", "signal") and not (target.get("name") or "").strip():
            problems.append(
                Problem(
                    filename,
                    target.sourceline,
                    f"{kind} '{ref}' (used by {where}) has no name: {kind}s are matched by name",
                )
            )
    return problems


def decision_references(
    tree: etree._ElementTree, filename: str, decisions: set[str | None] | None = None
) -> list[Problem]:
    """Business rule tasks that name no DMN decision (SpiffWorkflow runs them only as decisions), or one
    that none of the given DMN files defines (when `decisions` is given)."""
    problems: list[Problem] = []
    for task in tree.getroot().iter(f"{{{NS['bpmn']}}}businessRuleTask"):
        named = task.get(f"{{{NS['camunda']}}}decisionRef") or next(
            (
                (n.text or "").strip()
                for n in task.iter()
                if isinstance(n.tag, str) and local(n.tag) == "calledDecisionId" and (n.text or "").strip()
            ),
            None,
        )
        if named and decisions is not None and named not in decisions and "${" not in named:
            problems.append(
                Problem(
                    filename,
                    task.sourceline,
                    f"{_describe(task)} names decision '{named}', which none of the DMN files given defines: "
                    "deploy the DMN file with the BPMN (handoff deploy process.bpmn decision.dmn)",
                )
            )
        if not named:
            problems.append(
                Problem(
                    filename,
                    task.sourceline,
                    f"{_describe(task)} names no DMN decision (camunda:decisionRef or "
                    "spiffworkflow:calledDecisionId): business rule tasks run only as DMN decisions",
                )
            )
    return problems

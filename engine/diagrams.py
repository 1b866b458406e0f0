"""Diagrams for the web pages: a deployed version's BPMNDI, and where one instance has been and waits.

The layout comes from the deployed files (bpmn/diagram.py), read once per version: versions never
change. An instance's path is read from its own history (the activities it completed), its open tasks
and waits, and its incident; the gateways and events between them are filled in along the sequence flows,
since the history records activities only (DESIGN §3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from bpmn.diagram import Diagram, diagram_for_process
from bpmn.xml import XmlError
from storage import Database
from storage import repository as repo

from .errors import NotFound

ACTIVITY_KINDS = frozenset({"task", "subprocess", "call"})
ONE_WAY = frozenset({"exclusiveGateway", "eventBasedGateway"})  # send work down one outgoing flow only


def process_diagram(db: Database, process_id: str, version: int | None = None) -> Diagram | None:
    """The layout of a deployed version (the latest without `version`); None when it has no BPMNDI.

    Callers check who may read first: this reads the deployed files only."""
    with db.reader() as session:
        ref = repo.latest_definition_ref(session, process_id, version)
        if ref is None:
            what = f"process '{process_id}'" + (f" version {version}" if version is not None else "")
            raise NotFound(f"{what} is not deployed (see 'handoff processes')")
        definition_id = ref[0]
        cached = _CACHE.get((db.display_url(), definition_id))
        if cached is not None:
            return cached[0]
        files = [(f.name, f.content) for f in repo.definition_files(session, definition_id)]
    try:
        diagram = diagram_for_process(files, process_id)
    except XmlError:  # validated at deploy; a layout never stops a page
        diagram = None
    _remember(db.display_url(), definition_id, diagram)
    return diagram


# (database, definition id) -> (its diagram,): a version's files never change once deployed.
_CACHE: dict[tuple[str, int], tuple[Diagram | None]] = {}
_CACHE_SIZE = 64


def _remember(url: str, definition_id: int, diagram: Diagram | None) -> None:
    if len(_CACHE) >= _CACHE_SIZE:
        _CACHE.pop(next(iter(_CACHE)), None)
    _CACHE[(url, definition_id)] = (diagram,)


@dataclass(frozen=True)
class PathMarks:
    """Element ids of a diagram by what the instance did there: `done` (completed, or passed through),
    `waiting` (open work or a wait for a message), `failed` (the incident's task), and `flows` (the
    sequence flows taken between them)."""

    done: frozenset[str]
    waiting: frozenset[str]
    failed: frozenset[str]
    flows: frozenset[str]


def instance_path(
    diagram: Diagram,
    *,
    completed: Iterable[str],
    waiting: Iterable[str],
    failed: Iterable[str] = (),
    finished: bool = False,
) -> PathMarks:
    """Mark the path of an instance on its diagram.

    `completed` are the activities its history completed, `waiting` the elements where it waits now,
    `failed` the element of its incident; `finished` says it has ended (its end events were reached). A
    gateway or event counts as passed when it lies between marked elements along sequence flows.
    """
    kinds = {s.element: s.kind for s in diagram.shapes}
    types = {s.element: s.type for s in diagram.shapes}
    done, wait, fail = set(completed), set(waiting), set(failed)
    reached = done | wait | fail
    outgoing: dict[str, list[str]] = {}
    incoming: dict[str, list[str]] = {}
    flows = [e for e in diagram.edges if e.kind == "sequenceFlow" and e.source and e.target]
    for edge in flows:
        assert edge.source is not None and edge.target is not None
        outgoing.setdefault(edge.source, []).append(edge.target)
        incoming.setdefault(edge.target, []).append(edge.source)

    def is_link(element: str) -> bool:  # a gateway or event: the history does not record it
        return kinds.get(element) not in ACTIVITY_KINDS

    forward = _spread(done, outgoing, is_link)
    on_path = reached | {n for n in forward & _spread(reached, incoming, is_link) if is_link(n)}

    def came_from_done(element: str, seen: frozenset[str]) -> bool:
        """A path of gateways and events leads from a completed activity to `element`, and no exclusive
        gateway on it sent the work down another branch that was taken."""
        for source in incoming.get(element, ()):
            if source in done:
                return True
            if source in seen or not is_link(source):
                continue
            if types.get(source) in ONE_WAY and any(t != element and t in on_path for t in outgoing[source]):
                continue
            if came_from_done(source, seen | {source}):
                return True
        return False

    ends = {  # where the path ended: right after completed work, or (once finished) along untaken-elsewhere ways
        e
        for e in forward
        if types.get(e) == "endEvent"
        and (set(incoming.get(e, ())) & done or (finished and came_from_done(e, frozenset({e}))))
    }
    backward = _spread(reached | ends, incoming, is_link)
    passed = {n for n in forward & backward if is_link(n)} | ends
    for element in kinds:  # the start event the path began at
        if types.get(element) == "startEvent" and set(outgoing.get(element, ())) & (reached | passed):
            passed.add(element)
    passed -= reached
    left = done | passed  # work moved on from these
    taken = {e.element for e in flows if e.source in left and e.target in (reached | passed)}
    return PathMarks(frozenset(done | passed), frozenset(wait), frozenset(fail), frozenset(taken))


def _spread(start: set[str], edges: Mapping[str, list[str]], through: Callable[[str], bool]) -> set[str]:
    """Elements reached from `start` along `edges`, going on only through gateways and events."""
    seen: set[str] = set()
    todo = list(start)
    while todo:
        element = todo.pop()
        for nxt in edges.get(element, ()):
            if nxt in seen:
                continue
            seen.add(nxt)
            if through(nxt):
                todo.append(nxt)
    return seen


__all__ = ["Diagram", "PathMarks", "instance_path", "process_diagram"]

"""Messages and signals as SpiffWorkflow sees them: what an instance waits for, what it threw, and how an
event from outside is handed to it. Routing between instances is the application's job (DESIGN §4); the
matching itself (names, correlation properties, which task catches) stays SpiffWorkflow's.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from copy import deepcopy
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.specs.event_definitions import MessageEventDefinition as CamundaMessage
from SpiffWorkflow.exceptions import WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from ..views import Wait

MESSAGE = "message"
SIGNAL = "signal"
KINDS = (MESSAGE, SIGNAL)


def kind_of(definition: Any) -> str | None:
    if isinstance(definition, MessageEventDefinition):
        return MESSAGE
    if isinstance(definition, SignalEventDefinition):
        return SIGNAL
    return None


def _definitions(definition: Any) -> Iterator[Any]:
    """An event definition, or each one of a multiple event (event-based gateways, multiple events)."""
    if isinstance(definition, MultipleEventDefinition):
        for item in definition.event_definitions:
            yield from _definitions(item)
    else:
        yield definition


def name_of(definition: Any) -> str:
    """A message's or signal's name; "" for an event definition without one (no messageRef and an
    unnamed element: SpiffWorkflow matches it with other unnamed ones)."""
    return "" if definition.name is None else str(definition.name)


def _element_id(task: Task) -> str:
    return str(getattr(task.task_spec, "bpmn_id", None) or task.task_spec.name)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def correlation_of(definition: Any, correlations: dict[str, dict[str, Any]]) -> str | None:
    """The key a person would type for `definition` given correlation values ({key: {property: value}},
    SpiffWorkflow's shape, as a workflow or an event holds them): the value of its one correlation
    property, a JSON object of them if it has several, None while the values are unknown."""
    values: dict[str, Any] = {}
    for prop in getattr(definition, "correlation_properties", None) or ():
        for key in prop.correlation_keys:
            value = (correlations.get(key) or {}).get(prop.name)
            if value is not None:
                values[prop.name] = value
    if not values:
        return None
    if len(values) == 1:
        return _text(next(iter(values.values())))
    return json.dumps(values, sort_keys=True, default=str)


def waits(workflow: BpmnWorkflow) -> frozenset[Wait]:
    """Every message and signal the instance waits for now: catch events, receive tasks, boundary
    events, event-based gateways, start events of event subprocesses and of the process itself.

    SpiffWorkflow keeps every waiting catch event of an instance (subprocesses included) in its event
    manager, so this is a walk over a handful of tasks, not over the task tree. The event subprocesses
    that a message or signal starts have no task before their event comes: they come from the spec.
    """
    found = set()
    for task in workflow.event_manager.tasks.values():
        for definition in _definitions(task.task_spec.event_definition):
            kind = kind_of(definition)
            if kind is None:
                continue
            correlation = correlation_of(definition, task.workflow.correlations) if kind == MESSAGE else None
            found.add(Wait(kind, name_of(definition), correlation, _element_id(task)))
    for scope, start_event, _subprocess, definition in _triggers(workflow):
        kind = kind_of(definition)
        assert kind is not None
        correlation = correlation_of(definition, scope.correlations) if kind == MESSAGE else None
        found.add(Wait(kind, name_of(definition), correlation, str(start_event.bpmn_id or start_event.name)))
    return frozenset(found)


_WAITS = "_handoff_waits"  # on a workflow object: its waits as last written to the subscription table


def remembered_waits(workflow: BpmnWorkflow) -> frozenset[Wait] | None:
    """What the workflow waited for when the subscription table was last written for it (None: unknown)."""
    return getattr(workflow, _WAITS, None)


def remember_waits(workflow: BpmnWorkflow, waits: frozenset[Wait]) -> None:
    setattr(workflow, _WAITS, waits)


def catching(workflow: BpmnWorkflow, kind: str, name: str) -> tuple[Task, Any] | None:
    """The first waiting task of the instance that waits for message or signal `name`, with its event
    definition (the one inside a multiple event).

    An event subprocess that the event starts gets its task here, as SpiffWorkflow itself makes it
    when it catches the event (`EventManager.update_collaboration`): its start event then waits, and
    the delivery of the event finds and reuses it instead of making another.
    """
    for task in sorted(workflow.event_manager.tasks.values(), key=lambda t: t.last_state_change):
        for definition in _definitions(task.task_spec.event_definition):
            if kind_of(definition) == kind and name_of(definition) == name:
                return task, definition
    for scope, start_event, subprocess, definition in _triggers(workflow):
        if kind_of(definition) == kind and name_of(definition) == name:
            scope.spec.start.trigger_wf(scope.task_tree, subprocess)
            for task in workflow.event_manager.tasks.values():
                if task.task_spec is start_event and task.state == TaskState.WAITING:
                    return task, definition
    return None


def _triggers(workflow: BpmnWorkflow) -> Iterator[tuple[BpmnWorkflow, Any, str, Any]]:
    """(scope, start event spec, event subprocess name, message or signal definition) of each event
    subprocess that a message or signal starts, of the process and of its running subprocesses (each
    such subprocess is the scope), while the scope's own flow runs.

    SpiffWorkflow 3.2 makes such an event subprocess only when its event comes (and from outside, only
    the process's own), so no task of it waits before. Once the scope's own flow is over (finished, or
    interrupted by an event subprocess) it starts no more of them, as BPMN says: their scope is gone.
    """
    for scope in (workflow, *workflow.subprocesses.values()):
        names = getattr(scope.spec.start, "trigger_specs", None)
        if not names or scope.is_completed() or not _own_flow_runs(scope):
            continue
        for subprocess in names:
            spec = workflow.subprocess_specs.get(subprocess)
            for start_event in getattr(spec, "bpmn_start_events", None) or ():
                for definition in _definitions(start_event.event_definition):
                    if kind_of(definition) is not None:
                        yield scope, start_event, subprocess, definition


def _own_flow_runs(workflow: BpmnWorkflow) -> bool:
    """Whether a task of the process's own flow (not of an event subprocess, not the end join that waits
    for them) is unfinished. Only unfinished tasks are followed up the tree: a handful, whatever the
    history."""
    root, end_join = workflow.task_tree, workflow.spec.end.name  # by name, as event_subprocesses does
    for task in workflow.tasks.values():
        if not task.state & TaskState.NOT_FINISHED_MASK:
            continue
        node = task
        while node is not root and node is not None:
            if node.task_spec.name == end_join:
                break
            if node.parent is root and isinstance(node.task_spec, SubWorkflowTask):
                break  # an event subprocess: the start task's children besides the process's start
            node = node.parent
        else:
            return True
    return False


def start_events(spec: Any) -> list[tuple[str, str, str]]:
    """(kind, name, element id) of each message or signal start event of a process (not of its event
    subprocesses: their start events wait inside a running instance)."""
    found = []
    for task_spec in spec.task_specs.values():
        if isinstance(task_spec, StartEvent):
            for definition in _definitions(task_spec.event_definition):
                kind = kind_of(definition)
                if kind is not None:
                    found.append((kind, name_of(definition), str(task_spec.bpmn_id or task_spec.name)))
    return found


def from_outside(task: Task, definition: Any, data: dict[str, Any], key: str | None) -> BpmnEvent:
    """The event a message or signal sent by a person or program becomes, for the instance of `task`.

    The instance was chosen by Handoff's subscription index (by key, business key or id), so the event
    carries the instance's own correlation values and SpiffWorkflow accepts it. SpiffWorkflow then reads
    the correlation properties from the payload: a property read by a plain variable name and missing
    from the data gets the instance's value, else the key given.
    """
    payload: dict[str, Any] = dict(data)
    correlations = deepcopy(task.workflow.correlations)
    if isinstance(definition, MessageEventDefinition):
        for prop in definition.correlation_properties:
            expression = (prop.retrieval_expression or "").strip()
            if not expression.isidentifier() or expression in payload:
                continue
            known = [
                (correlations.get(k) or {}).get(prop.name)
                for k in prop.correlation_keys
                if (correlations.get(k) or {}).get(prop.name) is not None
            ]
            if known:
                payload[expression] = known[0]
            elif key is not None:
                payload[expression] = key
        if isinstance(definition, CamundaMessage):
            # SpiffWorkflow's Camunda messages carry {payload, result_var}: the data lands in the
            # catching task's variable `<element>_Response`.
            return BpmnEvent(
                definition, payload={"payload": payload, "result_var": None}, correlations=correlations
            )
    return BpmnEvent(definition, payload=payload, correlations=correlations)


def deliver(workflow: BpmnWorkflow, event: BpmnEvent) -> bool:
    """Hand `event` to the instance; False when no task of it catches the event (SpiffWorkflow decides:
    names, correlation). Exceptions from the catch (a correlation expression that fails) propagate."""
    try:
        workflow.send_event(event)
    except WorkflowException as exc:
        if "is not waiting for" in str(exc):
            return False
        raise
    return True


# --- what an instance threw -----------------------------------------------------------------------------

_THROWN = "_handoff_thrown"


def watch(workflow: BpmnWorkflow) -> None:
    """Note every signal the instance throws, also those it catches itself: a signal is a broadcast,
    while SpiffWorkflow's `get_events()` keeps only what no task of the instance caught."""
    if hasattr(workflow, _THROWN):
        return
    thrown: list[BpmnEvent] = []
    catch = workflow.catch

    def noting(event: BpmnEvent) -> None:
        if any(kind_of(d) == SIGNAL for d in _definitions(event.event_definition)):
            thrown.append(event)
        catch(event)

    setattr(workflow, _THROWN, thrown)
    workflow.catch = noting  # type: ignore[method-assign]


def outgoing(workflow: BpmnWorkflow) -> list[BpmnEvent]:
    """What the instance sent out since the last call, in order: messages no task of its own caught
    (SpiffWorkflow's `get_events()`, which also empties its list before the state is saved) and every
    signal it threw. Errors and escalations nobody caught end there, as in SpiffWorkflow."""
    unhandled = workflow.get_events()
    thrown: list[BpmnEvent] = getattr(workflow, _THROWN, [])
    signals = list(thrown)
    thrown.clear()
    messages = [e for e in unhandled if kind_of(e.event_definition) == MESSAGE]
    return messages + signals


def describe(event: BpmnEvent) -> tuple[str, str]:
    """(kind, name) of a thrown message or signal."""
    for definition in _definitions(event.event_definition):
        kind = kind_of(definition)
        if kind is not None:
            return kind, name_of(definition)
    return "event", str(getattr(event.event_definition, "name", "") or "")


def payload_data(event: BpmnEvent) -> Any:
    """The payload as the history shows it (Camunda messages wrap it)."""
    payload = event.payload
    if (
        isinstance(event.event_definition, CamundaMessage)
        and isinstance(payload, dict)
        and "payload" in payload
    ):
        return payload["payload"]
    return payload


def arm_start_events(workflow: BpmnWorkflow) -> None:
    """Bring a new instance to its start events without running anything else: SpiffWorkflow's internal
    start task runs, so that a message or signal start event waits and can catch what started it."""
    from SpiffWorkflow.bpmn.specs.control import BpmnStartTask
    from SpiffWorkflow.util.task import TaskState

    for task in workflow.get_tasks(state=TaskState.READY):
        if isinstance(task.task_spec, BpmnStartTask):
            task.run()


def copy(event: BpmnEvent) -> BpmnEvent:
    """The event for one more receiver: SpiffWorkflow keeps (and some dialects change) the payload it
    is given, so each receiver gets its own."""
    return BpmnEvent(event.event_definition, deepcopy(event.payload), deepcopy(event.correlations))

"""Timers as SpiffWorkflow keeps them: what fired, when the next one is due, timer start events."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .engine_clock import clock_at

_TIMER_TYPES = (spiff_timer.TimerEventDefinition,)


def is_timer(task: Task) -> bool:
    """A timer event (start, intermediate or boundary) whose task completed: a timer that fired."""
    return isinstance(getattr(task.task_spec, "event_definition", None), _TIMER_TYPES)


def timer_details(task: Task) -> dict[str, Any]:
    definition = task.task_spec.event_definition
    due = task._get_internal_data("event_value")
    return {"timer": definition.expression, "due": due if isinstance(due, str) else None}


@dataclass(frozen=True)
class TimerStart:
    """A timer start event of a process: `expression` is the evaluated ISO 8601 text (date, duration or
    cycle); `kind` is date, duration or cycle."""

    element_id: str
    kind: str
    expression: str


_START_TIMER_KINDS = {
    "TimeDateEventDefinition": "date",
    "DurationTimerEventDefinition": "duration",
    "CycleTimerEventDefinition": "cycle",
}


def timer_starts(spec: dict[str, Any]) -> list[TimerStart]:
    """The timer start events of a serialized process spec (its own start events, not subprocesses').

    The expression is Python in SpiffWorkflow (`"PT1H"`, quoted); a timer start cannot depend on
    instance data, so it must be a literal. Raises ValueError naming the element otherwise.
    """
    import ast

    found = []
    for name, task_spec in spec["spec"]["task_specs"].items():
        definition = task_spec.get("event_definition") or {}
        kind = _START_TIMER_KINDS.get(definition.get("typename", ""))
        if task_spec.get("typename") != "StartEvent" or kind is None:
            continue
        raw = str(definition.get("expression") or "").strip()
        try:
            text = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            text = raw  # a bare ISO 8601 literal, as Camunda writes it
        if not isinstance(text, str) or not text:
            raise ValueError(f"timer start event '{name}': its expression {raw!r} is not an ISO 8601 literal")
        try:
            first_due(kind, text, datetime.now(UTC))
        except Exception as exc:  # SpiffWorkflow's parsers raise bare Exceptions
            raise ValueError(
                f"timer start event '{name}': {text!r} is not a valid ISO 8601 {kind} ({exc})"
            ) from None
        found.append(TimerStart(name, kind, text))
    return found


def first_due(kind: str, expression: str, now: datetime) -> datetime:
    """When a timer start event first fires, counted from `now` (its deployment)."""
    parse = spiff_timer.TimerEventDefinition
    if kind == "date":
        due: datetime = parse.get_datetime(expression)
        return due
    if kind == "duration":
        return now + parse.get_timedelta_from_start(parse.parse_iso_duration(expression), now)
    with clock_at(now):
        _cycles, start, _duration = parse.parse_iso_recurring_interval(expression)
    return start  # type: ignore[no-any-return]


def next_due_after(kind: str, expression: str, due: datetime, fired: int) -> datetime | None:
    """When a timer start event fires again after its firing number `fired` (1-based) at `due`."""
    if kind != "cycle":
        return None
    with clock_at(due):
        cycles, _start, duration = spiff_timer.TimerEventDefinition.parse_iso_recurring_interval(expression)
    if cycles != -1 and fired >= cycles:
        return None
    return due + duration  # type: ignore[no-any-return]


def fire_start_timer(workflow: BpmnWorkflow, element_id: str) -> None:
    """Let a new instance pass its timer start event now: the schedule, not the instance, kept the time.

    A cycle start event would repeat inside the one instance (SpiffWorkflow's reading); in BPMN each
    cycle starts a new instance, so the instance gets a cycle of one that is already due.
    """
    for task in workflow.get_tasks(spec_name=element_id):
        definition = task.task_spec.event_definition
        if isinstance(definition, spiff_timer.CycleTimerEventDefinition):
            past = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
            task._set_internal_data(event_value={"cycles": 1, "next": past, "duration": 0.0})
        else:
            task._set_internal_data(event_fired=True)


def is_cycle(task: Task) -> bool:
    return isinstance(
        getattr(task.task_spec, "event_definition", None), spiff_timer.CycleTimerEventDefinition
    )


def fire_due_timers(workflow: BpmnWorkflow, limit: int = 1000) -> list[dict[str, Any]]:
    """Let timers that are due at the engine's now become ready; `run_engine` then runs them on.

    A cycle timer does not complete when it fires (it spawns a path and waits for its next time), so
    its firings are returned here, one `timer_details`-like dict each, with the element id: several
    when a worker was down for several of its periods (each one fires, in order, none skipped).
    """
    fired: list[dict[str, Any]] = []
    for _ in range(limit):
        before = {
            task.id: dict(value)
            for task in workflow.get_tasks(state=TaskState.WAITING)
            if is_cycle(task) and isinstance(value := task._get_internal_data("event_value"), dict)
        }
        workflow.refresh_timers()
        more = False
        for task_id, value in before.items():
            task = workflow.get_task_from_id(task_id)
            after = task._get_internal_data("event_value")
            if value["cycles"] != 0 and (after is None or after["cycles"] != value["cycles"]):
                fired.append(
                    {
                        "element": task.task_spec.bpmn_id,
                        "timer": task.task_spec.event_definition.expression,
                        "due": value["next"],
                        "task": task,
                    }
                )
                more = more or (after is not None and after["cycles"] != 0)
        if not more:
            break
    return fired


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    due: list[datetime] = []
    for pending in workflow.waiting_events():
        value = getattr(pending, "value", None)
        if getattr(pending, "event_type", "") in (
            "TimerEventDefinition",
            "DurationTimerEventDefinition",
            "TimeDateEventDefinition",
            "CycleTimerEventDefinition",
        ) and isinstance(value, str):
            try:
                due.append(datetime.fromisoformat(value))
            except ValueError:
                continue
    for task in workflow.event_manager.tasks.values():
        # An event-based gateway with a timer (a multiple event): SpiffWorkflow keeps the timer's due time
        # on the gateway's task, while its pending event shows none.
        definition = task.task_spec.event_definition
        if isinstance(definition, MultipleEventDefinition) and any(
            isinstance(d, spiff_timer.TimerEventDefinition) for d in definition.event_definitions
        ):
            value = task._get_internal_data("event_value")
            value = value.get("next") if isinstance(value, dict) else value
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    due.append(datetime.fromisoformat(value))
    return min(due) if due else None

"""The built-in record hooks: history, handoffs, boundary crossings and delays (DESIGN §3).

Registered like anyone's hooks (engine/hooks/manager.py); they see Handoff's lifecycle events only and write
through the unit of work they are given, in the transaction of the state change.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bpmn.durations import parse_duration

from ..lazy_modules import lazy_module
from ..lifecycle import LifecycleEvent
from .specs import CompletedStep, RecordContext, hookimpl

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bpmn import ProcessModel
    from storage import models
    from storage import repository as repo
else:  # loaded on first use: a read command never runs this module's writes (issue 17)
    repo = lazy_module("storage.repository")
    models = lazy_module("storage.models")

MAX_TRAIL = 100_000  # a causal path longer than this is a corrupt history, not a process


class HistoryRecorder:
    """Writes every event as an append-only history row, first of all hooks (the others link to ids)."""

    @hookimpl(tryfirst=True)
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        ids = repo.add_events_returning_ids(context.session, [e.row() for e in events])
        for event, event_id in zip(events, ids, strict=True):
            event.id = event_id


class HandoffRecorder:
    """Work passing from one person to another: a human task and its human predecessor, other actors."""

    kinds = frozenset({"task_completed"})

    @hookimpl
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        rows = []
        for event in events:
            if event.kind != "task_completed" or not event.is_human or event.actor is None:
                continue
            before = self._human_predecessor(context, event)
            if before is None or before.actor is None or before.actor == event.actor:
                continue
            claimed = (event.data or {}).get("claimed_at")
            to_at = datetime.fromisoformat(claimed) if claimed else event.at
            rows.append(
                {
                    "instance_id": event.instance_id,
                    "process_id": event.process_id,
                    "from_event_id": before.id,
                    "to_event_id": event.id,
                    "from_task_id": None,
                    "to_task_id": event.task_id,
                    "from_element": before.element_id,
                    "from_name": before.element_name,
                    "to_element": event.element_id,
                    "to_name": event.element_name,
                    "from_actor": before.actor,
                    "to_actor": event.actor,
                    "from_lane": before.lane,
                    "to_lane": event.lane,
                    "from_at": before.at,
                    "to_at": to_at,
                    "latency_seconds": (to_at - before.at).total_seconds(),
                }
            )
        repo.add_rows(context.session, models.HandoffRecord, rows)

    @staticmethod
    def _human_predecessor(context: RecordContext, event: LifecycleEvent) -> CompletedStep | None:
        token = event.cause
        for _ in range(MAX_TRAIL):
            step = context.completed(event.instance_id, token)
            if step is None:
                return None
            if step.is_human:
                return step
            token = step.cause
        return None


class CrossingRecorder:
    """An activity whose lane differs from its causal predecessor's; ping-pong when it goes straight back."""

    kinds = frozenset({"task_ready", "task_completed"})  # the events that open an activity

    @hookimpl
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        rows = []
        for event in events:
            if not event.opens or event.cause is None or event.lane is None:
                continue
            before = context.completed(event.instance_id, event.cause)
            if before is None or before.lane is None or before.lane == event.lane:
                continue
            rows.append(
                {
                    "instance_id": event.instance_id,
                    "process_id": event.process_id,
                    "from_event_id": before.id,
                    "to_event_id": event.id,
                    "from_element": before.element_id,
                    "from_name": before.element_name,
                    "to_element": event.element_id,
                    "to_name": event.element_name,
                    "from_lane": before.lane,
                    "to_lane": event.lane,
                    "at": event.at,
                    "ping_pong": self._entered_from(context, event.instance_id, before) == event.lane,
                }
            )
        repo.add_rows(context.session, models.BoundaryCrossing, rows)

    @staticmethod
    def _entered_from(context: RecordContext, instance_id: int, step: CompletedStep) -> str | None:
        """The lane the causal path came from when it entered `step`'s lane."""
        lane = step.lane
        for _ in range(MAX_TRAIL):
            before = context.completed(instance_id, step.cause)
            if before is None:
                return None
            if before.lane != lane:
                return before.lane
            step = before
        return None


def task_threshold(
    model: ProcessModel, element_id: str | None, lane: str | None, settings: dict[tuple[str, str], float]
) -> tuple[float, str] | None:
    """The waiting-time threshold of a human task: BPMN `sla`, else the lane's default, else the global."""
    element = model.elements.get(element_id or "")
    if element is not None and element.properties.get("sla"):
        try:
            return parse_duration(element.properties["sla"]).total_seconds(), "bpmn"
        except ValueError:
            pass
    if lane is not None and ("lane", lane) in settings:
        return settings[("lane", lane)], "lane"
    if ("default", "") in settings:
        return settings[("default", "")], "default"
    return None


def instance_threshold(
    model: ProcessModel, settings: dict[tuple[str, str], float]
) -> tuple[float, str] | None:
    if model.properties.get("sla"):
        try:
            return parse_duration(model.properties["sla"]).total_seconds(), "bpmn"
        except ValueError:
            pass
    if ("default", "") in settings:
        return settings[("default", "")], "default"
    return None


class DelayRecorder:
    """Human tasks that waited, and instances that ran, longer than their threshold: one record each."""

    kinds = frozenset({"task_completed", "instance_completed"})

    @hookimpl
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        candidates: list[dict[str, Any]] = []
        for event in events:
            data = event.data or {}
            if event.kind == "task_completed" and event.is_human and data.get("ready_at"):
                threshold = task_threshold(context.model, event.element_id, event.lane, context.sla())
                if threshold is None:
                    continue
                ready = datetime.fromisoformat(data["ready_at"])
                until = datetime.fromisoformat(data["claimed_at"]) if data.get("claimed_at") else event.at
                candidates.append(
                    delay_row(
                        event.instance_id,
                        event.process_id,
                        "task_wait",
                        event.task_id,
                        event.element_id,
                        event.element_name,
                        event.lane,
                        ready,
                        until,
                        threshold,
                        False,
                        event.at,
                    )
                )
            elif event.kind == "instance_completed" and data.get("started_at"):
                threshold = instance_threshold(context.model, context.sla())
                if threshold is None:
                    continue
                started = datetime.fromisoformat(data["started_at"])
                candidates.append(
                    delay_row(
                        event.instance_id,
                        event.process_id,
                        "cycle_time",
                        None,
                        None,
                        None,
                        None,
                        started,
                        event.at,
                        threshold,
                        False,
                        event.at,
                    )
                )
        add_delays(context.session, candidates)


def delay_row(
    instance_id: int,
    process_id: str,
    kind: str,
    task_id: int | None,
    element: str | None,
    name: str | None,
    lane: str | None,
    started: datetime,
    until: datetime,
    threshold: tuple[float, str],
    still_open: bool,
    detected_at: datetime,
) -> dict[str, Any]:
    waited = (until - started).total_seconds()
    return {
        "subject": f"task:{task_id}" if task_id is not None else f"instance:{instance_id}",
        "instance_id": instance_id,
        "process_id": process_id,
        "kind": kind,
        "task_id": task_id,
        "element": element,
        "name": name,
        "lane": lane,
        "started_at": started,
        "waited_seconds": waited,
        "threshold_seconds": threshold[0],
        "threshold_source": threshold[1],
        "still_open": still_open,
        "detected_at": detected_at,
    }


def add_delays(session: Session, candidates: list[dict[str, Any]]) -> int:
    """Store the candidates that exceed their threshold and have no record yet; returns how many."""
    return len(store_delays(session, candidates))


def store_delays(session: Session, candidates: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Store the candidates that exceed their threshold and have no record yet; returns them."""
    over = [c for c in candidates if c["waited_seconds"] > c["threshold_seconds"]]
    known = repo.delay_subjects(session, [c["subject"] for c in over])
    fresh = [c for c in over if c["subject"] not in known]
    repo.add_rows(session, models.Delay, fresh)
    return fresh


BUILT_IN: list[tuple[str, object]] = [
    ("handoff.history", HistoryRecorder()),
    ("handoff.handoffs", HandoffRecorder()),
    ("handoff.crossings", CrossingRecorder()),
    ("handoff.delays", DelayRecorder()),
]

"""History: an instance's timeline with its handoffs, crossings and delays; the hook records; SLA settings;
and detecting overdue work (the worker's pass)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bpmn import ProcessModel
from bpmn.durations import parse_duration
from storage import repository as repo
from storage.models import BoundaryCrossing, Delay, HandoffRecord, SlaSetting

from .errors import InvalidInput
from .hooks.recorders import delay_row, instance_threshold, store_delays, task_threshold
from .input_limits import whole
from .instance_reads import show
from .kernel.app import App
from .kernel.definitions import Definitions
from .kernel.units import Units
from .views import CrossingView, DelayView, HandoffView, HistoryEntry, InstanceHistory, SlaView


def instance_history(app: App, instance_id: int, *, actor: str | None = None) -> InstanceHistory:
    """The timeline of an instance, each event with the wait, handoff, crossing or delay it marks."""
    app.permissions.authorize(actor, "history")
    view = show(app, instance_id, actor=actor)
    handoff_list = handoffs(app, instance_id=instance_id, actor=actor)
    crossing_list = crossings(app, instance_id=instance_id, actor=actor)
    delay_list = delays(app, instance_id=instance_id, actor=actor)
    by_event_h = {h.to_event: h for h in handoff_list}
    by_event_c = {c.to_event: c for c in crossing_list}
    late = {d.task: d for d in delay_list if d.task is not None}
    ready_at: dict[int, datetime] = {}
    entries = []
    for e in view.timeline or ():
        waited = None
        if e.kind == "task_ready" and e.task is not None:
            ready_at[e.task] = e.at
        if e.kind in ("task_claimed", "task_completed") and e.task in ready_at:
            waited = (e.at - ready_at.pop(e.task)).total_seconds()
        delay = late.get(e.task) if e.kind == "task_completed" and e.task is not None else None
        entries.append(HistoryEntry(e, waited, by_event_c.get(e.id), by_event_h.get(e.id), delay))
    return InstanceHistory(
        view, tuple(entries), tuple(by_event_h.values()), tuple(by_event_c.values()), tuple(delay_list)
    )


def handoffs(app: App, *, actor: str | None = None, **filters: Any) -> list[HandoffView]:
    """Handoff records; filters: process_id, instance_id, since, until, lanes (either end), limit."""
    return _records(
        app, HandoffRecord, "to_at", ("from_lane", "to_lane"), handoff_view, actor=actor, **filters
    )


def crossings(app: App, *, actor: str | None = None, **filters: Any) -> list[CrossingView]:
    """Boundary crossings; the same filters as `handoffs`."""
    return _records(
        app, BoundaryCrossing, "at", ("from_lane", "to_lane"), crossing_view, actor=actor, **filters
    )


def delays(app: App, *, actor: str | None = None, **filters: Any) -> list[DelayView]:
    """Delay records; the same filters as `handoffs` (lanes: the delayed task's)."""
    return _records(app, Delay, "detected_at", ("lane",), delay_view, actor=actor, **filters)


def _records(
    app: App,
    model: type[Any],
    time_column: str,
    lane_columns: tuple[str, ...],
    view: Callable[[Any], Any],
    *,
    process_id: str | None = None,
    instance_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lanes: Sequence[str] = (),
    limit: int = 1000,
    actor: str | None = None,
) -> list[Any]:
    app.ready()
    app.permissions.authorize(actor, "history")
    whole(limit, "limit")
    if instance_id is not None:
        whole(instance_id, "instance")
    with app.db.reader() as session:
        found = repo.records(
            session,
            model,
            time_column=time_column,
            process_id=process_id,
            instance_id=instance_id,
            since=since,
            until=until,
            lanes=lanes,
            lane_columns=lane_columns,
            limit=limit,
        )
        return [view(r) for r in found]  # inside the session: the rows expire when it ends


def set_sla(app: App, units: Units, duration: str, *, lane: str | None = None, actor: str | None) -> SlaView:
    """Set a lane's default SLA (lane given) or the global default (lane None)."""
    app.ready()
    app.permissions.authorize(actor, "sla")
    seconds = parse_sla(duration)
    scope, key = ("lane", lane) if lane else ("default", "")
    with units.operation() as work:
        repo.set_sla(work.session, scope, key, duration.strip().upper(), seconds, app.clock(), actor)
    app.sla.forget()
    return next(s for s in sla_settings(app, actor=actor) if s.scope == scope and (s.lane or "") == key)


def sla_settings(app: App, *, actor: str | None = None) -> list[SlaView]:
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.reader() as session:
        return [sla_view(r) for r in repo.list_sla(session)]


def parse_sla(duration: str) -> float:
    try:
        seconds = parse_duration(duration).total_seconds()
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if seconds <= 0:
        raise InvalidInput(f"an SLA must be longer than zero, got {duration!r}")
    return seconds


def handoff_view(r: HandoffRecord) -> HandoffView:
    return HandoffView(
        id=r.id, instance=r.instance_id, process=r.process_id, from_element=r.from_element,
        from_name=r.from_name, to_element=r.to_element, to_name=r.to_name, from_actor=r.from_actor,
        to_actor=r.to_actor, from_lane=r.from_lane, to_lane=r.to_lane, from_at=r.from_at, to_at=r.to_at,
        latency_seconds=r.latency_seconds, from_event=r.from_event_id, to_event=r.to_event_id,
    )  # fmt: skip


def crossing_view(r: BoundaryCrossing) -> CrossingView:
    return CrossingView(
        id=r.id, instance=r.instance_id, process=r.process_id, from_element=r.from_element,
        from_name=r.from_name, to_element=r.to_element, to_name=r.to_name, from_lane=r.from_lane,
        to_lane=r.to_lane, at=r.at, ping_pong=r.ping_pong, from_event=r.from_event_id, to_event=r.to_event_id,
    )  # fmt: skip


def delay_view(r: Delay) -> DelayView:
    return DelayView(
        id=r.id, instance=r.instance_id, process=r.process_id, kind=r.kind, task=r.task_id, element=r.element,
        name=r.name, lane=r.lane, started_at=r.started_at, waited_seconds=r.waited_seconds,
        threshold_seconds=r.threshold_seconds, threshold_source=r.threshold_source, still_open=r.still_open,
        detected_at=r.detected_at,
    )  # fmt: skip


def sla_view(r: SlaSetting) -> SlaView:
    return SlaView(
        scope=r.scope,
        lane=r.lane or None,
        duration=r.duration,
        seconds=r.seconds,
        updated_at=r.updated_at,
        updated_by=r.updated_by,
    )


def detect_overdue(session: Session, definitions: Definitions, now: datetime) -> int:
    """Delay records for open human tasks and unfinished instances already past their threshold."""
    return len(overdue_records(session, definitions, now))


def overdue_records(session: Session, definitions: Definitions, now: datetime) -> list[dict[str, Any]]:
    """Delay records for open work already past its threshold, stored now; returns those new ones."""
    settings = repo.sla_settings(session)

    def model(definition_id: int) -> ProcessModel:
        return definitions.get(session, definition_id).model

    candidates = []
    for task, instance in repo.open_tasks_with_instances(session):
        threshold = task_threshold(model(instance.definition_id), task.element_id, task.lane, settings)
        if threshold is None:
            continue
        until = task.claimed_at or now
        candidates.append(
            delay_row(
                instance.id,
                instance.process_id,
                "task_wait",
                task.id,
                task.element_id,
                task.name,
                task.lane,
                task.created_at,
                until,
                threshold,
                task.claimed_at is None,
                now,
            )
        )
    for instance in repo.open_instances(session):
        threshold = instance_threshold(model(instance.definition_id), settings)
        if threshold is None:
            continue
        candidates.append(
            delay_row(
                instance.id,
                instance.process_id,
                "cycle_time",
                None,
                None,
                None,
                None,
                instance.created_at,
                now,
                threshold,
                True,
                now,
            )
        )
    return store_delays(session, candidates)

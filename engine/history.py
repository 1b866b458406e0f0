"""Reading the hook records (handoffs, crossings, delays), SLA settings, and detecting overdue work."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bpmn import ProcessModel
from bpmn.durations import parse_duration
from storage import repository as repo
from storage.models import BoundaryCrossing, Delay, HandoffRecord, SlaSetting

from .errors import InvalidInput
from .recorders import add_delays, delay_row, instance_threshold, task_threshold
from .runtime import DefinitionCache
from .views import CrossingView, DelayView, HandoffView, SlaView


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


def detect_overdue(session: Session, definitions: DefinitionCache, now: datetime) -> int:
    """Delay records for open human tasks and unfinished instances already past their threshold."""
    settings = repo.sla_settings(session)

    def model(definition_id: int) -> ProcessModel:
        return definitions.get(definition_id, lambda: repo.definition_fields(session, definition_id)).model

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
    return add_delays(session, candidates)

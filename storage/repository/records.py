"""Hook records (handoffs, crossings, delays) and SLA settings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, or_, select
from sqlalchemy.orm import Session

from ..models import Delay, SlaSetting
from ..reads import sla_settings as sla_settings  # one read for both (storage/reads.py)
from .buffer import buffer_of, insert_rows


def add_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert hook records: one prepared executemany per distinct set of columns."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    buffer = buffer_of(session)
    if buffer is not None:
        buffer.records.setdefault(table.name, []).extend(rows)
        if table.name == "delay":
            buffer.delay_subjects.update(r["subject"] for r in rows)
        buffer.grown(session, len(rows))
        return
    insert_rows(session, table, rows)


def delay_subjects(session: Session, subjects: Sequence[str]) -> set[str]:
    if not subjects:
        return set()
    buffer = buffer_of(session)
    if buffer is None:
        return set(session.scalars(select(Delay.subject).where(Delay.subject.in_(list(subjects)))))
    held = {s for s in subjects if s in buffer.delay_subjects}
    stored = [s for s in subjects if s not in buffer.born_subjects]
    if stored:
        held |= set(session.scalars(select(Delay.subject).where(Delay.subject.in_(stored))))
    return held


def set_sla(
    session: Session, scope: str, lane: str, duration: str, seconds: float, at: datetime, by: str | None
) -> None:
    row = session.scalars(
        select(SlaSetting).where(SlaSetting.scope == scope, SlaSetting.lane == lane)
    ).first()
    if row is None:
        session.add(
            SlaSetting(
                scope=scope, lane=lane, duration=duration, seconds=seconds, updated_at=at, updated_by=by
            )
        )
    else:
        row.duration, row.seconds, row.updated_at, row.updated_by = duration, seconds, at, by


def list_sla(session: Session) -> list[Any]:
    return list(session.scalars(select(SlaSetting).order_by(SlaSetting.scope, SlaSetting.lane)))


def records(
    session: Session,
    model: type[Any],
    *,
    time_column: str,
    process_id: str | None = None,
    instance_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lanes: Sequence[str] = (),
    lane_columns: Sequence[str] = (),
    limit: int = 1000,
) -> list[Any]:
    """Hook records (handoffs, crossings, delays) filtered the way the CLI offers."""
    query = select(model)
    column = getattr(model, time_column)
    if process_id:
        query = query.where(model.process_id == process_id)
    if instance_id is not None:
        query = query.where(model.instance_id == instance_id)
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    if lanes and lane_columns:
        query = query.where(or_(*(getattr(model, c).in_(list(lanes)) for c in lane_columns)))
    return list(session.scalars(query.order_by(column, model.id).limit(limit)))

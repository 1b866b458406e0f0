"""Due work and the leases workers hold on it (DESIGN §6): the database is the coordinator.

A worker claims due rows with `SELECT ... FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite has one writer
at a time anyway) and stamps them with its name and a lease expiry, in one short transaction. Another
worker skips rows under a live lease and takes over rows whose lease has expired (a dead worker). The
lease only spreads the work: that a timer fires once is guaranteed by the instance's version counter,
which makes the second of two racing writers fail and roll back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from .models import ProcessInstance, TimerSchedule

# Instances whose due time means work: timers of running/waiting ones, automatic retries of failed ones.
DUE_STATUSES = ("running", "waiting", "error")


def _claim(
    session: Session,
    model: Any,
    conditions: Sequence[Any],
    now: datetime,
    owner: str,
    until: datetime,
    limit: int,
    exclude: Collection[int] = (),
) -> list[int]:
    free = or_(model.lease_expires_at.is_(None), model.lease_expires_at < now)
    if exclude:  # what this worker already did in this pass: still due, but not again before the next
        conditions = [*conditions, model.id.not_in(list(exclude))]
    query = (
        select(model.id)
        .where(*conditions, model.next_due_at <= now, free)
        .order_by(model.next_due_at, model.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(query))
    if ids:
        session.execute(
            update(model)
            .where(model.id.in_(ids))
            .values(lease_owner=owner, lease_expires_at=until)
            .execution_options(synchronize_session=False)
        )
    return ids


def claim_due_instances(
    session: Session, now: datetime, owner: str, until: datetime, limit: int, exclude: Collection[int] = ()
) -> list[int]:
    """Lease up to `limit` instances with work due by `now`, oldest due first; returns their ids.

    An index range scan on (status, next_due_at); the lease update does not touch the version counter,
    so claiming never conflicts with an operator completing a task of the same instance.
    """
    return _claim(
        session,
        ProcessInstance,
        [ProcessInstance.status.in_(DUE_STATUSES)],
        now,
        owner,
        until,
        limit,
        exclude,
    )


def claim_due_schedules(
    session: Session, now: datetime, owner: str, until: datetime, limit: int, exclude: Collection[int] = ()
) -> list[int]:
    """Lease up to `limit` timer start schedules that are due by `now`."""
    return _claim(
        session, TimerSchedule, [TimerSchedule.next_due_at.is_not(None)], now, owner, until, limit, exclude
    )


def release(session: Session, model: Any, ids: Sequence[int], owner: str) -> None:
    """Give back leases still held by `owner` (a lease another worker has taken over stays theirs)."""
    if ids:
        session.execute(
            update(model)
            .where(model.id.in_(list(ids)), model.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )


def release_instances(session: Session, ids: Sequence[int], owner: str) -> None:
    release(session, ProcessInstance, ids, owner)


def release_schedules(session: Session, ids: Sequence[int], owner: str) -> None:
    release(session, TimerSchedule, ids, owner)


def next_due(session: Session) -> datetime | None:
    """The earliest due time of any work (instances or schedules), leased or not: for sleeping well."""
    first = session.scalar(
        select(ProcessInstance.next_due_at)
        .where(ProcessInstance.status.in_(DUE_STATUSES), ProcessInstance.next_due_at.is_not(None))
        .order_by(ProcessInstance.next_due_at)
        .limit(1)
    )
    schedule = session.scalar(
        select(TimerSchedule.next_due_at)
        .where(TimerSchedule.next_due_at.is_not(None))
        .order_by(TimerSchedule.next_due_at)
        .limit(1)
    )
    candidates = [d for d in (first, schedule) if d is not None]
    return min(candidates) if candidates else None


def status_of(session: Session, instance_id: int) -> str | None:
    return session.scalar(select(ProcessInstance.status).where(ProcessInstance.id == instance_id))


# --- timer start schedules ---------------------------------------------------------------------------


def schedules_of(session: Session, process_id: str) -> dict[str, TimerSchedule]:
    rows = session.scalars(select(TimerSchedule).where(TimerSchedule.process_id == process_id))
    return {row.element_id: row for row in rows}


def get_schedule(session: Session, schedule_id: int) -> TimerSchedule | None:
    return session.get(TimerSchedule, schedule_id)


def advance_schedule_if(
    session: Session, schedule: TimerSchedule, due: datetime, next_due_at: datetime | None
) -> bool:
    """Move a schedule past the firing at `due`, only if nobody fired it meanwhile (compare-and-set)."""
    result = session.execute(
        update(TimerSchedule)
        .where(
            TimerSchedule.id == schedule.id,
            TimerSchedule.next_due_at == due,
            TimerSchedule.fired == schedule.fired,
        )
        .values(next_due_at=next_due_at, fired=schedule.fired + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]

"""What waiting instances wait for (messages by name and correlation key, signals by name), and the
deployments they came with: the lookups that deliver a message or a signal without loading workflows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, delete, func, insert, or_, select
from sqlalchemy.orm import Session

from .models import EventStart, ProcessDefinition, ProcessInstance, Subscription
from .reads import RECEIVING as RECEIVING  # where storage/reads.py reads it too
from .repository import buffer_of, flush_writes

# Only these receive messages and signals: an instance in error keeps its incident until it is retried,
# a suspended one waits for `resume`.

_SUBSCRIPTION = cast(Table, Subscription.__table__)


@dataclass(frozen=True)
class Waiting:
    """A subscription of a receiving instance, with what correlation by business key needs."""

    instance_id: int
    process_id: str
    business_key: str | None
    kind: str
    name: str
    correlation: str | None
    element_id: str | None


def replace(
    session: Session,
    instance_id: int,
    rows: Iterable[tuple[str, str, str | None, str | None]],
    at: datetime,
    *,
    had_rows: bool,
) -> None:
    """Make (kind, name, correlation, element id) `rows` the instance's subscriptions.

    `had_rows` False skips the DELETE (a new instance, or one that waited for nothing). Inside a batch
    the instance row itself may still be held back by the write buffer: it is written first, so that
    the foreign key holds and lookups later in the same transaction see these rows.
    """
    if had_rows:
        session.execute(delete(Subscription).where(Subscription.instance_id == instance_id))
    values = [
        {
            "instance_id": instance_id,
            "kind": k,
            "name": n,
            "correlation": c,
            "element_id": e,
            "created_at": at,
        }
        for k, n, c, e in rows
    ]
    if not values:
        return
    buffer = buffer_of(session)
    if buffer is not None and buffer.instances:
        flush_writes(session, stop=False)
    session.execute(insert(_SUBSCRIPTION), values)


def waiting(
    session: Session,
    kind: str,
    name: str,
    *,
    key: str | None = None,
    correlation: str | None = None,
    by_correlation: bool = False,
    processes: Sequence[str] | None = None,
    instance_id: int | None = None,
    exclude: int | None = None,
) -> list[Waiting]:
    """Receiving instances subscribed to `kind` `name`, oldest first (an index lookup on kind, name).

    `key`: a correlation key from outside: the subscription's correlation value equals it, or, where
    the instance has none, its business key does. `by_correlation`: the value a thrown message carries
    (`correlation`; None = none): subscriptions with that value or still without one. `processes`
    limits to instances of those processes; `instance_id` to one instance; `exclude` leaves one out.
    """
    query = (
        select(
            Subscription.instance_id,
            ProcessInstance.process_id,
            ProcessInstance.business_key,
            Subscription.kind,
            Subscription.name,
            Subscription.correlation,
            Subscription.element_id,
        )
        .join(ProcessInstance, ProcessInstance.id == Subscription.instance_id)
        .where(
            Subscription.kind == kind,
            Subscription.name == name,
            ProcessInstance.status.in_(RECEIVING),
        )
    )
    if key is not None:
        query = query.where(
            or_(
                Subscription.correlation == key,
                Subscription.correlation.is_(None) & (ProcessInstance.business_key == key),
            )
        )
    if by_correlation:
        query = query.where(
            Subscription.correlation.is_(None)
            if correlation is None
            else or_(Subscription.correlation == correlation, Subscription.correlation.is_(None))
        )
    if processes is not None:
        query = query.where(ProcessInstance.process_id.in_(list(processes)))
    if instance_id is not None:
        query = query.where(Subscription.instance_id == instance_id)
    if exclude is not None:
        query = query.where(Subscription.instance_id != exclude)
    rows = session.execute(query.order_by(Subscription.instance_id, Subscription.id)).all()
    return [Waiting(*row) for row in rows]


def deployed_with(session: Session, definition_id: int) -> list[str]:
    """The other processes deployed together with this process version (the pools of its collaboration,
    the processes of its file): those whose versions carry the same files (checksum)."""
    checksum = (
        select(ProcessDefinition.checksum).where(ProcessDefinition.id == definition_id).scalar_subquery()
    )
    own = select(ProcessDefinition.process_id).where(ProcessDefinition.id == definition_id).scalar_subquery()
    rows = session.scalars(
        select(ProcessDefinition.process_id)
        .where(ProcessDefinition.checksum == checksum, ProcessDefinition.process_id != own)
        .distinct()
        .order_by(ProcessDefinition.process_id)
    )
    return list(rows)


def add_starts(
    session: Session, definition_id: int, process_id: str, rows: Iterable[tuple[str, str, str]]
) -> None:
    """Record the (kind, name, element id) message and signal start events of a new process version."""
    values = [
        {"definition_id": definition_id, "process_id": process_id, "kind": k, "name": n, "element_id": e}
        for k, n, e in rows
    ]
    if values:
        session.execute(insert(cast(Table, EventStart.__table__)), values)


def starts(
    session: Session, kind: str, name: str, processes: Sequence[str] | None = None
) -> list[tuple[str, int]]:
    """(process id, definition id) of the latest version of each process (of `processes`, if given)
    that has a start event for message or signal `name`. An older version's start events start nothing."""
    latest = select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("version"))
    if processes is not None:
        latest = latest.where(ProcessDefinition.process_id.in_(list(processes)))
    sub = latest.group_by(ProcessDefinition.process_id).subquery()
    rows = session.execute(
        select(ProcessDefinition.process_id, ProcessDefinition.id)
        .join(
            sub,
            (sub.c.process_id == ProcessDefinition.process_id) & (sub.c.version == ProcessDefinition.version),
        )
        .where(
            ProcessDefinition.id.in_(
                select(EventStart.definition_id).where(EventStart.kind == kind, EventStart.name == name)
            )
        )
        .order_by(ProcessDefinition.process_id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def remove(session: Session, instance_id: int) -> None:
    """Forget what an instance waited for (it was terminated: nothing may reach it any more)."""
    session.execute(delete(Subscription).where(Subscription.instance_id == instance_id))

"""The event stream behind `handoff export`: history rows in (instance, id) order, never all in memory.

Rows come from a Core select with `yield_per`, which turns on `stream_results`: PostgreSQL reads through
a server-side cursor and SQLite steps its cursor lazily, so memory stays bounded by one batch however
long the history is (DESIGN §5). Formatting (XES, CSV) is the engine's; this module only reads.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Row, Select, Table, func, select
from sqlalchemy.orm import Session

from .models import Event

BATCH = 1000

_EVENT = cast(Table, Event.__table__)
EXPORT_COLUMNS = (
    _EVENT.c.id,
    _EVENT.c.instance_id,
    _EVENT.c.process_id,
    _EVENT.c.version,
    _EVENT.c.element_id,
    _EVENT.c.element_name,
    _EVENT.c.element_type,
    _EVENT.c.lane,
    _EVENT.c.kind,
    _EVENT.c.actor,
    _EVENT.c.at,
    _EVENT.c.token,
)


def _chosen(
    kinds: Sequence[str] | None,
    process_id: str | None,
    since: datetime | None,
    until: datetime | None,
    instances: Select[Any] | None = None,
) -> list[Any]:
    conditions: list[Any] = []
    if instances is not None:
        conditions.append(_EVENT.c.instance_id.in_(instances.scalar_subquery()))
    if kinds is not None:
        conditions.append(_EVENT.c.kind.in_(list(kinds)))
    if process_id:
        conditions.append(_EVENT.c.process_id == process_id)
    if since is not None:
        conditions.append(_EVENT.c.at >= since)
    if until is not None:
        conditions.append(_EVENT.c.at < until)
    return conditions


def count_events(
    session: Session,
    *,
    kinds: Sequence[str] | None = None,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    instances: Select[Any] | None = None,
) -> int:
    """How many events the export query yields (for a progress bar)."""
    chosen = _chosen(kinds, process_id, since, until, instances)
    query = select(func.count()).select_from(_EVENT).where(*chosen)
    return int(session.execute(query).scalar_one())


def event_stream_statement(
    *,
    kinds: Sequence[str] | None = None,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = BATCH,
    instances: Select[Any] | None = None,
) -> Select[Any]:
    """The export query: events of these kinds (all if None), `since <= at < until`, of the instances
    `instances` selects (ids; all if None), by instance then id."""
    query = select(*EXPORT_COLUMNS).where(*_chosen(kinds, process_id, since, until, instances))
    return query.order_by(_EVENT.c.instance_id, _EVENT.c.id).execution_options(
        stream_results=True, yield_per=batch
    )


def stream_events(
    session: Session,
    *,
    kinds: Sequence[str] | None = None,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = BATCH,
    instances: Select[Any] | None = None,
) -> Iterator[Row[Any]]:
    """Yield export rows one at a time (columns: EXPORT_COLUMNS' names), fetched `batch` at a time."""
    statement = event_stream_statement(
        kinds=kinds, process_id=process_id, since=since, until=until, batch=batch, instances=instances
    )
    result = session.execute(statement)
    try:
        yield from result
    finally:
        result.close()


def comments_by_instance(
    session: Session,
    *,
    kind: str,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[int, list[tuple[str | None, str | None, datetime, str]]]:
    """Comments (events of `kind`) of the instances an export covers: instance -> [(activity instance
    token or None for the instance, author, time, text)], oldest first. Held in memory: comments are
    few beside the events they annotate."""
    query = select(
        _EVENT.c.instance_id, _EVENT.c.task_id, _EVENT.c.token, _EVENT.c.actor, _EVENT.c.at, _EVENT.c.data
    )
    query = query.where(_EVENT.c.kind == kind)
    if process_id:
        query = query.where(_EVENT.c.process_id == process_id)
    if since is not None:
        query = query.where(_EVENT.c.at >= since)
    if until is not None:
        query = query.where(_EVENT.c.at < until)
    found: dict[int, list[tuple[str | None, str | None, datetime, str]]] = {}
    for row in session.execute(query.order_by(_EVENT.c.instance_id, _EVENT.c.id)):
        token = row.token if row.task_id is not None else None
        text = str((row.data or {}).get("text", ""))
        found.setdefault(row.instance_id, []).append((token, row.actor, row.at, text))
    return found

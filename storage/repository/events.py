"""The history: event rows, appended in bulk, and the completions that causal predecessors need."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select
from sqlalchemy.orm import Session

from ..driver import driver_execute
from ..models import Event
from . import raw
from .buffer import EVENT, EVENT_COLUMNS, buffer_of
from .prepared import Prepared, connection_of

_INSERT_EVENTS = insert(EVENT)
_INSERT_EVENTS_RETURNING = insert(EVENT).returning(EVENT.c.id, sort_by_parameter_order=True)


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        # Core executemany on the table: one statement whatever the None values (the ORM bulk insert
        # splits the rows into one statement per distinct set of non-None keys).
        session.connection().execute(_INSERT_EVENTS, rows)


def add_events_returning_ids(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert history rows in one statement and return their ids, in the rows' order (a batch's buffer:
    ids reserved now, rows written at its end)."""
    if not rows:
        return []
    buffer = buffer_of(session)
    if buffer is not None:
        ids = buffer.allocate(session, EVENT, len(rows))
        buffer.events += [dict(row, id=event_id) for row, event_id in zip(rows, ids, strict=True)]
        buffer.grown(session, len(rows))
        return ids
    conn = connection_of(session)
    if raw.usable(conn.dialect):
        return _pg_add_events(conn, rows)
    if conn.dialect.name == "postgresql":  # another driver than psycopg: SQLAlchemy's insertmanyvalues
        return list(conn.execute(_INSERT_EVENTS_RETURNING, rows).scalars())
    # SQLite: one multi-row INSERT; writers hold the write lock (BEGIN IMMEDIATE) and rowids of one
    # statement are consecutive, so the last rowid gives them all. The SQL text is built once per row
    # count and the values go through the columns' own bind processors (UTC datetimes, JSON).
    processors = raw.binding(conn.dialect, EVENT, EVENT_COLUMNS)[0]
    params: list[Any] = []
    for row in rows:
        params += raw.bound(row, EVENT_COLUMNS, processors)
    last = driver_execute(conn, _sqlite_event_insert(len(rows)), tuple(params)).lastrowid
    return list(range(last - len(rows) + 1, last + 1))


@cache
def _sqlite_event_insert(n: int) -> str:
    one = "(" + ", ".join("?" * len(EVENT_COLUMNS)) + ")"
    return f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) VALUES " + ", ".join([one] * n)


# At most 1,000 rows a statement: PostgreSQL takes at most 65,535 parameters, 15 a row here.
_PG_CHUNK = 1000


def _pg_add_events(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """PostgreSQL: the rows in one INSERT ... RETURNING id per 1,000, their ids in the rows' order.

    The form of SQLAlchemy's "insertmanyvalues" (INSERT ... SELECT FROM (VALUES ...) ORDER BY the rows'
    counter: the serial's values are taken in that order, so the ids sorted ascending are the rows'),
    with `$n` placeholders on psycopg's RawCursor (storage/repository/raw.py: SQLAlchemy's own
    statement cost ~0.6 ms of psycopg's Python on every start).
    """
    processors, casts = raw.binding(conn.dialect, EVENT, EVENT_COLUMNS)
    ids: list[int] = []
    for start in range(0, len(rows), _PG_CHUNK):
        chunk = rows[start : start + _PG_CHUNK]
        params: list[Any] = []
        for counter, row in enumerate(chunk):
            params += raw.bound(row, EVENT_COLUMNS, processors)
            params.append(counter)
        fetched = raw.fetch(conn, _pg_event_insert(len(chunk), casts), params)
        ids += sorted(row[0] for row in fetched)
    return ids


@lru_cache(maxsize=64)
def _pg_event_insert(n: int, casts: tuple[str, ...]) -> str:
    width = len(casts) + 1  # and the counter
    values = ", ".join(raw.placeholders(i * width + 1, (*casts, "INTEGER")) for i in range(n))
    picked = ", ".join(f"p{j}" for j in range(width - 1))
    return (
        f"INSERT INTO event ({', '.join(EVENT_COLUMNS)}) SELECT {picked} FROM (VALUES {values}) "
        f"AS v({', '.join(f'p{j}' for j in range(width))}) ORDER BY p{width - 1} RETURNING id"
    )


def completed_event(session: Session, instance_id: int, token: str) -> dict[str, Any] | None:
    """The latest `task_completed` event of an activity instance (by its token): the columns of
    `Event` as a dict."""
    return _COMPLETED_EVENT.first(session, {"instance_id": instance_id, "token": token})


_COMPLETED_EVENT = Prepared(
    select(EVENT)
    .where(
        EVENT.c.instance_id == bindparam("instance_id"),
        EVENT.c.token == bindparam("token"),
        EVENT.c.kind == "task_completed",
    )
    .order_by(EVENT.c.id.desc())
    .limit(1)
)


def completion_ranks(session: Session, instance_id: int, tokens: Sequence[str]) -> dict[str, int]:
    """token -> id of its latest `task_completed` event: the order in which activities completed."""
    if not tokens:
        return {}
    rows = session.execute(
        select(Event.token, func.max(Event.id))
        .where(
            Event.instance_id == instance_id, Event.kind == "task_completed", Event.token.in_(list(tokens))
        )
        .group_by(Event.token)
    ).all()
    return {token: int(rank) for token, rank in rows if token is not None}

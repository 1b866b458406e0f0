"""The write-behind of a long batch of operations: rows held back and written by one executemany per table."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select
from sqlalchemy.orm import Session

from ..models import Base, Event, HumanTask, ProcessInstance
from .prepared import Prepared, pg_next_ids

INSTANCE = cast(Table, ProcessInstance.__table__)
TASK = cast(Table, HumanTask.__table__)
EVENT = cast(Table, Event.__table__)
INSTANCE_COLUMNS = tuple(c.key for c in INSTANCE.columns if c.key != "id")
TASK_COLUMNS = tuple(c.key for c in TASK.columns if c.key != "id")
EVENT_COLUMNS = tuple(c.key for c in EVENT.columns if c.key != "id")

_INSERT_INSTANCE_WITH_ID = Prepared(
    insert(INSTANCE).values({c: bindparam(c) for c in ("id", *INSTANCE_COLUMNS)})
)
_INSERT_TASK_WITH_ID = Prepared(insert(TASK).values({c: bindparam(c) for c in ("id", *TASK_COLUMNS)}))
_INSERT_EVENT_WITH_ID = Prepared(insert(EVENT).values({c: bindparam(c) for c in ("id", *EVENT_COLUMNS)}))
_TABLES: dict[str, Table] = {
    cast(Table, m.__table__).name: cast(Table, m.__table__) for m in Base.__subclasses__()
}
_ROW_INSERTS: dict[tuple[str, tuple[str, ...]], Prepared] = {}
_KEY = "handoff_buffer"


class WriteBuffer:
    """Rows held back for one bulk write: the write-behind of a long batch of operations.

    While a session has one (`buffer_writes`), new task rows, history events and hook records get
    their ids at once (SQLite: after the table's largest id, safe under the batch's write lock;
    PostgreSQL: reserved from the table's sequence) and reach the database at `flush_writes`, in
    foreign-key order, one executemany per table. Changes to rows born in the buffer change the
    buffered row. Queries of other code through the session do not see buffered rows.
    """

    FLUSH_AT = 20_000

    def __init__(self) -> None:
        self.next_ids: dict[str, list[int]] = {}
        self.last_ids: dict[str, int] = {}  # SQLite: the largest id handed out per table
        self.instances: dict[int, Any] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.delay_subjects: set[str] = set()
        # "task:ID" / "instance:ID" of rows born in this buffer: no delay record of theirs can be stored
        # yet except in `delay_subjects`, so looking them up needs no query.
        self.born_subjects: set[str] = set()
        self.size = 0

    def allocate(self, session: Session, table: Table, n: int) -> list[int]:
        pool = self.next_ids.setdefault(table.name, [])
        if len(pool) < n:
            conn = session.connection()
            want = max(n - len(pool), 1000)
            if conn.dialect.name == "postgresql":
                pool += pg_next_ids(conn, table.name, want)
            else:
                last = self.last_ids.get(table.name)
                if last is None:
                    last = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
                pool += range(last + 1, last + 1 + want)
                self.last_ids[table.name] = last + want
        taken, self.next_ids[table.name] = pool[:n], pool[n:]
        return taken

    def grown(self, session: Session, n: int) -> None:
        """`n` more rows are held: write them all once the buffer is large."""
        self.size += n
        if self.size >= WriteBuffer.FLUSH_AT:
            flush_writes(session, stop=False)


def buffer_writes(session: Session) -> None:
    """From now on hold this session's new tasks, events and hook records for `flush_writes`."""
    session.info[_KEY] = WriteBuffer()


def buffer_of(session: Session) -> WriteBuffer | None:
    """The session's write buffer, if `buffer_writes` started one."""
    return session.info.get(_KEY)


def flush_writes(session: Session, *, stop: bool = True) -> set[int]:
    """Write what the session's buffer holds (instances, tasks, then events, then hook records);
    returns the ids of the instances it inserted (with the values their objects have now)."""
    buffer = buffer_of(session)
    if buffer is None:
        return set()
    inserted = set(buffer.instances)
    if buffer.instances:
        _INSERT_INSTANCE_WITH_ID.execute_many(
            session,
            [{c: getattr(i, c) for c in ("id", *INSTANCE_COLUMNS)} for i in buffer.instances.values()],
        )
    if buffer.tasks:
        _INSERT_TASK_WITH_ID.execute_many(session, list(buffer.tasks.values()))
    if buffer.events:
        _INSERT_EVENT_WITH_ID.execute_many(session, buffer.events)
    for name, rows in buffer.records.items():
        insert_rows(session, _TABLES[name], rows)
    buffer.instances, buffer.tasks, buffer.events, buffer.records, buffer.size = {}, {}, [], {}, 0
    if stop:
        del session.info[_KEY]
    return inserted


def insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows now: one prepared executemany when they all have the same columns."""
    columns = tuple(rows[0])
    prepared = _ROW_INSERTS.get((table.name, columns))
    if prepared is None:
        statement = insert(table).values({c: bindparam(c) for c in columns})
        prepared = _ROW_INSERTS[(table.name, columns)] = Prepared(statement)
    if all(tuple(r) == columns for r in rows):
        prepared.execute_many(session, rows)
    else:
        session.connection().execute(insert(table), rows)

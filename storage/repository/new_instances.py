"""A new instance's row and its searchable data (the variable table) written together.

On PostgreSQL in one statement: the instance INSERT ... RETURNING id as a data-modifying WITH query
that the variables' INSERT takes its id from (the foreign key is checked at the statement's end, when
both rows are there), on psycopg's RawCursor (storage/repository/raw.py). One round trip and one
statement's Python less on every start (issue 17). SQLite keeps its two statements, which cost no round
trip.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from sqlalchemy import Table
from sqlalchemy.orm import Session

from ..models import ProcessInstance
from ..models_variables import InstanceVariable
from . import raw
from .buffer import INSTANCE, INSTANCE_COLUMNS, buffer_of
from .instances import insert_instance
from .variables import variable_rows, write_variables

_VARIABLE = cast(Table, InstanceVariable.__table__)
_VARIABLE_COLUMNS = ("name", "num_value", "text_value")


def insert_indexed_instance(
    session: Session, instance: ProcessInstance, *, latest: int | None = None
) -> int | None:
    """INSERT a new instance row and its variable rows (from its data); sets and returns its id.

    `latest` (PostgreSQL): the version the caller takes for its process's latest; the rows are
    inserted only if no newer version exists as the statement starts, else nothing is and None is
    returned. Not for a session that buffers its writes (a batch indexes its instances at its end)."""
    if buffer_of(session) is not None:
        raise RuntimeError("a batch inserts its instances with insert_instance and indexes them at its end")
    if not checks_latest(session):
        if latest is not None:
            raise RuntimeError("the latest version is checked on insert on PostgreSQL (psycopg) only")
        insert_instance(session, instance)
        write_variables(session, instance.id, None, instance.data)
        return instance.id
    conn = session.connection()
    instance.version_counter = 1
    rows = variable_rows(0, instance.data)  # instance_id: the statement's own
    processors, casts = raw.binding(conn.dialect, INSTANCE, INSTANCE_COLUMNS)
    params = raw.bound(
        {key: getattr(instance, key) for key in INSTANCE_COLUMNS}, INSTANCE_COLUMNS, processors
    )
    if rows:
        variable_processors, variable_casts = raw.binding(conn.dialect, _VARIABLE, _VARIABLE_COLUMNS)
        for row in rows:
            params += raw.bound(row, _VARIABLE_COLUMNS, variable_processors)
    else:
        variable_casts = ()
    checked = latest is not None
    if checked:
        params += [instance.process_id, latest]
    fetched = raw.fetch(conn, _pg_insert(len(rows), casts, variable_casts, checked), params)
    if not fetched:
        return None  # a version newer than `latest` exists
    instance.id = fetched[0][0]
    return instance.id


def checks_latest(session: Session) -> bool:
    """Whether `insert_indexed_instance` writes in one statement and can check a latest version
    (PostgreSQL through psycopg; SQLite keeps two statements, which cost no round trip)."""
    return raw.usable(session.get_bind().dialect)


@lru_cache(maxsize=64)
def _pg_insert(n: int, casts: tuple[str, ...], variable_casts: tuple[str, ...], checked: bool) -> str:
    row = raw.placeholders(1, casts)
    values = f"VALUES {row}"
    if checked:  # the last two parameters: the process id and the version taken for its latest
        k = len(casts) + n * len(variable_casts) + 1
        values = (
            f"SELECT {row[1:-1]} WHERE NOT EXISTS (SELECT 1 FROM process_definition d "
            f"WHERE d.process_id = ${k}::VARCHAR AND d.version > ${k + 1}::INTEGER)"
        )
    instance = f"INSERT INTO process_instance ({', '.join(INSTANCE_COLUMNS)}) {values} RETURNING id"
    if n == 0:
        return f"{instance}"
    first, width = len(casts) + 1, len(variable_casts)
    values = ", ".join(raw.placeholders(first + i * width, variable_casts) for i in range(n))
    return (
        f"WITH i AS ({instance}), "
        f"v AS (INSERT INTO instance_variable (instance_id, {', '.join(_VARIABLE_COLUMNS)}) "
        f"SELECT i.id, r.n, r.x, r.t FROM i, (VALUES {values}) AS r(n, x, t)) "
        "SELECT id FROM i"
    )

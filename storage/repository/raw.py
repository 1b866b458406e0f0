"""PostgreSQL statements with many parameters, run on psycopg's RawCursor (`$n` placeholders).

psycopg converts `%s` placeholders to PostgreSQL's `$n` in Python and caches the conversion only for
queries of at most 50 parameters and 4 kB: a multi-row INSERT (SQLAlchemy's "insertmanyvalues", ~5 kB
and 15 parameters a row for the history of one start) is re-parsed on every execution, ~0.6 ms (issue
17). Written with `$n` placeholders in the first place, such a statement costs no conversion at all,
and its text can be made once per row count. Values still go through the columns' bind processors,
so they are stored as the ORM stores them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError


def usable(dialect: Any) -> bool:
    """Whether the connection's driver is psycopg 3 (PostgreSQL's, as storage/database.py sets it)."""
    return bool(dialect.name == "postgresql" and dialect.driver == "psycopg")


_BINDINGS: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[Any, ...], tuple[str, ...]]] = {}


def binding(dialect: Any, table: Table, columns: Sequence[str]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """(bind processor or None, SQL type) of each column, made once per dialect, table and columns. The
    type is for a cast: a VALUES list of a SELECT types its columns from its values, not the table."""
    key = (dialect.name, table.name, tuple(columns))
    found = _BINDINGS.get(key)
    if found is None:
        types = [table.c[name].type for name in columns]
        found = _BINDINGS[key] = (
            tuple(t.dialect_impl(dialect).bind_processor(dialect) for t in types),
            tuple(str(t.compile(dialect=dialect)) for t in types),
        )
    return found


def bound(row: dict[str, Any], columns: Sequence[str], processors: Sequence[Any]) -> list[Any]:
    """A row's values in the columns' order, through their bind processors (a missing key is NULL)."""
    values = []
    for name, process in zip(columns, processors, strict=True):
        value = row.get(name)
        values.append(process(value) if process is not None else value)
    return values


def placeholders(first: int, casts: Sequence[str]) -> str:
    """`($first::cast0, $first+1::cast1, ...)`."""
    return "(" + ", ".join(f"${first + j}::{cast}" for j, cast in enumerate(casts)) + ")"


def fetch(conn: Connection, sql: str, params: list[Any]) -> list[Any]:
    """Run `sql` (with `$n` placeholders) on the driver's raw cursor in the connection's transaction; its
    rows. Driver errors become SQLAlchemy's (DBAPIError and its subclasses, as `exec_driver_sql`
    raises them: the unit of work maps them), a lost connection is invalidated so that the pool drops
    it, and the engine's cursor events (a statement counter, a tracer) see the statement as they see
    SQLAlchemy's own (without an execution context)."""
    import psycopg  # here: a SQLite installation's commands never import the PostgreSQL driver

    dbapi_connection = conn.connection.driver_connection
    cursor: Any = psycopg.RawCursor(dbapi_connection)  # type: ignore[arg-type]
    for before in conn.dispatch.before_cursor_execute:
        sql, params = before(conn, cursor, sql, params, None, False)
    try:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        for after in conn.dispatch.after_cursor_execute:
            after(conn, cursor, sql, params, None, False)
        return rows
    except conn.dialect.loaded_dbapi.Error as exc:
        lost = conn.dialect.is_disconnect(exc, dbapi_connection, cursor)
        if lost:
            conn.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            params,
            exc,
            conn.dialect.loaded_dbapi.Error,
            connection_invalidated=lost,
            dialect=conn.dialect,
        ) from exc
    finally:
        cursor.close()

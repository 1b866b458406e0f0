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

from ..driver import driver_execute


def usable(dialect: Any) -> bool:
    """Whether the connection's driver is psycopg 3 (PostgreSQL's, as storage/database.py sets it)."""
    return bool(dialect.name == "postgresql" and dialect.driver == "psycopg")


_BINDINGS: dict[tuple[str, str, tuple[str, ...]], tuple[tuple[Any, ...], tuple[str, ...]]] = {}


def binding(dialect: Any, table: Table, columns: Sequence[str]) -> tuple[tuple[Any, ...], tuple[str, ...]]:
    """(bind processor or None, SQL type) of each column, made once per dialect, table and columns. The
    type is for a cast: a VALUES list of a SELECT types its columns from its values, not the table.
    (`binding` and `bound` serve SQLite's multi-row INSERT of the history too.)"""
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
    rows. As any statement of the hot path (storage/driver.py): driver errors become SQLAlchemy's, a
    lost connection is invalidated, the engine's cursor events see the statement."""
    import psycopg  # here: a SQLite installation's commands never import the PostgreSQL driver

    cursor: Any = psycopg.RawCursor(conn.connection.driver_connection)  # type: ignore[arg-type]
    try:
        return list(driver_execute(conn, sql, params, cursor=cursor).fetchall())
    finally:
        cursor.close()

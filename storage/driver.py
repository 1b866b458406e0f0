"""SQL on the driver's own cursor, inside a SQLAlchemy connection's transaction: for the few statements
on the path of every operation (storage/repository/prepared.py), where SQLAlchemy's per-statement Python
costs as much as the database's work."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError


def driver_execute(conn: Connection, sql: str, params: Any, *, many: bool = False, cursor: Any = None) -> Any:
    """The SQL on the driver's own cursor (or on `cursor`, one of the driver's kinds: psycopg's
    RawCursor, storage/repository/raw.py), inside the session's transaction.

    `Connection.exec_driver_sql` costs ~25-30 us of SQLAlchemy's Python per statement (its execution
    context and result object), as much as SQLite's own work on the path of a completion (issue 17).
    What it does that matters is kept: the driver's errors become SQLAlchemy's (DBAPIError and its
    subclasses, which the unit of work maps to ConcurrentUpdate), and a lost connection is invalidated
    so that the pool does not hand it out again, and the engine's cursor events (a statement counter,
    a tracer) see these statements as they see SQLAlchemy's own (without an execution context).
    """
    dbapi_connection = conn.connection.driver_connection
    if cursor is None:
        cursor = dbapi_connection.cursor()  # type: ignore[union-attr]
    for before in conn.dispatch.before_cursor_execute:
        sql, params = before(conn, cursor, sql, params, None, many)
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
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
            ismulti=many,
        ) from exc
    for after in conn.dispatch.after_cursor_execute:
        after(conn, cursor, sql, params, None, many)
    return cursor

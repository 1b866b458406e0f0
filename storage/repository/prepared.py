"""Core statements compiled once per dialect: the hot path of every state change."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from ..driver import driver_execute


class Prepared:
    """A Core statement compiled once per dialect and run on the driver's cursor (`_run`).

    For the few statements on the path of every state change: SQLAlchemy's per-execution overhead
    (~60-80 us) costs more than SQLite's own work there. Values still pass through the columns' bind
    processors, so UTC datetimes and JSON are stored exactly as the ORM would store them.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Any]]] = {}
        self._result_processors: dict[str, list[tuple[str, Any]]] = {}

    def execute(self, session: Session, params: dict[str, Any]) -> Any:
        """Run the statement with one row's values; the driver's cursor (its rowcount, lastrowid, and
        for RETURNING the row) is returned."""
        conn = connection_of(session)
        sql, *binding = self._compiled(conn.dialect)
        return driver_execute(conn, sql, self._bind(binding, params))

    @staticmethod
    def _bind(binding: list[Any], params: dict[str, Any]) -> Any:
        """The driver's parameters: values through their bind processors, in position order if any."""
        positions, processors, defaults = binding
        values = {**defaults, **params} if defaults else dict(params)
        for name, process in processors.items():
            if name in values:
                values[name] = process(values[name])
        return tuple([values[name] for name in positions]) if positions is not None else values

    def _compiled(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Any]]:
        prepared = self._by_dialect.get(dialect.name)
        if prepared is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = {
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in compiled.binds.items()
            }
            positions = tuple(compiled.positiontup) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}  # e.g. LIMIT's value
            prepared = (
                str(compiled),
                positions,
                {k: v for k, v in processors.items() if v is not None},
                defaults,
            )
            self._by_dialect[dialect.name] = prepared
        return prepared

    def execute_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """The statement once per row, as one driver executemany."""
        conn = connection_of(session)
        sql, positions, processors, defaults = self._compiled(conn.dialect)
        if positions is None or defaults:
            binding = [positions, processors, defaults]
            driver_execute(conn, sql, [self._bind(binding, params) for params in rows], many=True)
            return
        # Positional (SQLite): each row straight to its list, without _bind's intermediate dict, the
        # values taken in C (itemgetter) and only those with a bind processor passed through it; the
        # bulk writes of a batch bind hundreds of thousands of values.
        take = itemgetter(*positions)
        processed = [(i, processors[name]) for i, name in enumerate(positions) if name in processors]
        values: list[Any] = []
        for row in rows:
            taken = take(row)
            one = list(taken) if len(positions) > 1 else [taken]
            for i, process in processed:
                one[i] = process(one[i])
            values.append(one)
        driver_execute(conn, sql, values, many=True)

    def first(self, session: Session, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of a SELECT as a dict, its values through the columns' result processors."""
        cursor = self.execute(session, params)
        try:
            row = cursor.fetchone()
            if row is None:
                return None
            processors = self._processors(connection_of(session).dialect, cursor)
        finally:
            cursor.close()
        return {
            name: (process(value) if process is not None else value)
            for (name, process), value in zip(processors, row, strict=True)
        }

    def all(self, session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a SELECT as a dict, like `first`."""
        cursor = self.execute(session, params)
        try:
            rows = cursor.fetchall()
            processors = self._processors(connection_of(session).dialect, cursor)
        finally:
            cursor.close()
        return [
            {
                name: (process(value) if process is not None else value)
                for (name, process), value in zip(processors, row, strict=True)
            }
            for row in rows
        ]

    def _processors(self, dialect: Any, cursor: Any) -> list[tuple[str, Any]]:
        """Each column's result processor, made once per dialect for the driver's type of the column
        (psycopg's numeric processors need it)."""
        processors = self._result_processors.get(dialect.name)
        if processors is None:
            description = cursor.description
            processors = self._result_processors[dialect.name] = [
                (col.key, col.type.dialect_impl(dialect).result_processor(dialect, described[1]))
                for col, described in zip(self.statement.selected_columns, description, strict=True)
            ]
        return processors


def connection_of(session: Session) -> Connection:
    """The connection of the session's transaction (beginning it if need be), kept in `session.info`:
    `Session.connection()` costs ~10 us each time, and the hot path asks for it once per statement."""
    conn = session.info.get("handoff_connection")
    if conn is None or conn.closed or not conn.in_transaction():
        conn = session.info["handoff_connection"] = session.connection()
    return conn


def pg_next_ids(conn: Any, table: str, n: int) -> list[int]:
    """Reserve `n` ids from a PostgreSQL table's id sequence (ours, whatever other writers do)."""
    sql = text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)")
    return list(conn.execute(sql, {"n": n}).scalars())

"""Core statements compiled once per dialect: the hot path of every state change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session


class Prepared:
    """A Core statement compiled once per dialect and run through `exec_driver_sql`.

    For the few statements on the path of every state change: SQLAlchemy's per-execution overhead
    (~60-80 us) costs more than SQLite's own work there. Values still pass through the columns' bind
    processors, so UTC datetimes and JSON are stored exactly as the ORM would store them.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Any]]] = {}
        self._result_processors: dict[str, list[tuple[str, Any]]] = {}

    def execute(self, session: Session, params: dict[str, Any]) -> Any:
        conn = session.connection()
        sql, *binding = self._compiled(conn.dialect)
        return conn.exec_driver_sql(sql, self._bind(binding, params))

    @staticmethod
    def _bind(binding: list[Any], params: dict[str, Any]) -> Any:
        """The driver's parameters: values through their bind processors, in position order if any."""
        positions, processors, defaults = binding
        merged = {**defaults, **params} if defaults else params
        values = {k: (processors[k](v) if k in processors else v) for k, v in merged.items()}
        return tuple(values[name] for name in positions) if positions is not None else values

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
        conn = session.connection()
        sql, positions, processors, defaults = self._compiled(conn.dialect)
        if positions is None or defaults:
            binding = [positions, processors, defaults]
            conn.exec_driver_sql(sql, [self._bind(binding, params) for params in rows])
            return
        # Positional (SQLite): each row straight to its tuple, without _bind's intermediate dict; the
        # bulk writes of a batch bind tens of thousands of rows.
        plan = [(name, processors.get(name)) for name in positions]
        conn.exec_driver_sql(
            sql,
            [tuple(row[name] if p is None else p(row[name]) for name, p in plan) for row in rows],
        )

    def first(self, session: Session, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of a SELECT as a dict, its values through the columns' result processors."""
        result = self.execute(session, params)
        processors = self._processors(session.connection().dialect, result)
        row = result.first()
        if row is None:
            return None
        return {
            name: (process(value) if process is not None else value)
            for (name, process), value in zip(processors, row, strict=True)
        }

    def all(self, session: Session, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every row of a SELECT as a dict, like `first`."""
        result = self.execute(session, params)
        processors = self._processors(session.connection().dialect, result)
        return [
            {
                name: (process(value) if process is not None else value)
                for (name, process), value in zip(processors, row, strict=True)
            }
            for row in result.all()
        ]

    def _processors(self, dialect: Any, result: Any) -> list[tuple[str, Any]]:
        """Each column's result processor, made once per dialect for the driver's type of the column
        (psycopg's numeric processors need it)."""
        processors = self._result_processors.get(dialect.name)
        if processors is None:
            description = result.cursor.description
            processors = self._result_processors[dialect.name] = [
                (col.key, col.type.dialect_impl(dialect).result_processor(dialect, described[1]))
                for col, described in zip(self.statement.selected_columns, description, strict=True)
            ]
        return processors


def pg_next_ids(conn: Any, table: str, n: int) -> list[int]:
    """Reserve `n` ids from a PostgreSQL table's id sequence (ours, whatever other writers do)."""
    sql = text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)")
    return list(conn.execute(sql, {"n": n}).scalars())

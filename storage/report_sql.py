"""The report's SQL building blocks: the scope, dialect-aware functions, percentiles by index walk.

Scope (the *window rule*, docs/report.md): a report covers the process instances STARTED in
[since, until), optionally of one process; every figure is taken from those instances only. A report of
everything needs no filter on the child tables (every task, handoff and crossing belongs to an instance),
so their covering indexes answer it directly; a filtered one adds `instance_id IN (scoped instances)`.

Percentiles use the nearest-rank method: of n values sorted ascending, the p-th percentile is the value
of rank ceil(p * n / 100). Once a group's n is known (from its aggregate row), that value is read by
walking an index in order: `ORDER BY x LIMIT 1 OFFSET rank - 1`, the same statement on SQLite and
PostgreSQL, with no sort of the group (storage/models.py has the indexes).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    insert,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from .models import ProcessInstance

PI = cast(Table, ProcessInstance.__table__)
PERCENTILES = (50, 90, 99)


# --- dialect-aware functions ----------------------------------------------------------------------------


class seconds_between(FunctionElement[float]):  # noqa: N801 - an SQL function, named like one
    """Seconds from the first timestamp to the second, as a float: EXTRACT(EPOCH ...) or julianday()."""

    type = Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_default(element: seconds_between, compiler: Any, **kw: Any) -> str:
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({end} - {start})) AS DOUBLE PRECISION)"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element: seconds_between, compiler: Any, **kw: Any) -> str:
    # SQLite keeps datetimes as ISO text; julianday() is fractional days (rounded to the millisecond).
    start, end = (compiler.process(c, **kw) for c in element.clauses)
    return f"ROUND((julianday({end}) - julianday({start})) * 86400.0, 3)"


class week_start(FunctionElement[str]):  # noqa: N801
    """The Monday (UTC) of a timestamp's ISO week, as 'YYYY-MM-DD' text."""

    type = String()
    name = "week_start"
    inherit_cache = True


@compiles(week_start)
def _week_start_default(element: week_start, compiler: Any, **kw: Any) -> str:
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"to_char(date_trunc('week', ({value}) AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


@compiles(week_start, "sqlite")
def _week_start_sqlite(element: week_start, compiler: Any, **kw: Any) -> str:
    # 'weekday 0' moves forward to the next Sunday (or stays on one); six days back is that week's Monday.
    (value,) = (compiler.process(c, **kw) for c in element.clauses)
    return f"date({value}, 'weekday 0', '-6 days')"


class bucket_of(FunctionElement[int]):  # noqa: N801
    """floor(x / width) for x >= 0: the histogram bucket of a value."""

    type = Integer()
    name = "bucket_of"
    inherit_cache = True


@compiles(bucket_of)
def _bucket_default(element: bucket_of, compiler: Any, **kw: Any) -> str:
    value, width = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(FLOOR(({value}) / ({width})) AS INTEGER)"  # PostgreSQL's CAST alone would round


@compiles(bucket_of, "sqlite")
def _bucket_sqlite(element: bucket_of, compiler: Any, **kw: Any) -> str:
    value, width = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(({value}) / ({width}) AS INTEGER)"  # truncates: floor for x >= 0 (FLOOR is optional)


# --- the scope ------------------------------------------------------------------------------------------


def rank(p: int, n: int) -> int:
    """The nearest rank (1-based) of the p-th percentile of n values: ceil(p * n / 100)."""
    return (p * n + 99) // 100


class Scope:
    """The instances one report covers, and the temporary table of their cycle times.

    Use as a context manager around the report's queries: the temporary table lives on the session's
    connection and is dropped at the end.
    """

    def __init__(
        self,
        session: Session,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> None:
        self.session = session
        self.process_id, self.since, self.until = process_id, since, until
        self.filtered = bool(process_id) or since is not None or until is not None
        self.cycles: Table | None = None

    def instance_conditions(self) -> list[ColumnElement[bool]]:
        out: list[ColumnElement[bool]] = []
        if self.process_id:
            out.append(PI.c.process_id == self.process_id)
        if self.since is not None:
            out.append(PI.c.created_at >= self.since)
        if self.until is not None:
            out.append(PI.c.created_at < self.until)
        return out

    def of(self, instance_id: Any) -> list[ColumnElement[bool]]:
        """Conditions that keep rows of a child table (its `instance_id` column) to the scope."""
        if not self.filtered:
            return []
        return [instance_id.in_(select(PI.c.id).where(*self.instance_conditions()))]

    def __enter__(self) -> Scope:
        # Cycle times of the completed instances, computed once: percentiles per process and overall,
        # the histogram and the totals all read this table through its indexes.
        metadata = MetaData()
        name = f"report_cycles_{id(self):x}"
        table = Table(
            name,
            metadata,
            Column("instance_id", Integer),
            Column("process_id", String(255)),
            Column("cycle", Float),
            prefixes=["TEMPORARY"],
        )
        conn = self.session.connection()
        table.create(conn)
        source = select(PI.c.id, PI.c.process_id, seconds_between(PI.c.created_at, PI.c.completed_at)).where(
            PI.c.status == "completed", PI.c.completed_at.is_not(None), *self.instance_conditions()
        )
        conn.execute(insert(table).from_select(["instance_id", "process_id", "cycle"], source))
        # Indexed once the rows are in: one sort per index instead of a b-tree insert per row.
        Index(f"{name}_all", table.c.cycle).create(conn)
        self.cycles = table
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        # After a failure the caller's rollback takes the table away (its CREATE is transactional on
        # SQLite and PostgreSQL alike); a DROP in an aborted PostgreSQL transaction would hide the error.
        if self.cycles is not None and exc_type is None:
            self.cycles.drop(self.session.connection(), checkfirst=True)
        self.cycles = None


# --- aggregates and percentiles -------------------------------------------------------------------------


class Walker:
    """Nearest-rank percentiles of `column` per group, each read by one walk of an index in order.

    The walk starts from the nearer end (`ORDER BY x DESC` for ranks past the middle), so a p90 steps
    over a tenth of the group, not nine tenths. One statement per pattern of NULL group keys and
    direction, built once and run with bound values (SQLAlchemy's compiled cache does the rest).
    """

    def __init__(
        self, session: Session, column: Any, conditions: Sequence[Any], keys: Sequence[Any] = ()
    ) -> None:
        self.session, self.column, self.conditions, self.keys = session, column, list(conditions), list(keys)
        self._statements: dict[tuple[tuple[bool, ...], bool], Any] = {}

    def value(self, group: Sequence[Any], position: int, n: int) -> float | None:
        """The value of 1-based rank `position` (ascending) among the `n` rows of `group`."""
        if position < 1 or position > n:
            return None
        descending = position > (n + 1) // 2
        nulls = tuple(v is None for v in group)
        statement = self._statements.get((nulls, descending))
        if statement is None:
            where = [
                key.is_(None) if null else key == bindparam(f"g{i}")
                for i, (key, null) in enumerate(zip(self.keys, nulls, strict=True))
            ]
            order = self.column.desc() if descending else self.column
            statement = (
                select(self.column)
                .where(*self.conditions, *where)
                .order_by(order)
                .limit(1)
                .offset(bindparam("offset", type_=Integer()))
            )
            self._statements[(nulls, descending)] = statement
        params = {f"g{i}": v for i, v in enumerate(group) if v is not None}
        params["offset"] = n - position if descending else position - 1
        value = self.session.execute(statement, params).scalar()
        return None if value is None else float(value)

    def stats(
        self,
        group: Sequence[Any],
        n: int,
        total: float | None,
        mean: float | None,
        ps: Sequence[int] = PERCENTILES,
    ) -> dict[str, Any]:
        """The documented stats object of one group whose count, sum and mean are known."""
        out: dict[str, Any] = {
            "count": int(n or 0),
            "mean": None if mean is None else float(mean),
            "total": float(total or 0.0),
        }
        for p in ps:
            out[f"p{p}"] = self.value(group, rank(p, n), n) if n else None
        return out


def empty_stats(ps: Sequence[int] = PERCENTILES) -> dict[str, Any]:
    return {"count": 0, "mean": None, "total": 0.0, **{f"p{p}": None for p in ps}}


__all__ = [
    "PERCENTILES",
    "PI",
    "Scope",
    "bucket_of",
    "empty_stats",
    "rank",
    "seconds_between",
    "Walker",
    "week_start",
]

"""The instance variable table: an instance's top-level data kept searchable (docs/search.md).

Written in the transaction that changes the data: only the names whose value changed (one DELETE and
one executemany INSERT, prepared), all of them for a new instance; a batch rewrites its instances' rows
at its end. Searched with one EXISTS per condition, so that `handoff instances --var ...` walks the
newest instances and probes each by its primary key, or seeks `(name, value)` for a rare value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, func, insert, literal, or_, select
from sqlalchemy.orm import Session

from ..models import ProcessInstance
from ..models_variables import InstanceVariable
from .buffer import buffer_of
from .prepared import Prepared

TEXT_LIMIT = 255
_VARIABLE = cast(Table, InstanceVariable.__table__)
_INSERT = Prepared(
    insert(_VARIABLE).values({c: bindparam(c) for c in ("instance_id", "name", "num_value", "text_value")})
)
_DELETE = Prepared(
    delete(_VARIABLE).where(
        _VARIABLE.c.instance_id == bindparam("instance_id"), _VARIABLE.c.name == bindparam("name")
    )
)
_MISSING = object()


def searchable(value: Any) -> tuple[float | None, str | None] | None:
    """(num_value, text_value) of a top-level value, or None when it is not searchable."""
    if isinstance(value, bool):
        return None, "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return (number, None) if math.isfinite(number) else None
    if isinstance(value, str) and len(value) <= TEXT_LIMIT:
        return None, value
    return None


def variable_rows(instance_id: int, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for name, value in data.items():
        found = searchable(value)
        if found is not None and isinstance(name, str) and len(name) <= TEXT_LIMIT:
            rows.append(
                {"instance_id": instance_id, "name": name, "num_value": found[0], "text_value": found[1]}
            )
    return rows


def write_variables(
    session: Session, instance_id: int, before: Mapping[str, Any] | None, after: Mapping[str, Any]
) -> None:
    """Keep the instance's rows as `after` says, given what they were written from (`before`; None for a
    new instance). Unchanged names cost nothing."""
    if before is None:
        rows = variable_rows(instance_id, after)
        if len(rows) == 1:
            _INSERT.execute(session, rows[0])  # a driver executemany costs more for one row
        elif rows:
            _INSERT.execute_many(session, rows)
        return
    changed = {
        k: v for k, v in after.items() if before.get(k, _MISSING) != v or type(before.get(k)) is not type(v)
    }
    gone = [k for k in before if k not in after]
    if not changed and not gone:
        return
    names = [*changed, *gone]
    _DELETE.execute_many(session, [{"instance_id": instance_id, "name": n} for n in names])
    rows = variable_rows(instance_id, changed)
    if rows:
        _INSERT.execute_many(session, rows)


def rewrite_variables(session: Session, data: Mapping[int, Mapping[str, Any]], fresh: Iterable[int]) -> None:
    """A batch's end: every row of these instances from their data now (`fresh`: inserted by the batch,
    so none to delete first)."""
    if buffer_of(session) is not None:
        raise RuntimeError("rewrite_variables runs after the batch's buffer is flushed")
    new = set(fresh)
    old = [i for i in data if i not in new]
    for start in range(0, len(old), 500):
        session.execute(delete(_VARIABLE).where(_VARIABLE.c.instance_id.in_(old[start : start + 500])))
    rows = [row for instance_id, values in data.items() for row in variable_rows(instance_id, values)]
    if rows:
        _INSERT.execute_many(session, rows)


@dataclass(frozen=True)
class Condition:
    """`name op value`: op one of = > < >= <= ~ (contains, text, any case)."""

    name: str
    op: str
    value: str


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _tests(condition: Condition) -> list[Any]:
    """The condition on one row of the variable table (its name aside), as alternatives any of which
    may hold: each one index range, which one OR would keep SQLite from using."""
    v = _VARIABLE.c
    number = _number(condition.value)
    if condition.op == "~":
        escaped = condition.value.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [func.lower(v.text_value).like(f"%{escaped}%", escape="\\")]
    if condition.op == "=":
        lowered = condition.value.lower()
        texts = [condition.value] + (
            [lowered] if lowered in ("true", "false") and lowered != condition.value else []
        )
        tests = [v.text_value == t for t in texts]
        return tests if number is None else [v.num_value == number, *tests]
    column, operand = (v.num_value, number) if number is not None else (v.text_value, condition.value)
    ops = {">": column > operand, "<": column < operand, ">=": column >= operand, "<=": column <= operand}
    return [ops[condition.op]]


def matching(condition: Condition) -> Any:
    """Instances whose variable meets the condition: a correlated subquery evaluated per instance (a
    primary-key probe), written so that PostgreSQL keeps it so rather than turning it into a join over
    every row of the name, which would read them all to find the newest hundred."""
    v = _VARIABLE.c
    probe = (
        select(literal(1))
        .where(v.instance_id == ProcessInstance.id, v.name == condition.name, or_(*_tests(condition)))
        .limit(1)
        .scalar_subquery()
    )
    return probe.is_not(None)


# A condition matching at most this many instances is looked up through its index first; broader ones are
# checked on the newest instances one by one (a primary-key probe each), so either way a search reads a
# number of rows that does not grow with the number of instances (benchmarks/data_search.py).
NARROW = 2000


def narrowest(session: Session, conditions: Sequence[Condition]) -> list[int] | None:
    """The instances of the narrowest indexed condition (`=`, `<`, `>`: an index range each), if one
    matches at most NARROW of them; None when all are broad (or `~`, which no index can answer)."""
    v = _VARIABLE.c
    best: list[int] | None = None
    for condition in conditions:
        if condition.op == "~":
            continue
        ids: list[int] = []
        for test in _tests(condition):
            query = select(v.instance_id).where(v.name == condition.name, test).limit(NARROW + 1 - len(ids))
            ids += session.scalars(query)
            if len(ids) > NARROW:
                break
        if len(ids) <= NARROW and (best is None or len(ids) < len(best)):
            best = ids
    return best


def where_all(session: Session, conditions: Sequence[Condition]) -> list[Any]:
    """WHERE clauses for instances meeting every condition."""
    if not conditions:
        return []
    clauses = [matching(c) for c in conditions]
    narrow = narrowest(session, conditions)
    if narrow is not None:
        clauses.append(ProcessInstance.id.in_(narrow))
    return clauses


__all__ = [
    "TEXT_LIMIT",
    "Condition",
    "matching",
    "narrowest",
    "rewrite_variables",
    "searchable",
    "variable_rows",
    "where_all",
    "write_variables",
]

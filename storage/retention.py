"""Retiring finished instances (issue 16 item 5): which ones are past their time to live, and deleting
them with everything recorded about them, a bounded batch per transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, Table, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from .models import Base, ProcessDefinition, ProcessInstance

FINISHED = ("completed", "terminated")
_INSTANCE = cast(Table, ProcessInstance.__table__)
# Every table holding rows of an instance (a foreign key to it): found from the models, so that a table
# added later is retired with its instances too. Children are deleted first, the instance row last.
CHILD_TABLES: tuple[Table, ...] = tuple(
    table
    for table in reversed(Base.metadata.sorted_tables)
    if any(fk.column.table is _INSTANCE for fk in table.foreign_keys) and "instance_id" in table.c
)


def definitions(session: Session, process_id: str | None) -> list[tuple[int, str, int]]:
    """(definition id, process id, version) of every version, or of one process's."""
    query = select(ProcessDefinition.id, ProcessDefinition.process_id, ProcessDefinition.version)
    if process_id is not None:
        query = query.where(ProcessDefinition.process_id == process_id)
    return [tuple(r) for r in session.execute(query.order_by(ProcessDefinition.id))]  # type: ignore[misc]


def retirable(cutoffs: Mapping[int, datetime]) -> Select[Any]:
    """The ids of finished instances that ended before their version's cutoff (definition id -> time)."""
    ended = func.coalesce(_INSTANCE.c.completed_at, _INSTANCE.c.updated_at)
    per_version = [
        and_(_INSTANCE.c.definition_id == definition_id, ended < cutoff)
        for definition_id, cutoff in cutoffs.items()
    ]
    query = select(_INSTANCE.c.id).where(_INSTANCE.c.status.in_(FINISHED))
    if not per_version:
        return query.where(_INSTANCE.c.id.is_(None))
    return query.where(or_(*per_version))


def count(session: Session, ids: Select[Any]) -> dict[str, int]:
    """How many instances, and rows of each table, `ids` selects."""
    chosen = ids.subquery()
    counts = {"process_instance": session.scalar(select(func.count()).select_from(chosen)) or 0}
    for table in CHILD_TABLES:
        counts[table.name] = (
            session.scalar(
                select(func.count()).select_from(table).where(table.c.instance_id.in_(select(chosen.c.id)))
            )
            or 0
        )
    return counts


def delete_batch(session: Session, ids: Select[Any], limit: int) -> tuple[Sequence[int], dict[str, int]]:
    """Delete up to `limit` of the instances `ids` selects, with their rows in every table; the ids
    deleted and the rows deleted per table. The caller commits."""
    batch = session.scalars(ids.order_by(_INSTANCE.c.id).limit(limit)).all()
    deleted: dict[str, int] = {}
    if not batch:
        return batch, deleted
    for table in CHILD_TABLES:
        result: Any = session.execute(delete(table).where(table.c.instance_id.in_(batch)))
        deleted[table.name] = result.rowcount or 0
    result = session.execute(delete(_INSTANCE).where(_INSTANCE.c.id.in_(batch)))
    deleted["process_instance"] = result.rowcount or 0
    return batch, deleted

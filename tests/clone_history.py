"""Many finished instances in little time, for retention at scale (tests/test_cleanup_scale.py,
benchmarks/cleanup_memory.py): one real instance made by the engine, then its rows (the instance, its
task rows, events, handoffs, crossings, delays) copied N times with new ids and shifted times by bulk
inserts, so that a database of 100,000 instances holds the rows the engine would have written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, func, insert, select

from storage import Database
from storage.models import (
    BoundaryCrossing,
    Delay,
    Event,
    HandoffRecord,
    HumanTask,
    ProcessInstance,
)

CHUNK = 5000


def _rows(session: Any, table: Table, instance_id: int) -> list[dict[str, Any]]:
    return [
        dict(r._mapping) for r in session.execute(select(table).where(table.c.instance_id == instance_id))
    ]


def clone(db: Database, template: int, starts: Iterator[datetime], count: int, key: str = "C") -> list[int]:
    """Copy instance `template` `count` times, the k-th shifted to start at next(starts) with business key
    `key` + k; the new ids."""
    tables = {m: cast(Table, m.__table__) for m in (HumanTask, Event, HandoffRecord, BoundaryCrossing, Delay)}
    instance_table = cast(Table, ProcessInstance.__table__)
    with db.reader() as session:
        [base] = [
            dict(r._mapping)
            for r in session.execute(select(instance_table).where(instance_table.c.id == template))
        ]
        children = {m: _rows(session, t, template) for m, t in tables.items()}
        next_instance = (session.scalar(select(func.max(instance_table.c.id))) or 0) + 1
        next_task = (session.scalar(select(func.max(tables[HumanTask].c.id))) or 0) + 1
    made: list[int] = []
    pending: dict[Any, list[dict[str, Any]]] = {m: [] for m in (ProcessInstance, *tables)}

    def shifted(row: dict[str, Any], delta: timedelta) -> dict[str, Any]:
        return {k: (v + delta if isinstance(v, datetime) else v) for k, v in row.items()}

    def flush() -> None:
        with db.unit_of_work() as session:
            for model, rows in pending.items():
                if rows:
                    session.execute(insert(cast(Table, model.__table__)), rows)
                    rows.clear()

    for k in range(count):
        delta = next(starts) - base["created_at"]
        iid, made_tasks = next_instance, {}
        next_instance += 1
        pending[ProcessInstance].append(shifted(base, delta) | {"id": iid, "business_key": f"{key}{k}"})
        for row in children[HumanTask]:
            made_tasks[row["id"]] = next_task
            pending[HumanTask].append(shifted(row, delta) | {"id": next_task, "instance_id": iid})
            next_task += 1
        for model in (Event, HandoffRecord, BoundaryCrossing, Delay):
            for row in children[model]:
                copy = shifted(row, delta) | {"instance_id": iid}
                copy.pop("id", None)
                for key in ("task_id", "from_task_id", "to_task_id"):
                    if copy.get(key) in made_tasks:
                        copy[key] = made_tasks[copy[key]]
                if model is Delay:
                    kind, _, old = str(row["subject"]).partition(":")
                    copy["subject"] = (
                        f"task:{made_tasks.get(int(old), old)}" if kind == "task" else f"instance:{iid}"
                    )
                pending[model].append(copy)
        made.append(iid)
        if sum(len(r) for r in pending.values()) >= CHUNK:
            flush()
    flush()
    return made

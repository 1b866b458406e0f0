"""The CPO report's figures of instances and human tasks, computed in the database (docs/report.md).

Instances (counts, cycle time, throughput, the cycle-time histogram) and human tasks (lanes,
bottlenecks, rework, processing). The figures of handoffs, crossings and delays are in
storage/analytics_flow.py; the scope, the dialect-aware functions and the percentile walk in
storage/report_sql.py. Both modules' functions are re-exported here: `storage.analytics` is the one
import of engine/report.py.

A task's waiting and processing seconds are numbers on its row, written when it completes
(engine/kernel/task_times.py); `wait_seconds IS NOT NULL` is a completed task, the condition of the
partial covering indexes that every task figure reads (storage/models.py). Only aggregated rows come
back to Python, never the tasks or events themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Index, Table, func, select
from sqlalchemy.orm import Session

from .analytics_flow import crossings, delays, handoff_matrix, slowest_pairs
from .models import HumanTask
from .report_sql import (
    PERCENTILES,
    PI,
    Scope,
    Walker,
    bucket_of,
    empty_stats,
    rank,
    week_start,
)

HT = cast(Table, HumanTask.__table__)
DONE = HT.c.wait_seconds.is_not(None)  # the partial indexes' condition: a completed task


def scoped_instances(
    session: Session,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Scope:
    """The instances the report covers (started in [since, until), of `process_id` if given).

    A context manager: `with scoped_instances(session, ...) as scope:` around the figures.
    """
    return Scope(session, process_id, since, until)


# --- instances ------------------------------------------------------------------------------------------


def instance_counts(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Instances by process and status."""
    rows = session.execute(
        select(PI.c.process_id, PI.c.status, func.count().label("n"))
        .where(*scope.instance_conditions())
        .group_by(PI.c.process_id, PI.c.status)
        .order_by(PI.c.process_id, PI.c.status)
    )
    return [{"process": r.process_id, "status": r.status, "count": int(r.n)} for r in rows]


def window_bounds(session: Session, scope: Scope) -> tuple[datetime | None, datetime | None]:
    """First and last instance start in scope."""
    row = session.execute(
        select(func.min(PI.c.created_at), func.max(PI.c.created_at)).where(*scope.instance_conditions())
    ).one()
    return row[0], row[1]


def last_change(session: Session, scope: Scope) -> datetime | None:
    """The latest change of any instance in scope: where the report's history ends."""
    return session.execute(select(func.max(PI.c.updated_at)).where(*scope.instance_conditions())).scalar()


def cycle_time(session: Session, scope: Scope) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Cycle time of completed instances: overall and per process (count, mean, total, p50/p90/p99)."""
    table = scope.cycles
    assert table is not None, "use the scope as a context manager"
    c = table.c
    aggregate = [func.count().label("n"), func.sum(c.cycle).label("total"), func.avg(c.cycle).label("mean")]
    row = session.execute(select(*aggregate)).one()
    overall = Walker(session, c.cycle, []).stats((), row.n, row.total, row.mean) if row.n else empty_stats()
    groups = session.execute(select(c.process_id, *aggregate).group_by(c.process_id)).all()
    if len(groups) == 1:  # one process: its figures are the overall ones
        return overall, {groups[0].process_id: dict(overall)}
    Index(f"{table.name}_process", c.process_id, c.cycle).create(session.connection())
    walker = Walker(session, c.cycle, [], [c.process_id])
    per_process = {r.process_id: walker.stats((r.process_id,), r.n, r.total, r.mean) for r in groups}
    return overall, per_process


def longest(session: Session, scope: Scope, process_id: str) -> dict[str, Any] | None:
    """The completed instance of a process with the longest cycle time: {instance, cycle_time}."""
    table = scope.cycles
    assert table is not None, "use the scope as a context manager"
    row = session.execute(
        select(table.c.instance_id, table.c.cycle)
        .where(table.c.process_id == process_id)
        .order_by(table.c.cycle.desc(), table.c.instance_id)
        .limit(1)
    ).first()
    return None if row is None else {"instance": int(row.instance_id), "cycle_time": float(row.cycle)}


# A histogram bin is a round duration: the first of these at least (p99 / TARGET_BINS) wide.
NICE_WIDTHS = [
    s * unit
    for unit, steps in ((1, (1, 2, 5, 10, 15, 30)), (60, (1, 2, 5, 10, 15, 30)), (3600, (1, 2, 3, 4, 6, 12)))
    for s in steps
] + [86400 * d for d in (1, 2, 7, 14, 30, 60, 90, 180, 365)]
TARGET_BINS = 16


def cycle_histogram(session: Session, scope: Scope, process_id: str, p99: float | None) -> dict[str, Any]:
    """Completed instances of a process per cycle-time bin of equal, round width, up to its p99; the
    instances above the last bin's upper edge in one open-ended bin (`upper` null)."""
    table = scope.cycles
    assert table is not None, "use the scope as a context manager"
    if p99 is None:
        return {"width": None, "bins": []}
    width = next((w for w in NICE_WIDTHS if w * TARGET_BINS >= p99), NICE_WIDTHS[-1])
    last = int(p99 // width)  # the bin that holds p99; anything beyond goes to the open bin
    bucket = bucket_of(table.c.cycle, width).label("b")
    counts = {
        int(r.b): int(r.n)
        for r in session.execute(
            select(bucket, func.count().label("n")).where(table.c.process_id == process_id).group_by(bucket)
        )
    }
    first = min(counts, default=0)
    bins: list[dict[str, Any]] = [
        {"lower": float(b * width), "upper": float((b + 1) * width), "count": counts.get(b, 0)}
        for b in range(min(first, last), last + 1)
    ]
    beyond = sum(n for b, n in counts.items() if b > last)
    if beyond:
        bins.append({"lower": float((last + 1) * width), "upper": None, "count": beyond})
    return {"width": float(width), "bins": bins}


def throughput(session: Session, scope: Scope) -> list[tuple[str, int]]:
    """Completed instances per week of completion: (Monday 'YYYY-MM-DD', count), oldest first."""
    week = week_start(PI.c.completed_at).label("week")
    rows = session.execute(
        select(week, func.count().label("n"))
        .where(PI.c.status == "completed", PI.c.completed_at.is_not(None), *scope.instance_conditions())
        .group_by(week)
        .order_by(week)
    )
    return [(str(r.week), int(r.n)) for r in rows]


# --- human tasks ----------------------------------------------------------------------------------------


def _open_instances(scope: Scope) -> Any:
    return select(PI.c.id).where(PI.c.status != "completed", *scope.instance_conditions())


def lanes(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per lane: tasks done, waiting and processing time (count, mean, total, p50, p90), and the waiting
    and processing of tasks in completed instances (for waiting share and flow efficiency)."""
    where = [DONE, *scope.of(HT.c.instance_id)]
    rows = session.execute(
        select(
            HT.c.lane,
            func.count().label("n"),
            func.sum(HT.c.wait_seconds).label("wait_total"),
            func.avg(HT.c.wait_seconds).label("wait_mean"),
            func.sum(HT.c.processing_seconds).label("proc_total"),
            func.avg(HT.c.processing_seconds).label("proc_mean"),
        )
        .where(*where)
        .group_by(HT.c.lane)
    ).all()
    # Tasks of instances still open are few next to the completed ones: their sums, subtracted from the
    # lane's, give the completed instances' part without joining every task to its instance.
    still_open = {
        r.lane: (float(r.wait or 0.0), float(r.proc or 0.0))
        for r in session.execute(
            select(
                HT.c.lane,
                func.sum(HT.c.wait_seconds).label("wait"),
                func.sum(HT.c.processing_seconds).label("proc"),
            )
            .where(DONE, HT.c.instance_id.in_(_open_instances(scope)))
            .group_by(HT.c.lane)
        )
    }
    waits = Walker(session, HT.c.wait_seconds, where, [HT.c.lane])
    procs = Walker(session, HT.c.processing_seconds, where, [HT.c.lane])
    out = []
    for r in sorted(rows, key=lambda r: r.lane or ""):
        open_wait, open_proc = still_open.get(r.lane, (0.0, 0.0))
        out.append(
            {
                "lane": r.lane or None,
                "tasks_done": int(r.n),
                "waiting": waits.stats((r.lane,), r.n, r.wait_total, r.wait_mean, (50, 90)),
                "processing": procs.stats((r.lane,), r.n, r.proc_total, r.proc_mean, (50, 90)),
                "waiting_in_completed_instances": float(r.wait_total or 0.0) - open_wait,
                "processing_in_completed_instances": float(r.proc_total or 0.0) - open_proc,
            }
        )
    return out


def bottlenecks(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Activities (human tasks) by total waiting time, largest first."""
    total = func.sum(HT.c.wait_seconds)
    rows = session.execute(
        select(
            HT.c.element_id,
            HT.c.lane,
            func.max(HT.c.name).label("name"),
            func.count().label("n"),
            total.label("total"),
            func.avg(HT.c.wait_seconds).label("mean"),
            func.max(HT.c.wait_seconds).label("max"),
        )
        .where(DONE, *scope.of(HT.c.instance_id))
        .group_by(HT.c.element_id, HT.c.lane)
        .order_by(total.desc(), HT.c.element_id)
    )
    return [
        {
            "element": r.element_id,
            "name": r.name,
            "lane": r.lane or None,
            "tasks": int(r.n),
            "waiting_total": float(r.total or 0.0),
            "waiting_mean": float(r.mean or 0.0),
            "waiting_max": float(r.max or 0.0),
        }
        for r in rows
    ]


def rework(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Per human task activity: its executions beyond the first in an instance (completed task rows),
    summed, and in how many instances."""
    per = (
        select(HT.c.element_id, func.count().label("n"))
        .where(DONE, *scope.of(HT.c.instance_id))
        .group_by(HT.c.element_id, HT.c.instance_id)
        .having(func.count() > 1)
        .subquery("rw")
    )
    extra = func.sum(per.c.n - 1)
    rows = session.execute(
        select(per.c.element_id, extra.label("rework"), func.count().label("instances"))
        .group_by(per.c.element_id)
        .order_by(extra.desc(), per.c.element_id)
    ).all()
    names = _names(session, scope, [r.element_id for r in rows])
    return [
        {
            "element": r.element_id,
            "name": names.get(r.element_id),
            "count": int(r.rework),
            "instances": int(r.instances),
        }
        for r in rows
    ]


def _names(session: Session, scope: Scope, elements: Sequence[str]) -> dict[str, str | None]:
    if not elements:
        return {}
    rows = session.execute(
        select(HT.c.element_id, func.max(HT.c.name).label("name"))
        .where(DONE, HT.c.element_id.in_(list(elements)), *scope.of(HT.c.instance_id))
        .group_by(HT.c.element_id)
    )
    return {r.element_id: r.name for r in rows}


__all__ = [
    "PERCENTILES",
    "Scope",
    "bottlenecks",
    "crossings",
    "cycle_histogram",
    "cycle_time",
    "delays",
    "empty_stats",
    "handoff_matrix",
    "instance_counts",
    "lanes",
    "last_change",
    "longest",
    "rank",
    "rework",
    "scoped_instances",
    "slowest_pairs",
    "throughput",
    "window_bounds",
]

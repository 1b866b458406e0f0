"""The CPO report's figures, computed in the database (DESIGN §3 definitions; docs/report.md).

Every figure is one SQLAlchemy Core `select()` that aggregates in SQL — window functions for the
percentiles — and the same statements run on SQLite and PostgreSQL. Only aggregated rows come back to
Python, never the events themselves.

Scope (the *window rule*): the report covers the process instances that were STARTED in [since, until)
(`process_instance.created_at`), optionally of one process. Every figure — tasks, handoffs, crossings,
delays, rework — is taken from those instances only, whenever its own records happened, so that one
instance is never split between two reports.

Percentiles use the nearest-rank method: of n values sorted ascending, the p-th percentile is the value
of rank ceil(p * n / 100), computed as the integer (p * n + 99) // 100 (SQLite has no CEIL everywhere),
with ROW_NUMBER() OVER (ORDER BY x) and COUNT(*) OVER ().
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Float,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from .models import BoundaryCrossing, Delay, Event, HandoffRecord, HumanTask, ProcessInstance

_PI = cast(Table, ProcessInstance.__table__)
_HT = cast(Table, HumanTask.__table__)
_EV = cast(Table, Event.__table__)
_HO = cast(Table, HandoffRecord.__table__)
_BC = cast(Table, BoundaryCrossing.__table__)
_DL = cast(Table, Delay.__table__)

PERCENTILES = (50, 90, 99)


# --- dialect-aware helpers ------------------------------------------------------------------------------


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


# --- building blocks ------------------------------------------------------------------------------------


def scoped_instances(
    process_id: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> Subquery:
    """The instances the report covers: started in [since, until), of `process_id` if given."""
    query = select(_PI.c.id, _PI.c.process_id, _PI.c.status, _PI.c.created_at, _PI.c.completed_at)
    if process_id:
        query = query.where(_PI.c.process_id == process_id)
    if since is not None:
        query = query.where(_PI.c.created_at >= since)
    if until is not None:
        query = query.where(_PI.c.created_at < until)
    return query.subquery("inst")


def percentile_select(
    values: Subquery, keys: Sequence[str] = (), ps: Sequence[int] = PERCENTILES
) -> Select[Any]:
    """Per group of `keys`: count, mean, sum and nearest-rank percentiles of `values.c.x` (NULLs skipped)."""
    x = values.c.x
    part = [values.c[k] for k in keys]
    ranked = (
        select(
            *part,
            x,
            func.row_number().over(partition_by=part or None, order_by=x).label("rn"),
            func.count().over(partition_by=part or None).label("n"),
        )
        .where(x.is_not(None))
        .subquery("ranked")
    )
    rank_cols = [
        func.max(case((ranked.c.rn == (literal(p) * ranked.c.n + 99) // 100, ranked.c.x))).label(f"p{p}")
        for p in ps
    ]
    group = [ranked.c[k] for k in keys]
    return select(
        *group,
        func.count().label("n"),
        func.avg(ranked.c.x).label("mean"),
        func.sum(ranked.c.x).label("total"),
        *rank_cols,
    ).group_by(*group)


def _stats(row: Any, ps: Sequence[int] = PERCENTILES) -> dict[str, Any]:
    out: dict[str, Any] = {"count": int(row.n or 0)}
    out["mean"] = None if row.mean is None else float(row.mean)
    out["total"] = float(row.total or 0.0)
    for p in ps:
        value = getattr(row, f"p{p}")
        out[f"p{p}"] = None if value is None else float(value)
    return out


def empty_stats(ps: Sequence[int] = PERCENTILES) -> dict[str, Any]:
    """The figures of no durations at all: counts zero, percentiles unknown."""
    return {"count": 0, "mean": None, "total": 0.0, **{f"p{p}": None for p in ps}}


# --- the figures ----------------------------------------------------------------------------------------


def instance_counts(session: Session, inst: Subquery) -> list[dict[str, Any]]:
    """Instances by process and status."""
    rows = session.execute(
        select(inst.c.process_id, inst.c.status, func.count().label("n"))
        .group_by(inst.c.process_id, inst.c.status)
        .order_by(inst.c.process_id, inst.c.status)
    )
    return [{"process": r.process_id, "status": r.status, "count": int(r.n)} for r in rows]


def _cycle_values(inst: Subquery) -> Subquery:
    return (
        select(
            inst.c.process_id,
            seconds_between(inst.c.created_at, inst.c.completed_at).label("x"),
        )
        .where(inst.c.status == "completed", inst.c.completed_at.is_not(None))
        .subquery("cycle")
    )


def cycle_time(session: Session, inst: Subquery) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Cycle time of completed instances: overall and per process (count, mean, total, p50/p90/p99)."""
    values = _cycle_values(inst)
    overall = session.execute(percentile_select(values)).one_or_none()
    per_process = {
        r.process_id: _stats(r) for r in session.execute(percentile_select(values, ["process_id"]))
    }
    return (_stats(overall) if overall is not None else empty_stats()), per_process


def throughput(session: Session, inst: Subquery) -> list[tuple[str, int]]:
    """Completed instances per week of completion: (Monday 'YYYY-MM-DD', count), oldest first."""
    week = week_start(inst.c.completed_at).label("week")
    rows = session.execute(
        select(week, func.count().label("n"))
        .where(inst.c.status == "completed", inst.c.completed_at.is_not(None))
        .group_by(week)
        .order_by(week)
    )
    return [(str(r.week), int(r.n)) for r in rows]


def _task_times(inst: Subquery) -> Subquery:
    """Completed human tasks of the scoped instances with their waiting and processing seconds."""
    taken = func.coalesce(_HT.c.claimed_at, _HT.c.completed_at)
    return (
        select(
            _HT.c.id,
            _HT.c.element_id,
            _HT.c.name,
            func.coalesce(_HT.c.lane, "").label("lane"),
            (inst.c.status == "completed").label("instance_done"),
            seconds_between(_HT.c.created_at, taken).label("wait"),
            # Never claimed: taken up and finished at once, so no processing time.
            seconds_between(taken, _HT.c.completed_at).label("proc"),
        )
        .join(inst, inst.c.id == _HT.c.instance_id)
        .where(_HT.c.state == "completed", _HT.c.completed_at.is_not(None))
        .subquery("tt")
    )


def _rename(sub: Subquery, column: str, keys: Sequence[str], where: Any = None) -> Subquery:
    query = select(*[sub.c[k] for k in keys], sub.c[column].label("x"))
    if where is not None:
        query = query.where(where)
    return query.subquery(f"v_{column}")


def lanes(session: Session, inst: Subquery) -> list[dict[str, Any]]:
    """Per lane: tasks done, waiting and processing time (count, mean, total, p50, p90), wait of done instances."""
    tt = _task_times(inst)
    waits = {
        r.lane: _stats(r, (50, 90))
        for r in session.execute(percentile_select(_rename(tt, "wait", ["lane"]), ["lane"], (50, 90)))
    }
    procs = {
        r.lane: _stats(r, (50, 90))
        for r in session.execute(percentile_select(_rename(tt, "proc", ["lane"]), ["lane"], (50, 90)))
    }
    done_wait = {
        r.lane: float(r.total or 0.0)
        for r in session.execute(
            select(tt.c.lane, func.sum(tt.c.wait).label("total"))
            .where(tt.c.instance_done)
            .group_by(tt.c.lane)
        )
    }
    out = []
    for lane in sorted(waits):
        out.append(
            {
                "lane": lane or None,
                "tasks_done": waits[lane]["count"],
                "waiting": waits[lane],
                "processing": procs.get(lane, empty_stats((50, 90))),
                "waiting_in_completed_instances": done_wait.get(lane, 0.0),
            }
        )
    return out


def processing_total(session: Session, inst: Subquery) -> float:
    """Total processing time of the human tasks of completed instances."""
    tt = _task_times(inst)
    value = session.execute(select(func.sum(tt.c.proc)).where(tt.c.instance_done)).scalar()
    return float(value or 0.0)


def bottlenecks(session: Session, inst: Subquery) -> list[dict[str, Any]]:
    """Activities (human tasks) by total waiting time, largest first."""
    tt = _task_times(inst)
    rows = session.execute(
        select(
            tt.c.element_id,
            func.max(tt.c.name).label("name"),
            tt.c.lane,
            func.count().label("n"),
            func.sum(tt.c.wait).label("total"),
            func.avg(tt.c.wait).label("mean"),
            func.max(tt.c.wait).label("max"),
        )
        .group_by(tt.c.element_id, tt.c.lane)
        .order_by(func.sum(tt.c.wait).desc(), tt.c.element_id)
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


def handoff_matrix(session: Session, inst: Subquery) -> list[dict[str, Any]]:
    """Lane x lane: number of handoffs, median (nearest rank) and mean latency."""
    values = (
        select(
            func.coalesce(_HO.c.from_lane, "").label("from_lane"),
            func.coalesce(_HO.c.to_lane, "").label("to_lane"),
            _HO.c.latency_seconds.label("x"),
        )
        .join(inst, inst.c.id == _HO.c.instance_id)
        .subquery("hv")
    )
    stats = percentile_select(values, ["from_lane", "to_lane"], (50,)).subquery("ms")
    rows = session.execute(select(stats).order_by(stats.c.from_lane, stats.c.to_lane))
    return [
        {
            "from_lane": r.from_lane or None,
            "to_lane": r.to_lane or None,
            "count": int(r.n),
            "latency_p50": float(r.p50),
            "latency_mean": float(r.mean),
        }
        for r in rows
    ]


def slowest_pairs(session: Session, inst: Subquery, limit: int = 10) -> list[dict[str, Any]]:
    """Actor -> actor pairs ranked by median handoff latency (nearest rank), then mean; top `limit`."""
    values = (
        select(
            func.coalesce(_HO.c.from_actor, "").label("from_actor"),
            func.coalesce(_HO.c.to_actor, "").label("to_actor"),
            _HO.c.latency_seconds.label("x"),
        )
        .join(inst, inst.c.id == _HO.c.instance_id)
        .subquery("pv")
    )
    stats = percentile_select(values, ["from_actor", "to_actor"], (50,)).subquery("ps")
    rows = session.execute(
        select(stats)
        .order_by(stats.c.p50.desc(), stats.c.mean.desc(), stats.c.from_actor, stats.c.to_actor)
        .limit(limit)
    )
    return [
        {
            "from_actor": r.from_actor or None,
            "to_actor": r.to_actor or None,
            "count": int(r.n),
            "latency_p50": float(r.p50),
            "latency_mean": float(r.mean),
        }
        for r in rows
    ]


def crossings(session: Session, inst: Subquery) -> dict[str, Any]:
    """Boundary crossings per instance (mean, max over every scoped instance) and ping-pong per activity."""
    per_instance = (
        select(inst.c.id, func.count(_BC.c.id).label("n"))
        .select_from(inst.outerjoin(_BC, _BC.c.instance_id == inst.c.id))
        .group_by(inst.c.id)
        .subquery("bci")
    )
    summary = session.execute(
        select(
            func.count().label("instances"),
            func.coalesce(func.sum(per_instance.c.n), 0).label("total"),
            func.avg(per_instance.c.n).label("mean"),
            func.max(per_instance.c.n).label("max"),
        )
    ).one()
    pairs = session.execute(
        select(
            func.coalesce(_BC.c.from_lane, "").label("from_lane"),
            func.coalesce(_BC.c.to_lane, "").label("to_lane"),
            func.count().label("n"),
            func.sum(case((_BC.c.ping_pong, 1), else_=0)).label("pp"),
        )
        .join(inst, inst.c.id == _BC.c.instance_id)
        .group_by("from_lane", "to_lane")
        .order_by("from_lane", "to_lane")
    )
    ping = session.execute(
        select(_BC.c.to_element, func.max(_BC.c.to_name).label("name"), func.count().label("n"))
        .join(inst, inst.c.id == _BC.c.instance_id)
        .where(_BC.c.ping_pong)
        .group_by(_BC.c.to_element)
        .order_by(func.count().desc(), _BC.c.to_element)
    )
    return {
        "instances": int(summary.instances),
        "total": int(summary.total),
        "per_instance_mean": None if summary.mean is None else float(summary.mean),
        "per_instance_max": None if summary.max is None else int(summary.max),
        "by_lanes": [
            {
                "from_lane": r.from_lane or None,
                "to_lane": r.to_lane or None,
                "count": int(r.n),
                "ping_pong": int(r.pp),
            }
            for r in pairs
        ],
        "ping_pong": [{"element": r.to_element, "name": r.name, "count": int(r.n)} for r in ping],
    }


def rework(session: Session, inst: Subquery) -> list[dict[str, Any]]:
    """Executions beyond the first of each activity in an instance (task_completed events), per activity."""
    per = (
        select(
            _EV.c.instance_id,
            _EV.c.element_id,
            func.max(_EV.c.element_name).label("name"),
            func.count().label("n"),
        )
        .join(inst, inst.c.id == _EV.c.instance_id)
        .where(_EV.c.kind == "task_completed", _EV.c.element_id.is_not(None))
        .group_by(_EV.c.instance_id, _EV.c.element_id)
        .having(func.count() > 1)
        .subquery("rw")
    )
    rows = session.execute(
        select(
            per.c.element_id,
            func.max(per.c.name).label("name"),
            func.sum(per.c.n - 1).label("rework"),
            func.count().label("instances"),
        )
        .group_by(per.c.element_id)
        .order_by(func.sum(per.c.n - 1).desc(), per.c.element_id)
    )
    return [
        {"element": r.element_id, "name": r.name, "count": int(r.rework), "instances": int(r.instances)}
        for r in rows
    ]


def delays(session: Session, inst: Subquery) -> dict[str, Any]:
    """SLA breaches (delay records): by lane and by activity (task waits), and instance cycle times."""
    joined = and_(inst.c.id == _DL.c.instance_id)
    lane = func.coalesce(_DL.c.lane, "").label("lane")
    by_lane = session.execute(
        select(
            lane,
            func.count().label("n"),
            func.sum(_DL.c.waited_seconds - _DL.c.threshold_seconds).label("over"),
        )
        .join(inst, joined)
        .where(_DL.c.kind == "task_wait")
        .group_by(lane)
        .order_by(func.count().desc(), lane)
    )
    by_activity = session.execute(
        select(
            _DL.c.element,
            func.max(_DL.c.name).label("name"),
            lane,
            func.count().label("n"),
            func.sum(case((_DL.c.still_open, 1), else_=0)).label("open"),
            func.max(_DL.c.waited_seconds).label("worst"),
        )
        .join(inst, joined)
        .where(_DL.c.kind == "task_wait")
        .group_by(_DL.c.element, lane)
        .order_by(func.count().desc(), _DL.c.element)
    )
    cycle = session.execute(
        select(func.count()).select_from(_DL).join(inst, joined).where(_DL.c.kind == "cycle_time")
    ).scalar()
    lanes_out = [
        {"lane": r.lane or None, "count": int(r.n), "over_threshold_seconds": float(r.over or 0.0)}
        for r in by_lane
    ]
    activities_out = [
        {
            "element": r.element,
            "name": r.name,
            "lane": r.lane or None,
            "count": int(r.n),
            "still_open": int(r.open),
            "worst_wait_seconds": float(r.worst or 0.0),
        }
        for r in by_activity
    ]
    return {
        "task_waits": sum(x["count"] for x in lanes_out),
        "cycle_times": int(cycle or 0),
        "by_lane": lanes_out,
        "by_activity": activities_out,
    }


def window_bounds(session: Session, inst: Subquery) -> tuple[datetime | None, datetime | None]:
    """First and last instance start in scope."""
    row = session.execute(select(func.min(inst.c.created_at), func.max(inst.c.created_at))).one()
    return row[0], row[1]


__all__ = [
    "bottlenecks",
    "crossings",
    "cycle_time",
    "delays",
    "handoff_matrix",
    "instance_counts",
    "lanes",
    "percentile_select",
    "processing_total",
    "rework",
    "scoped_instances",
    "seconds_between",
    "slowest_pairs",
    "throughput",
    "week_start",
    "window_bounds",
]

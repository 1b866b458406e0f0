"""The CPO report's figures of work moving: handoffs, boundary crossings and SLA breaches (docs/report.md).

From the hook records (DESIGN §3), which carry their numbers (a handoff's latency, a crossing's lanes and
ping-pong flag, a delay's wait and threshold) from the moment they were recorded. Aggregates are index
scans (storage/models.py); medians are index walks (storage/report_sql.py). Re-exported by
storage/analytics.py.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, and_, case, func, literal, select
from sqlalchemy.orm import Session, aliased

from .models import BoundaryCrossing, Delay, Event, HandoffRecord
from .report_sql import PI, Scope, Walker, rank

HO = cast(Table, HandoffRecord.__table__)
BC = cast(Table, BoundaryCrossing.__table__)
DL = cast(Table, Delay.__table__)
EV = cast(Table, Event.__table__)

# Past this many actor pairs, one median each (an index walk per pair) costs more than one sort of all.
MAX_PAIR_WALKS = 2000


def _latency_groups(
    session: Session, scope: Scope, keys: tuple[str, str]
) -> list[tuple[Any, Any, int, float, float]]:
    """(key1, key2, count, mean latency, median latency) per group of handoffs."""
    a, b = HO.c[keys[0]], HO.c[keys[1]]
    where = scope.of(HO.c.instance_id)
    rows = session.execute(
        select(a, b, func.count().label("n"), func.avg(HO.c.latency_seconds).label("mean"))
        .where(*where)
        .group_by(a, b)
    ).all()
    if len(rows) > MAX_PAIR_WALKS:
        medians = _medians_by_sort(session, scope, keys)
        return [(r[0], r[1], int(r.n), float(r.mean), medians[(r[0], r[1])]) for r in rows]
    walker = Walker(session, HO.c.latency_seconds, where, [a, b])
    out = []
    for r in rows:
        median = walker.value((r[0], r[1]), rank(50, r.n), r.n)
        out.append((r[0], r[1], int(r.n), float(r.mean), float(median or 0.0)))
    return out


def _medians_by_sort(session: Session, scope: Scope, keys: tuple[str, str]) -> dict[tuple[Any, Any], float]:
    """Nearest-rank medians of every group in one window pass (for very many groups)."""
    a, b = HO.c[keys[0]], HO.c[keys[1]]
    ranked = (
        select(
            a.label("k1"),
            b.label("k2"),
            HO.c.latency_seconds.label("x"),
            func.row_number().over(partition_by=[a, b], order_by=HO.c.latency_seconds).label("rn"),
            func.count().over(partition_by=[a, b]).label("n"),
        )
        .where(*scope.of(HO.c.instance_id))
        .subquery("ranked")
    )
    rows = session.execute(
        select(ranked.c.k1, ranked.c.k2, ranked.c.x).where(
            ranked.c.rn == (literal(50) * ranked.c.n + 99) // 100
        )
    )
    return {(r.k1, r.k2): float(r.x) for r in rows}


def handoff_matrix(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Lane x lane: number of handoffs, median (nearest rank) and mean latency."""
    groups = _latency_groups(session, scope, ("from_lane", "to_lane"))
    return [
        {
            "from_lane": f or None,
            "to_lane": t or None,
            "count": n,
            "latency_p50": median,
            "latency_mean": mean,
        }
        for f, t, n, mean, median in sorted(groups, key=lambda g: (g[0] or "", g[1] or ""))
    ]


def slowest_pairs(session: Session, scope: Scope, limit: int = 10) -> list[dict[str, Any]]:
    """Actor -> actor pairs ranked by median handoff latency (nearest rank), then mean; top `limit`."""
    groups = _latency_groups(session, scope, ("from_actor", "to_actor"))
    top = sorted(groups, key=lambda g: (-g[4], -g[3], g[0] or "", g[1] or ""))[:limit]
    return [
        {
            "from_actor": f or None,
            "to_actor": t or None,
            "count": n,
            "latency_p50": median,
            "latency_mean": mean,
        }
        for f, t, n, mean, median in top
    ]


def crossings(session: Session, scope: Scope) -> dict[str, Any]:
    """Boundary crossings per instance (mean, max over every scoped instance), per lane pair, and
    ping-pong per activity: credited to the human task the work returned to (see `_ping_pong`)."""
    where = scope.of(BC.c.instance_id)
    instances = (
        session.execute(select(func.count()).select_from(PI).where(*scope.instance_conditions())).scalar()
        or 0
    )
    per_instance = (
        select(func.count().label("n"))
        .select_from(BC)
        .where(*where)
        .group_by(BC.c.instance_id)
        .subquery("bci")
    )
    total, most = session.execute(select(func.sum(per_instance.c.n), func.max(per_instance.c.n))).one()
    pairs = session.execute(
        select(
            BC.c.from_lane,
            BC.c.to_lane,
            func.count().label("n"),
            func.sum(case((BC.c.ping_pong, 1), else_=0)).label("pp"),
        )
        .where(*where)
        .group_by(BC.c.from_lane, BC.c.to_lane)
    ).all()
    return {
        "instances": int(instances),
        "total": int(total or 0),
        "per_instance_mean": (int(total or 0) / instances) if instances else None,
        "per_instance_max": int(most or 0) if instances else None,
        "by_lanes": [
            {
                "from_lane": r.from_lane or None,
                "to_lane": r.to_lane or None,
                "count": int(r.n),
                "ping_pong": int(r.pp),
            }
            for r in sorted(pairs, key=lambda r: (r.from_lane or "", r.to_lane or ""))
        ],
        "ping_pong": _ping_pong(session, scope),
    }


def _ping_pong(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """Ping-pong per activity, most first. A crossing is recorded at the activity that opens in the new
    lane; when that is an automated step (a script that checks the revised order again), the work
    returned to the next human task opened in that lane of the instance, and that task gets the credit.
    A human task's record points at its `task_ready` event; an automated one's at its completion."""
    target = aliased(EV, name="target")
    later = aliased(EV, name="later")
    credited = aliased(EV, name="credited")
    next_human = (
        select(later.c.id)
        .where(
            later.c.instance_id == BC.c.instance_id,
            later.c.id > BC.c.to_event_id,
            later.c.kind == "task_ready",
            later.c.lane == BC.c.to_lane,
        )
        .order_by(later.c.id)
        .limit(1)
        .scalar_subquery()
    )
    credit = (
        select(
            func.coalesce(case((target.c.kind == "task_ready", target.c.id)), next_human, target.c.id).label(
                "event_id"
            )
        )
        .select_from(BC.join(target, target.c.id == BC.c.to_event_id))
        .where(BC.c.ping_pong, *scope.of(BC.c.instance_id))
        .subquery("credit")
    )
    rows = session.execute(
        select(
            credited.c.element_id,
            func.max(credited.c.element_name).label("name"),
            func.count().label("n"),
        )
        .select_from(credit.join(credited, credited.c.id == credit.c.event_id))
        .group_by(credited.c.element_id)
        .order_by(func.count().desc(), credited.c.element_id)
    )
    return [{"element": r.element_id, "name": r.name, "count": int(r.n)} for r in rows]


def delays(session: Session, scope: Scope) -> dict[str, Any]:
    """SLA breaches (delay records): by lane and by activity (task waits), and instance cycle times."""
    where = [DL.c.kind == "task_wait", *scope.of(DL.c.instance_id)]
    lane = func.coalesce(DL.c.lane, "").label("lane")
    by_lane = session.execute(
        select(
            lane,
            func.count().label("n"),
            func.sum(DL.c.waited_seconds - DL.c.threshold_seconds).label("over"),
        )
        .where(*where)
        .group_by(lane)
        .order_by(func.count().desc(), lane)
    )
    by_activity = session.execute(
        select(
            DL.c.element,
            func.max(DL.c.name).label("name"),
            lane,
            func.count().label("n"),
            func.sum(case((DL.c.still_open, 1), else_=0)).label("open"),
            func.max(DL.c.waited_seconds).label("worst"),
        )
        .where(*where)
        .group_by(DL.c.element, lane)
        .order_by(func.count().desc(), DL.c.element)
    )
    cycle = session.execute(
        select(func.count()).where(and_(DL.c.kind == "cycle_time", *scope.of(DL.c.instance_id)))
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


__all__ = ["crossings", "delays", "handoff_matrix", "slowest_pairs"]

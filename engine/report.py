"""The CPO report (`handoff report`): figures from storage.analytics, as JSON and as terminal text.

Schema, window rule and percentile method: docs/report.md. Definitions: DESIGN §3. No click here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from storage import analytics as an

from .text import table

SCHEMA_VERSION = 1
WIDTH = 100


@dataclass(frozen=True)
class Report:
    """Every figure of one report; `to_json()` is the documented, stable shape."""

    window: dict[str, Any]
    instances: dict[str, Any]
    processes: list[dict[str, Any]]
    cycle_time: dict[str, Any]
    throughput: list[dict[str, Any]]
    flow_efficiency: float | None
    lanes: list[dict[str, Any]]
    handoff_matrix: list[dict[str, Any]]
    slowest_pairs: list[dict[str, Any]]
    crossings: dict[str, Any]
    rework: list[dict[str, Any]]
    delays: dict[str, Any]
    bottlenecks: list[dict[str, Any]]
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA_VERSION,
            "window": self.window,
            "instances": self.instances,
            "processes": self.processes,
            "cycle_time": self.cycle_time,
            "throughput": self.throughput,
            "flow_efficiency": self.flow_efficiency,
            "lanes": self.lanes,
            "handoff_matrix": self.handoff_matrix,
            "slowest_pairs": self.slowest_pairs,
            "crossings": self.crossings,
            "rework": self.rework,
            "delays": self.delays,
            "bottlenecks": self.bottlenecks,
        }

    def text(self) -> str:
        return render_text(self)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _iso_week(monday: str) -> str:
    year, week, _ = date.fromisoformat(monday).isocalendar()
    return f"{year}-W{week:02d}"


def build_report(
    session: Session,
    *,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Report:
    """Compute the report for instances of `process_id` (or all) started in [since, until)."""
    inst = an.scoped_instances(process_id, since, until)
    counts = an.instance_counts(session, inst)
    cycle, cycle_by_process = an.cycle_time(session, inst)
    first, last = an.window_bounds(session, inst)

    by_status: dict[str, int] = {}
    processes: dict[str, dict[str, Any]] = {}
    for row in counts:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["count"]
        entry = processes.setdefault(
            row["process"], {"process": row["process"], "instances": 0, "by_status": {}}
        )
        entry["instances"] += row["count"]
        entry["by_status"][row["status"]] = row["count"]
    for pid, entry in processes.items():
        entry["cycle_time"] = cycle_by_process.get(pid, an.empty_stats())

    processing = an.processing_total(session, inst)
    cycle_total = cycle["total"]
    lanes = an.lanes(session, inst)
    for lane in lanes:
        waited = lane.pop("waiting_in_completed_instances")
        lane["waiting_share"] = (waited / cycle_total) if cycle_total else None

    return Report(
        window={
            "process": process_id,
            "since": _iso(since),
            "until": _iso(until),
            "rule": "instances started in [since, until)",
            "first_start": _iso(first),
            "last_start": _iso(last),
        },
        instances={"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        processes=[processes[k] for k in sorted(processes)],
        cycle_time=cycle,
        throughput=[
            {"week": _iso_week(monday), "week_start": monday, "completed": n}
            for monday, n in an.throughput(session, inst)
        ],
        flow_efficiency=(processing / cycle_total) if cycle_total else None,
        lanes=lanes,
        handoff_matrix=an.handoff_matrix(session, inst),
        slowest_pairs=an.slowest_pairs(session, inst),
        crossings=an.crossings(session, inst),
        rework=an.rework(session, inst),
        delays=an.delays(session, inst),
        bottlenecks=an.bottlenecks(session, inst),
    )


# --- text --------------------------------------------------------------------------------------------


def dur(seconds: float | None) -> str:
    """A short duration: 45s, 12m, 3h05m, 2d04h."""
    if seconds is None:
        return "-"
    total = int(round(seconds))
    if total < 60:
        return f"{total}s"
    minutes, _ = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _table(headers: list[str], rows: list[list[Any]], limits: list[int] | None = None) -> str:
    return table(headers, rows, limits or [30] * len(headers))


def _section(title: str, body: str) -> str:
    return f"{title}\n{body}\n"


def render_text(report: Report) -> str:
    w = report.window
    scope = w["process"] or "all processes"
    span = f"started {w['since'] or 'any time'} .. {w['until'] or 'now'}"
    out = [f"Handoff report: {scope}, instances {span}", "=" * min(WIDTH, 72), ""]
    inst = report.instances
    statuses = ", ".join(f"{k} {v}" for k, v in inst["by_status"].items()) or "none"
    out.append(f"Instances: {inst['total']} ({statuses})")
    c = report.cycle_time
    out.append(
        f"Cycle time ({c['count']} completed): p50 {dur(c['p50'])}  p90 {dur(c['p90'])}  "
        f"p99 {dur(c['p99'])}  mean {dur(c['mean'])}"
    )
    out.append(f"Flow efficiency: {_pct(report.flow_efficiency)} (processing / cycle time)")
    cr = report.crossings
    mean = "-" if cr["per_instance_mean"] is None else f"{cr['per_instance_mean']:.2f}"
    out.append(f"Boundary crossings per instance: mean {mean}, max {cr['per_instance_max'] or 0}")
    out.append(
        f"SLA breaches: {report.delays['task_waits']} task waits, {report.delays['cycle_times']} cycle times"
    )
    out.append("")
    if len(report.processes) > 1:
        rows = [
            [p["process"], p["instances"], p["by_status"].get("completed", 0), dur(p["cycle_time"]["p50"]),
             dur(p["cycle_time"]["p90"])]
            for p in report.processes
        ]  # fmt: skip
        out.append(_section("Processes", _table(["PROCESS", "INSTANCES", "DONE", "CYCLE P50", "P90"], rows)))
    if report.throughput:
        rows = [[t["week"], t["week_start"], t["completed"]] for t in report.throughput]
        out.append(_section("Throughput per week", _table(["WEEK", "FROM", "COMPLETED"], rows)))
    if report.lanes:
        rows = [
            [ln["lane"] or "(none)", ln["tasks_done"], dur(ln["waiting"]["p50"]), dur(ln["waiting"]["p90"]),
             dur(ln["processing"]["p50"]), dur(ln["processing"]["p90"]), _pct(ln["waiting_share"])]
            for ln in report.lanes
        ]  # fmt: skip
        headers = ["LANE", "DONE", "WAIT P50", "WAIT P90", "WORK P50", "WORK P90", "WAIT SHARE"]
        out.append(_section("Lanes (human tasks)", _table(headers, rows, [24, 6, 9, 9, 9, 9, 10])))
    if report.handoff_matrix:
        rows = [
            [h["from_lane"] or "(none)", h["to_lane"] or "(none)", h["count"], dur(h["latency_p50"])]
            for h in report.handoff_matrix
        ]
        out.append(
            _section(
                "Handoffs lane -> lane",
                _table(["FROM", "TO", "COUNT", "MEDIAN LATENCY"], rows, [30, 30, 7, 14]),
            )
        )
    if report.slowest_pairs:
        rows = [
            [
                p["from_actor"] or "-",
                p["to_actor"] or "-",
                p["count"],
                dur(p["latency_p50"]),
                dur(p["latency_mean"]),
            ]
            for p in report.slowest_pairs
        ]
        out.append(
            _section(
                "Slowest handoffs actor -> actor (by median latency)",
                _table(["FROM", "TO", "COUNT", "MEDIAN", "MEAN"], rows, [25, 25, 7, 9, 9]),
            )
        )
    if report.bottlenecks:
        rows = [
            [
                b["name"] or b["element"],
                b["lane"] or "",
                b["tasks"],
                dur(b["waiting_total"]),
                dur(b["waiting_mean"]),
            ]
            for b in report.bottlenecks[:10]
        ]
        out.append(
            _section(
                "Bottlenecks (activities by total waiting time)",
                _table(["ACTIVITY", "LANE", "TASKS", "WAITED", "MEAN"], rows, [36, 24, 7, 9, 9]),
            )
        )
    if report.delays["by_activity"]:
        rows = [
            [
                d["name"] or d["element"],
                d["lane"] or "",
                d["count"],
                d["still_open"],
                dur(d["worst_wait_seconds"]),
            ]
            for d in report.delays["by_activity"]
        ]
        out.append(
            _section(
                "SLA breaches by activity",
                _table(["ACTIVITY", "LANE", "BREACHES", "OPEN", "WORST WAIT"], rows, [36, 24, 8, 5, 10]),
            )
        )
    if report.delays["by_lane"]:
        rows = [
            [d["lane"] or "(none)", d["count"], dur(d["over_threshold_seconds"])]
            for d in report.delays["by_lane"]
        ]
        out.append(_section("SLA breaches by lane", _table(["LANE", "BREACHES", "OVER SLA"], rows)))
    if cr["ping_pong"] or report.rework:
        counts: dict[str, list[Any]] = {}
        for p in cr["ping_pong"]:
            counts.setdefault(p["element"], [p["name"] or p["element"], 0, 0])[1] = p["count"]
        for r in report.rework:
            counts.setdefault(r["element"], [r["name"] or r["element"], 0, 0])[2] = r["count"]
        rows = [v for _, v in sorted(counts.items(), key=lambda kv: (-kv[1][1] - kv[1][2], kv[0]))]
        out.append(
            _section(
                "Ping-pong and rework per activity",
                _table(["ACTIVITY", "PING-PONG", "REWORK"], rows, [50, 9, 6]),
            )
        )
    return "\n".join(out).rstrip() + "\n"


__all__ = ["Report", "build_report", "dur", "render_text"]

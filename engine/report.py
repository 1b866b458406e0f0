"""The CPO report (`handoff report`): figures from storage.analytics, as JSON and as terminal text.

Schema, window rule and percentile method: docs/report.md. Definitions: DESIGN §3. No click here.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
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
    with an.scoped_instances(session, process_id, since, until) as scope:
        return _build(session, scope, process_id, since, until)


def _build(
    session: Session,
    scope: an.Scope,
    process_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> Report:
    counts = an.instance_counts(session, scope)
    cycle, cycle_by_process = an.cycle_time(session, scope)
    first, last = an.window_bounds(session, scope)

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
        entry["cycle_histogram"] = an.cycle_histogram(session, scope, pid, entry["cycle_time"]["p99"])
        entry["longest"] = an.longest(session, scope, pid)

    cycle_total = cycle["total"]
    lanes = an.lanes(session, scope)
    processing = sum(lane.pop("processing_in_completed_instances") for lane in lanes)
    all_waiting = sum(lane["waiting"]["total"] for lane in lanes)
    for lane in lanes:
        waited = lane.pop("waiting_in_completed_instances")
        lane["waiting_share"] = (waited / cycle_total) if cycle_total else None
        lane["share_of_waiting"] = (lane["waiting"]["total"] / all_waiting) if all_waiting else None

    return Report(
        window={
            "process": process_id,
            "since": _iso(since),
            "until": _iso(until),
            "rule": "instances started in [since, until)",
            "first_start": _iso(first),
            "last_start": _iso(last),
            "history_end": _iso(an.last_change(session, scope)),
        },
        instances={"total": sum(by_status.values()), "by_status": dict(sorted(by_status.items()))},
        processes=[processes[k] for k in sorted(processes)],
        cycle_time=cycle,
        throughput=[
            {"week": _iso_week(monday), "week_start": monday, "completed": n}
            for monday, n in an.throughput(session, scope)
        ],
        flow_efficiency=(processing / cycle_total) if cycle_total else None,
        lanes=lanes,
        handoff_matrix=an.handoff_matrix(session, scope),
        slowest_pairs=an.slowest_pairs(session, scope),
        crossings=an.crossings(session, scope),
        rework=an.rework(session, scope),
        delays=an.delays(session, scope),
        bottlenecks=an.bottlenecks(session, scope),
    )


def week_is_partial(week_start: str, history_end: str | None) -> bool:
    """A throughput week is partial when the history (`window.history_end`) ends before the week does:
    its count is not comparable with the full weeks before it."""
    if history_end is None:
        return False
    monday = datetime.fromisoformat(week_start).replace(tzinfo=UTC)
    return datetime.fromisoformat(history_end.replace("Z", "+00:00")) < monday + timedelta(days=7)


def when(iso: str | None) -> str:
    """'2026-03-02T09:00:00Z' as a person reads it: 'Mon 2 Mar 2026 09:00'."""
    if not iso:
        return "-"
    at = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return f"{at:%a} {at.day} {at:%b %Y %H:%M}"


def window_sentence(window: Mapping[str, Any], total: int) -> str:
    """The report's scope in words (docs/report.md, window rule)."""
    since, until = window.get("since"), window.get("until")
    if not (since or until or total):
        return "No instances to report on yet."
    if since and until:
        text = f"Instances started between {when(since)} and {when(until)} UTC (the end not included)"
    elif since:
        text = f"Instances started from {when(since)} UTC on"
    elif until:
        text = f"Instances started before {when(until)} UTC"
    else:
        text = f"Instances started between {when(window.get('first_start'))} and {when(window.get('last_start'))} UTC"
    count = f"{total} instance{'' if total == 1 else 's'}"
    if not (since or until):
        count = f"all {count}"
    process = window.get("process")
    text += f": {count} of {f'process {process}' if process else 'all processes'}."
    if total:
        text += f" Their history up to {when(window.get('history_end'))} UTC."
    return text


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
    out = [f"Handoff report: {w['process'] or 'all processes'}"]
    out += textwrap.wrap(window_sentence(w, report.instances["total"]), WIDTH)
    out += ["=" * min(WIDTH, 72), ""]
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


__all__ = ["Report", "build_report", "dur", "render_text", "week_is_partial", "when", "window_sentence"]

"""`handoff demo`: the main job on a fresh machine.

Sets up a database, deploys the examples, registers operators per lane, simulates about a quarter of
order-to-cash work on the real engine (engine.simulation), writes the HTML report and sums it up in a
headline: where work waits most, the busiest handoffs, the worst boundary, the SLA breaches.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from bpmn.durations import format_duration
from storage import Database

from .facade import Handoff
from .files import atomic_file
from .report import Report
from .simulation import Scenario, SimulationResult, simulate

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILE = EXAMPLES / "order-to-cash.bpmn"
PROCESS = "order_to_cash"
# The example's staffing: Finance, with two people for the most work, is the bottleneck it was built with.
OPERATORS = {
    "Customer Service": ["ann"],
    "Sales": ["sam"],
    "Finance": ["fay", "fred"],
    "Warehouse": ["wes", "wyn"],
}
ADMIN, DESIGNER, ANALYST, STARTER = "ada", "dan", "cleo", "web-shop"
DEFAULT_INSTANCES = 2500  # about a quarter at the example's arrival rate (1.15 orders an hour)


@dataclass(frozen=True)
class DemoResult:
    simulation: SimulationResult
    report: Report
    report_path: Path | None
    seconds: float

    def headline(self) -> dict[str, Any]:
        r = self.report
        waits = [ln for ln in r.lanes if ln["lane"]]
        total_wait = sum(ln["waiting"]["total"] or 0 for ln in waits)
        worst = max(waits, key=lambda ln: ln["waiting"]["total"] or 0, default=None)
        activity = next((b for b in r.bottlenecks if worst and b["lane"] == worst["lane"]), None)
        busiest = sorted(r.handoff_matrix, key=lambda h: -h["count"])[:3]
        boundaries = sorted(r.crossings["by_lanes"], key=lambda c: (-c["ping_pong"], -c["count"]))
        return {
            "waits_most": {
                "lane": worst["lane"],
                "mean_wait_seconds": worst["waiting"]["mean"],
                "share_of_waiting": (worst["waiting"]["total"] / total_wait) if total_wait else None,
                "activity": activity["name"] if activity else None,
                "activity_mean_wait_seconds": activity["waiting_mean"] if activity else None,
            }
            if worst
            else None,
            "busiest_handoffs": [
                {"from_lane": h["from_lane"], "to_lane": h["to_lane"], "count": h["count"]} for h in busiest
            ],
            "worst_boundary": boundaries[0] if boundaries else None,
            "sla_breaches": {
                "task_waits": r.delays["task_waits"],
                "cycle_times": r.delays["cycle_times"],
                "by_lane": r.delays["by_lane"],
            },
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "simulation": self.simulation.to_json(),
            "headline": self.headline(),
            "report": str(self.report_path) if self.report_path else None,
            "seconds": round(self.seconds, 2),
        }

    def text(self) -> str:
        sim, head = self.simulation, self.headline()
        span = timedelta(seconds=sim.span_seconds)
        staff = sum(len(f.operators) for f in sim.lanes.values())
        lines = [
            f"Simulated {sim.started:,} orders of order-to-cash: {format_duration(span)} of work by {staff} "
            f"operators in {len(sim.lanes)} lanes, in {self.seconds:.1f} s "
            f"({sim.started / self.seconds:.0f} orders/s through the engine).",
            "",
        ]
        w = head["waits_most"]
        if w:
            share = f", {100 * w['share_of_waiting']:.0f}% of all waiting" if w["share_of_waiting"] else ""
            where = (
                f" (worst: {w['activity']}, mean {_d(w['activity_mean_wait_seconds'])})"
                if w["activity"]
                else ""
            )
            lines.append(
                f"Where work waits most:  {w['lane']}: mean wait {_d(w['mean_wait_seconds'])}{share}{where}"
            )
        if head["busiest_handoffs"]:
            pairs = " · ".join(
                f"{h['from_lane']} -> {h['to_lane']} {h['count']:,}" for h in head["busiest_handoffs"]
            )
            lines.append(f"Busiest handoffs:       {pairs}")
        b = head["worst_boundary"]
        if b:
            pp = f", {b['ping_pong']:,} of them ping-pong (sent straight back)" if b["ping_pong"] else ""
            lines.append(
                f"Worst boundary:         {b['from_lane']} -> {b['to_lane']}: {b['count']:,} crossings{pp}"
            )
        s = head["sla_breaches"]
        by_lane = ", ".join(f"{x['lane']} {x['count']:,}" for x in s["by_lane"])
        lines.append(
            f"SLA breaches:           {s['task_waits']:,} task waits" + (f" ({by_lane})" if by_lane else "")
            + f", {s['cycle_times']:,} cycle times"
        )  # fmt: skip
        if w:
            lane, more = w["lane"], len(sim.lanes[w["lane"]].operators) + 1 if w["lane"] in sim.lanes else 2
            lines += [
                "",
                f"Bottleneck: {lane}. What if it had {more} people? (docs/what-if.md)",
                f"  handoff --db sqlite:///whatif.db simulate examples/order-to-cash.bpmn -n {sim.started} "
                f"--staff '{lane}={more}'",
            ]
        if self.report_path:
            lines += ["", f"Report: {self.report_path}"]
        return "\n".join(lines)


def register_people(app: Handoff) -> None:
    """The demo's organisation: an admin, a designer, the CPO's analyst, the web shop that starts
    orders, and the operators of each lane. Skipped on a database that has users already."""
    if not app.single_user_mode():
        return
    app.add_user(ADMIN, role="admin", actor=ADMIN)
    app.add_user(DESIGNER, role="designer", actor=ADMIN)
    app.add_user(ANALYST, role="analyst", actor=ADMIN)
    app.add_user(STARTER, role="operator", actor=ADMIN)
    for lane, people in OPERATORS.items():
        for name in people:
            app.add_user(name, lanes=[lane], role="operator", actor=ADMIN)


def _d(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(timedelta(seconds=round(seconds)))


def run_demo(
    db_url: str,
    *,
    instances: int = DEFAULT_INSTANCES,
    seed: int = 1,
    report_path: Path | None = None,
    progress: Callable[[int], Any] | None = None,
) -> DemoResult:
    began = time.perf_counter()
    app = Handoff(Database(db_url))
    try:
        app.init()
        register_people(app)
        app.deploy(sorted(EXAMPLES.glob("*.bpmn")), actor=DESIGNER)
    finally:
        app.db.dispose()
    # Operators default to each lane's registered users (Handoff.lane_members).
    scenario = Scenario(PROCESS, instances, seed=seed, starter=STARTER)
    result = simulate(db_url, scenario, progress=progress)
    app = Handoff(Database(db_url))
    try:
        report = app.report(process_id=PROCESS, actor=ANALYST)
        if report_path is not None:
            html = app.report_html(process_id=PROCESS, actor=ANALYST)
            with atomic_file(report_path) as out:
                out.write(html)
    finally:
        app.db.dispose()
    return DemoResult(result, report, report_path, time.perf_counter() - began)


@contextmanager
def scratch_database(db_url: str | None, *, keep: bool) -> Iterator[str]:
    """The demo's database: `db_url`, or a temporary SQLite file deleted afterwards unless `keep`."""
    if db_url is not None:
        yield db_url
        return
    folder = tempfile.mkdtemp(prefix="handoff-demo-")
    try:
        yield f"sqlite:///{os.path.join(folder, 'handoff.db')}"
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)

"""`handoff demo`: the main job on a fresh machine.

Sets up a database, deploys the examples, registers operators per lane, simulates about a quarter of
order-to-cash work on the real engine (engine.simulation), writes the HTML report and sums it up in a
headline: where work waits most, the busiest handoffs, the worst boundary, the SLA breaches.
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from bpmn.durations import format_duration

from .errors import Forbidden, InvalidInput
from .facade import Handoff
from .files import atomic_file
from .report import Report
from .signin import set_password
from .simulation import NO_LANE, Scenario, SimulationResult, simulate

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
WHAT_IF_DB = "sqlite:///whatif.db"


def invoked_as(argv0: str | None = None) -> str:
    """How to write the `handoff` command so that a line the demo prints runs as printed: `handoff` when
    that is the one on PATH, else the path it was run by (`.venv/bin/handoff` in a virtual environment
    that is not activated)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name != "handoff":
        return "handoff"  # run as `python cli.py`, `python -m ...` or from a test: say the usual name
    on_path = shutil.which("handoff")
    if on_path and os.path.realpath(on_path) == os.path.realpath(argv0):
        return "handoff"
    return argv0


def _shown_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (`examples/order-to-cash.bpmn`
    in a clone), else absolute."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


@dataclass(frozen=True)
class DemoResult:
    simulation: SimulationResult
    report: Report
    report_path: Path | None
    seconds: float
    password: str | None = None  # the people's web password, when this run registered them
    program: str = field(default_factory=invoked_as)

    def people(self) -> dict[str, Any]:
        """Who the demo registered: `--user NAME` acts as one of them on the demo's database."""
        return {
            "admin": ADMIN,
            "designer": DESIGNER,
            "analyst": ANALYST,
            "starter": STARTER,
            "operators": {lane: list(names) for lane, names in OPERATORS.items()},
        }

    def browser(self, db_url: str | None) -> dict[str, Any] | None:
        """How to look at the result in the browser: `handoff serve` on the demo's database, signed in as
        one of its people. `db_url` is None when the database was temporary (then: how to keep one)."""
        if self.password is None:
            return None
        if db_url is None:
            return None  # the database is gone: the CLI's note says how to keep one
        return {
            "serve": shlex.join([self.program, "--db", db_url, "serve"]),
            "url": "http://127.0.0.1:8080/",
            "password": self.password,
            "sign_in": {"dashboard": ANALYST, "my_work": OPERATORS["Finance"][0], "admin": ADMIN},
        }

    def browser_text(self, db_url: str | None) -> list[str]:
        web = self.browser(db_url)
        if web is None:
            return []
        who = web["sign_in"]
        return [
            "",
            f"Look at it in the browser: {web['serve']}",
            f"  then open {web['url']} and sign in as {who['dashboard']} (the dashboard), {who['my_work']} "
            f"(Finance's work) or {who['admin']} (admin), each with the password {web['password']}",
        ]

    def what_if(self) -> dict[str, Any] | None:
        """The same simulation with one more person in the lane where work waits most, everything else as
        in the demo (the same orders, seed and staff elsewhere), as commands that run as printed."""
        head = self.headline()["waits_most"]
        sim = self.simulation
        if not head or head["lane"] not in sim.lanes:
            return None
        lane = head["lane"]
        staff = {name: len(f.operators) for name, f in sim.lanes.items() if name != NO_LANE}
        before = staff[lane]
        staff[lane] = before + 1
        scenario = sim.scenario
        simulate_args = [self.program, "--db", WHAT_IF_DB, "simulate", _shown_path(EXAMPLE_FILE)]
        simulate_args += ["-n", str(scenario.instances), "--seed", str(scenario.seed)]
        for name, count in staff.items():
            simulate_args += ["--staff", f"{name}={count}"]
        return {
            "lane": lane,
            "staff_before": before,
            "staff": staff,
            "commands": [shlex.join([self.program, "--db", WHAT_IF_DB, "init"]), shlex.join(simulate_args)],
        }

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
            "people": self.people(),
            "what_if": self.what_if(),
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
        lines += [f"Warning: {warning}" for warning in sim.warnings()]
        what_if = self.what_if()
        if what_if:
            lane, before, after = what_if["lane"], what_if["staff_before"], what_if["staff"][what_if["lane"]]
            lines += [
                "",
                f"Bottleneck: {lane}. What if it had {after} people instead of {before}? The same orders, "
                f"everything else as here (docs/what-if.md):",
                *(f"  {command}" for command in what_if["commands"]),
            ]
        people = self.people()
        operators = " · ".join(f"{lane} {', '.join(names)}" for lane, names in people["operators"].items())
        lines += [
            "",
            "People the demo registered (act as one with --user NAME on its database):",
            f"  admin {people['admin']} · designer {people['designer']} · analyst {people['analyst']} · "
            f"{people['starter']} starts the orders",
            f"  operators: {operators}",
        ]
        if self.report_path:
            lines += ["", f"Report: {self.report_path}"]
        return "\n".join(lines)


def register_people(app: Handoff) -> str | None:
    """The demo's organisation: an admin, a designer, the CPO's analyst, the web shop that starts
    orders, and the operators of each lane, who sign in to `handoff serve` with one password made for
    this run (returned; never a fixed one: a kept demo database may end up on a server). Skipped on a
    database that has users already (None)."""
    if not app.single_user_mode():
        return None
    app.add_user(ADMIN, role="admin", actor=ADMIN)
    app.add_user(DESIGNER, role="designer", actor=ADMIN)
    app.add_user(ANALYST, role="analyst", actor=ADMIN)
    app.add_user(STARTER, role="operator", actor=ADMIN)
    for lane, people in OPERATORS.items():
        for name in people:
            app.add_user(name, lanes=[lane], role="operator", actor=ADMIN)
    password = "demo-" + secrets.token_urlsafe(6)
    for name in (ADMIN, DESIGNER, ANALYST, *(n for people in OPERATORS.values() for n in people)):
        set_password(app, name, password, actor=ADMIN)
    return password


def refuse_used_database(app: Handoff) -> None:
    """The demo's figures are its own: run again on a database that holds instances, it would add to them
    (a third run counted 600 orders for "200 orders"), and on one with other people it would simulate
    into someone's real work. Nothing is changed when it refuses."""
    where = app.db.display_url()
    if not app.single_user_mode():
        try:
            roles = {user.name: user.role for user in app.users(actor=ADMIN)}
        except Forbidden:
            roles = {}
        if roles.get(ADMIN) != "admin":
            raise InvalidInput(
                f"database {where} has users of its own: the demo registers its own people on an empty "
                f"database; name a new one with --db, or leave --db out for a temporary one"
            )
    instances = sum(sum(p.instances.values()) for p in app.processes(actor=ADMIN))
    if instances:
        raise InvalidInput(
            f"database {where} already holds {instances:,} instance{'s' if instances != 1 else ''} (an earlier "
            f"demo?): the demo starts from an empty database so that its figures are its own; name a new one "
            f"with --db, or leave --db out for a temporary one"
        )


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
    app = Handoff(db_url)  # a bad URL is SetupRequired, one line from the CLI
    try:
        app.init()
        refuse_used_database(app)
        password = register_people(app)
        app.deploy(sorted(EXAMPLES.glob("*.bpmn")), actor=DESIGNER)
    finally:
        app.db.dispose()
    # Operators default to each lane's registered users (Handoff.lane_members).
    scenario = Scenario(PROCESS, instances, seed=seed, starter=STARTER)
    result = simulate(db_url, scenario, progress=progress)
    app = Handoff(db_url)  # a bad URL is SetupRequired, one line from the CLI
    try:
        report = app.report(process_id=PROCESS, actor=ANALYST)
        if report_path is not None:
            html = app.report_html(process_id=PROCESS, actor=ANALYST)
            with atomic_file(report_path) as out:
                out.write(html)
    finally:
        app.db.dispose()
    return DemoResult(result, report, report_path, time.perf_counter() - began, password)


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

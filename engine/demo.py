"""`handoff demo`: the order-to-cash example run end to end by simulated operators on a virtual clock.

A first, small discrete-event simulation: orders arrive at random, each lane's operators take the
oldest ready task of their lane, and every task takes the time its `duration` property says. It drives
the real services, so the history it leaves is what live use would leave.
"""

from __future__ import annotations

import heapq
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import mean
from typing import Any

from bpmn.durations import format_duration, parse_duration
from storage import Database

from .clock import ManualClock
from .services import Handoff
from .views import TaskView

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
EXAMPLE_FILE = EXAMPLES / "order-to-cash.bpmn"
OPERATORS = {
    "Customer Service": ["ann", "carl"],
    "Sales": ["sam"],
    "Finance": ["fay"],
    "Warehouse": ["wes", "wyn"],
}
_DIST = re.compile(r"^\s*(lognormal|exponential)\(\s*([^,\s)]+)\s*(?:,\s*([\d.]+))?\s*\)\s*$")


def sample_duration(text: str | None, rng: random.Random, default: timedelta) -> timedelta:
    """`PT20M`, `lognormal(PT20M, 0.5)` (median, sigma) or `exponential(PT1H)` (mean)."""
    if not text:
        return default
    match = _DIST.match(text)
    if not match:
        return parse_duration(text)
    kind, base, sigma = match.group(1), parse_duration(match.group(2)).total_seconds(), match.group(3)
    if kind == "exponential":
        return timedelta(seconds=rng.expovariate(1 / base))
    return timedelta(seconds=base * math.exp(rng.gauss(0, float(sigma or 0.5))))


def form_data(task: TaskView, properties: dict[str, str], rng: random.Random) -> dict[str, Any]:
    """Values a simulated operator enters: defaults, weighted enum choices, booleans by p_true."""
    data: dict[str, Any] = {}
    for f in task.form:
        props = f.get("properties") or {}
        fid, kind = f["id"], f.get("type")
        if kind == "boolean":
            p_true = float(props.get("p_true") or properties.get(f"p_true.{fid}") or 0.5)
            data[fid] = rng.random() < p_true
        elif kind == "enum" and f.get("values"):
            values = [v["id"] for v in f["values"]]
            weights = [
                float(props.get(f"probability.{v}") or properties.get(f"probability.{fid}.{v}") or 1)
                for v in values
            ]
            data[fid] = rng.choices(values, weights)[0]
        elif f.get("default") is not None:
            data[fid] = f["default"]
        elif kind == "long":
            data[fid] = rng.randint(500, 20000)
        elif f.get("required"):
            data[fid] = f"{fid}-{rng.randint(1, 9999)}"
    return data


@dataclass
class DemoSummary:
    instances: int
    completed: int
    simulated: timedelta
    lane_waits: dict[str, list[float]] = field(default_factory=dict)
    lane_counts: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "instances": self.instances,
            "completed": self.completed,
            "simulated_seconds": self.simulated.total_seconds(),
            "lanes": {
                lane: {
                    "tasks": self.lane_counts.get(lane, 0),
                    "mean_wait_seconds": round(mean(w), 1) if w else 0.0,
                }
                for lane, w in self.lane_waits.items()
            },
        }

    def text(self) -> str:
        lines = [
            f"{self.instances} orders started, {self.completed} completed, "
            f"over {format_duration(self.simulated)} of simulated time",
            "",
            "where work waited (ready -> taken, per lane):",
        ]
        ranked = sorted(self.lane_waits.items(), key=lambda kv: -(mean(kv[1]) if kv[1] else 0))
        for lane, waits in ranked:
            avg = timedelta(seconds=mean(waits)) if waits else timedelta()
            lines.append(
                f"  {lane:<18} {self.lane_counts.get(lane, 0):>5} tasks  mean wait {format_duration(avg)}"
            )
        if ranked and ranked[0][1]:
            lines += ["", f"bottleneck: {ranked[0][0]} — work waits there longest"]
        return "\n".join(lines)


def run_demo(
    db_url: str,
    *,
    instances: int = 40,
    seed: int = 7,
    progress: Callable[[str], Any] | None = None,
) -> DemoSummary:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    clock = ManualClock(start)
    app = Handoff(Database(db_url), clock=clock)
    app.init()
    app.deploy([EXAMPLE_FILE], actor="designer")
    properties = _task_properties(app)

    # (time, sequence, kind, payload): arrivals and operators becoming free.
    agenda: list[tuple[datetime, int, str, Any]] = []
    seq = 0
    t = start
    for _ in range(instances):
        t += timedelta(seconds=rng.expovariate(1 / 1500))
        seq += 1
        heapq.heappush(agenda, (t, seq, "arrive", None))
    free: dict[str, list[str]] = {lane: list(ops) for lane, ops in OPERATORS.items()}
    started = 0
    while agenda:
        when, _, kind, payload = heapq.heappop(agenda)
        clock.set(when)
        if kind == "arrive":
            started += 1
            app.start("order_to_cash", business_key=f"SO-{1000 + started}", actor="web-shop")
            if progress and started % 10 == 0:
                progress(f"  {started}/{instances} orders started")
        else:
            lane, operator, task_id, data = payload
            app.complete(task_id, data=data, actor=operator)
            free[lane].append(operator)
        # Idle operators take the oldest ready task of their lane.
        for lane, operators in free.items():
            while operators:
                ready = [x for x in app.tasks(lane=lane) if x.state == "ready"]
                if not ready:
                    break
                task = ready[0]
                operator = operators.pop(0)
                app.claim(task.id, actor=operator)
                props = properties.get(task.element, {})
                took = sample_duration(props.get("duration"), rng, timedelta(minutes=15))
                seq += 1
                heapq.heappush(
                    agenda,
                    (clock() + took, seq, "done", (lane, operator, task.id, form_data(task, props, rng))),
                )

    summary = DemoSummary(instances=instances, completed=0, simulated=clock() - start)
    summary.completed = sum(1 for i in app.instances(limit=instances * 2) if i.status == "completed")
    for task in app.tasks(include_closed=True):
        if task.claimed_at is None or task.lane is None:
            continue
        summary.lane_waits.setdefault(task.lane, []).append(
            (task.claimed_at - task.created_at).total_seconds()
        )
        summary.lane_counts[task.lane] = summary.lane_counts.get(task.lane, 0) + 1
    app.db.dispose()
    return summary


def _task_properties(app: Handoff) -> dict[str, dict[str, str]]:
    from storage import repository as repo

    with app.db.reader() as session:
        definition = repo.latest_definition(session, "order_to_cash")
        assert definition is not None
        return {eid: e.get("properties") or {} for eid, e in definition.model["elements"].items()}

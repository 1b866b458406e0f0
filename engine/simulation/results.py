"""What a simulation run found: per lane the staff, the tasks done, the waits and how busy it was; the
instances started and completed, cycle times; as JSON and as the text `handoff simulate` prints."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bpmn.durations import format_duration

from .scenario import Scenario


@dataclass
class LaneFigures:
    lane: str
    operators: list[str]
    tasks_done: int = 0
    waits: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0

    def to_json(self, span: float, load: float | None = None) -> dict[str, Any]:
        waits = sorted(self.waits)
        return {
            "lane": self.lane,
            "staff": len(self.operators),
            "operators": list(self.operators),
            "tasks_done": self.tasks_done,
            "mean_wait_seconds": round(sum(waits) / len(waits), 1) if waits else None,
            "p90_wait_seconds": round(waits[max(0, math.ceil(0.9 * len(waits)) - 1)], 1) if waits else None,
            "utilisation": round(self.busy_seconds / (span * len(self.operators)), 3)
            if span > 0 and self.operators
            else None,
            "load": None if load is None else round(load, 3),
        }


@dataclass
class SimulationResult:
    scenario: Scenario
    arrivals_per_hour: float
    started: int = 0
    completed: int = 0
    failed: int = 0
    open_tasks: int = 0
    timers_fired: int = 0
    stuck_timers: int = 0
    operations: int = 0
    end: datetime | None = None
    lanes: dict[str, LaneFigures] = field(default_factory=dict)
    cycle_seconds: list[float] = field(default_factory=list)

    @property
    def span_seconds(self) -> float:
        return ((self.end or self.scenario.start) - self.scenario.start).total_seconds()

    def bottleneck(self) -> str | None:
        ranked = [(f.waits and sum(f.waits) / len(f.waits)) or 0.0 for f in self.lanes.values()]
        if not ranked or max(ranked) <= 0:
            return None
        return max(self.lanes.values(), key=lambda f: (sum(f.waits) / len(f.waits)) if f.waits else 0.0).lane

    def load(self, figures: LaneFigures) -> float | None:
        """The lane's offered load: the work that arrives per hour (arrival rate x the lane's work per
        instance, as this run drew it) over the work its operators can do per hour (within working
        hours). At 1 or more the queue is unstable: it grows for as long as instances arrive."""
        if not self.started or not figures.operators:
            return None
        share = self.scenario.hours.weekly_share() if self.scenario.hours else 1.0
        work_per_hour = self.arrivals_per_hour * figures.busy_seconds / self.started
        return work_per_hour / (3600 * len(figures.operators) * share)

    def warnings(self) -> list[str]:
        """One line per lane at or beyond its capacity, with what to change."""
        out = []
        for figures in self.lanes.values():
            load = self.load(figures)
            if load is None or load < 1:
                continue
            staff = len(figures.operators)
            enough = math.floor(load * staff) + 1
            out.append(
                f"{figures.lane} is loaded at {100 * load:.0f}% of its capacity ({staff} operator"
                f"{'s' if staff != 1 else ''}): work arrives faster than it is done, so its queue keeps "
                f"growing while instances arrive (an unstable queue) and its waits tell the length of the "
                f"run more than the process; give it at least {enough} (--staff '{figures.lane}={enough}') "
                f"or lower --arrivals"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        s = self.scenario
        cycle = sorted(self.cycle_seconds)
        return {
            "process": s.process,
            "seed": s.seed,
            "instances": s.instances,
            "arrivals_per_hour": round(self.arrivals_per_hour, 4),
            "start": s.start.isoformat().replace("+00:00", "Z"),
            "end": self.end.isoformat().replace("+00:00", "Z") if self.end else None,
            "simulated_seconds": self.span_seconds,
            "started": self.started,
            "completed": self.completed,
            "in_error": self.failed,
            "open_tasks": self.open_tasks,
            "timers_fired": self.timers_fired,
            "stuck_timers": self.stuck_timers,
            "operations": self.operations,
            "cycle_time_mean_seconds": round(sum(cycle) / len(cycle), 1) if cycle else None,
            "cycle_time_p90_seconds": round(cycle[max(0, math.ceil(0.9 * len(cycle)) - 1)], 1)
            if cycle
            else None,
            "lanes": [f.to_json(self.span_seconds, self.load(f)) for f in self.lanes.values()],
            "bottleneck": self.bottleneck(),
            "warnings": self.warnings(),
        }

    def text(self) -> str:
        data = self.to_json()
        span = timedelta(seconds=self.span_seconds)
        lines = [
            f"{self.started} instances of {self.scenario.process} started, {self.completed} completed"
            + (f", {self.failed} in error" if self.failed else "")
            + f", over {format_duration(span)} of simulated time (seed {self.scenario.seed}, "
            f"{self.arrivals_per_hour:.2f} arrivals/h)",
        ]
        if data["cycle_time_mean_seconds"] is not None:
            lines.append(
                f"cycle time: mean {_short(data['cycle_time_mean_seconds'])}, "
                f"p90 {_short(data['cycle_time_p90_seconds'])}"
            )
        lines += [
            "",
            f"{'LANE':<20} {'STAFF':>5} {'TASKS':>6} {'MEAN WAIT':>10} {'P90 WAIT':>10} {'BUSY':>6}",
        ]
        for lane in sorted(data["lanes"], key=lambda x: -(x["mean_wait_seconds"] or 0)):
            busy = "-" if lane["utilisation"] is None else f"{100 * lane['utilisation']:.0f}%"
            lines.append(
                f"{lane['lane'][:20]:<20} {lane['staff']:>5} {lane['tasks_done']:>6} "
                f"{_short(lane['mean_wait_seconds']):>10} {_short(lane['p90_wait_seconds']):>10} {busy:>6}"
            )
        if data["bottleneck"]:
            lines += ["", f"bottleneck: {data['bottleneck']} — work waits there longest"]
        if data["warnings"]:
            lines += [""] + [f"warning: {w}" for w in data["warnings"]]
        return "\n".join(lines)


def _short(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(timedelta(seconds=round(seconds)))

"""`handoff simulate`: a discrete-event simulation that drives the real engine on a virtual clock.

Instances arrive as a Poisson process. Each lane has a number of simulated operators; an idle operator
claims the oldest ready task of their lane, works on it for a time drawn from the task's `duration`
property, and completes it with form data drawn from its `p_true` / `probability` properties. Timers
fire when the virtual clock reaches them. Every step is a call to the same services live use makes
(start, claim, complete, fire_timers), so the history, the hooks' records and the report are what live
use would leave. Nothing sleeps: the clock jumps from one event to the next.

Determinism: the same seed, process and options give the same history, row for row. Arrivals and each
task's duration and form data come from their own random streams (keyed by the instance's business key
and the task), so a what-if run with other staffing sees the same orders doing the same work: only the
queues differ (common random numbers).
"""

from __future__ import annotations

import heapq
import math
import os
import random
import re
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from functools import partial
from typing import Any

from bpmn.durations import format_duration, parse_duration

from . import runtime
from .clock import ManualClock
from .errors import InvalidInput, ScriptFailed
from .facade import Handoff
from .views import InstanceView, TaskView

DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday morning
DEFAULT_DURATION = timedelta(minutes=15)
DEFAULT_ARRIVALS_PER_HOUR = 1.0
NO_LANE = "(no lane)"

_DISTRIBUTION = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|min|m|h|hour|d|day|w|week))?\s*$", re.IGNORECASE)
_RATE_UNITS = {"s": 3600, "sec": 3600, "min": 60, "m": 60, "h": 1, "hour": 1, "d": 1 / 24, "day": 1 / 24}
_RATE_UNITS |= {"w": 1 / 168, "week": 1 / 168}
_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# --- processing times ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Duration:
    """A processing time: fixed, or drawn from a distribution (docs/simulation.md lists the syntax)."""

    kind: str
    args: tuple[float, ...]
    text: str

    def sample(self, rng: random.Random) -> timedelta:
        a = self.args
        if self.kind == "fixed":
            seconds = a[0]
        elif self.kind == "exponential":
            seconds = rng.expovariate(1 / a[0])
        elif self.kind == "lognormal":
            seconds = a[0] * math.exp(rng.gauss(0, a[1]))
        elif self.kind == "normal":
            seconds = max(0.0, rng.gauss(a[0], a[1]))
        elif self.kind == "uniform":
            seconds = rng.uniform(a[0], a[1])
        else:  # triangular(low, mode, high)
            seconds = rng.triangular(a[0], a[2], a[1])
        return timedelta(seconds=seconds)

    @property
    def mean_seconds(self) -> float:
        a = self.args
        if self.kind == "lognormal":
            return a[0] * math.exp(a[1] ** 2 / 2)
        if self.kind in ("uniform",):
            return (a[0] + a[1]) / 2
        if self.kind == "triangular":
            return (a[0] + a[1] + a[2]) / 3
        return a[0]


def parse_duration_spec(text: str) -> Duration:
    """`PT20M`, `exponential(PT1H)`, `lognormal(PT20M, 0.5)`, `normal(PT1H, PT10M)`,
    `uniform(PT10M, PT30M)` or `triangular(PT10M, PT15M, PT40M)`; raises ValueError saying what is wrong."""
    match = _DISTRIBUTION.match(text)
    if not match:
        return Duration("fixed", (_seconds(text),), text)
    kind = match.group(1).lower()
    args = [a.strip() for a in match.group(2).split(",")]
    shapes = {"exponential": 1, "lognormal": 2, "normal": 2, "uniform": 2, "triangular": 3}
    if kind not in shapes:
        raise ValueError(f"unknown distribution {kind!r} in {text!r}; one of {', '.join(shapes)}")
    if len(args) != shapes[kind] and not (kind == "lognormal" and len(args) == 1):
        raise ValueError(f"{kind} takes {shapes[kind]} argument(s), got {len(args)} in {text!r}")
    if kind == "lognormal":
        sigma = float(args[1]) if len(args) > 1 else 0.5
        if sigma < 0:
            raise ValueError(f"lognormal sigma must not be negative in {text!r}")
        return Duration(kind, (_seconds(args[0]), sigma), text)
    values = tuple(_seconds(a) for a in args)
    if kind == "uniform" and values[0] > values[1]:
        raise ValueError(f"uniform needs low <= high in {text!r}")
    if kind == "triangular" and not values[0] <= values[1] <= values[2]:
        raise ValueError(f"triangular needs low <= mode <= high in {text!r}")
    return Duration(kind, values, text)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not an ISO 8601 duration such as PT20M ({exc})") from None


def parse_rate(text: str) -> float:
    """Arrivals per hour from `12/h`, `300/d`, `0.5/min` or a bare number (per hour)."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"arrival rate {text!r} is not a positive number per unit, such as 12/h or 300/d")
    return float(match.group(1)) * _RATE_UNITS[(match.group(2) or "h").lower()]


# --- working hours ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkingHours:
    """When operators work, e.g. `mon-fri 08:00-17:00` (UTC). Work in progress pauses outside them."""

    days: frozenset[int]
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        match = re.match(
            r"^\s*(?:([a-z]{3})(?:-([a-z]{3}))?\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$",
            text.lower(),
        )
        if not match or (match.group(1) and match.group(1) not in _DAYS):
            raise ValueError(
                f"working hours {text!r} should look like 'mon-fri 08:00-17:00' or '09:00-17:00'"
            )
        first, last = match.group(1), match.group(2) or match.group(1)
        if last and last not in _DAYS:
            raise ValueError(f"unknown day {last!r} in working hours {text!r}")
        if first:
            a, b = _DAYS.index(first), _DAYS.index(last)
            days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
        else:
            days = frozenset(range(7))
        h1, m1, h2, m2 = (int(match.group(i)) for i in (3, 4, 5, 6))
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
            raise ValueError(f"working hours {text!r}: the day must open before it closes")
        closes = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        return cls(days, time(h1, m1), closes)

    def _window(self, day: datetime) -> tuple[datetime, datetime]:
        base = day.replace(hour=0, minute=0, second=0, microsecond=0)
        opens = base.replace(hour=self.opens.hour, minute=self.opens.minute)
        closes = base.replace(
            hour=self.closes.hour, minute=self.closes.minute, second=self.closes.second,
            microsecond=self.closes.microsecond,
        )  # fmt: skip
        return opens, closes

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when operators work then, else the next opening."""
        day = at
        for _ in range(8):
            opens, closes = self._window(day)
            if day.weekday() in self.days:
                if at < opens:
                    return opens
                if at < closes:
                    return at
            day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            at = day
        raise ValueError("working hours name no working day")

    def finish(self, start: datetime, work: timedelta) -> datetime:
        """When `work` of working time begun at `start` is done, pausing outside working hours."""
        at, left = self.next_open(start), work
        while True:
            _, closes = self._window(at)
            if at + left <= closes:
                return at + left
            left -= closes - at
            at = self.next_open(closes + timedelta(microseconds=1))


# --- the run ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    process: str
    instances: int
    seed: int = 1
    arrivals_per_hour: float | None = None  # None: the process's `arrivals` property, else 1/h
    staff: Mapping[str, int] = field(default_factory=dict)
    operators: Mapping[str, list[str]] = field(default_factory=dict)  # registered people per lane
    start: datetime = DEFAULT_START
    hours: WorkingHours | None = None
    default_duration: timedelta = DEFAULT_DURATION
    starter: str = "simulator"
    batch: bool = True  # one transaction for the run; False: one per operation, exactly as live use
    horizon: timedelta = timedelta(days=365)  # stop this long after the last arrival, whatever is left


@dataclass
class LaneFigures:
    lane: str
    operators: list[str]
    tasks_done: int = 0
    waits: list[float] = field(default_factory=list)
    busy_seconds: float = 0.0

    def to_json(self, span: float) -> dict[str, Any]:
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
            "lanes": [f.to_json(self.span_seconds) for f in self.lanes.values()],
            "bottleneck": self.bottleneck(),
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
        return "\n".join(lines)


def _short(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return format_duration(timedelta(seconds=round(seconds)))


ProgressCallback = Callable[[int], Any]


class Simulation:
    """One run of a scenario against one Handoff application whose clock it owns."""

    def __init__(self, app: Handoff, clock: ManualClock, scenario: Scenario) -> None:
        if scenario.instances < 1:
            raise InvalidInput("the number of instances (-n) must be at least 1")
        self.app, self.clock, self.s = app, clock, scenario
        self.ops = app  # where operations go: the application, or its batch while `run` has one open
        model = app.process_model(scenario.process)
        self.properties = app.element_properties(scenario.process)
        self.durations = self._durations()
        rate = scenario.arrivals_per_hour
        if rate is None:
            text = model.properties.get("arrivals")
            try:
                rate = parse_rate(text) if text else DEFAULT_ARRIVALS_PER_HOUR
            except ValueError as exc:
                raise InvalidInput(f"process {scenario.process}: property 'arrivals': {exc}") from None
        self.result = SimulationResult(scenario, rate)
        self.idle: dict[str, deque[str]] = {}
        lanes = list(dict.fromkeys([*model.lanes, *scenario.staff]))
        unknown = [lane for lane in scenario.staff if lane not in model.lanes]
        if unknown:
            raise InvalidInput(
                f"--staff names lane {unknown[0]!r}, which process {scenario.process} does not have; "
                f"its lanes: {', '.join(model.lanes) or '(none)'}"
            )
        self.checked = not app.single_user_mode()
        for lane in lanes:
            self._lane(lane)
        self.agenda: list[tuple[datetime, int, str, Any]] = []
        self.seq = 0
        self.queues: dict[str, deque[TaskView]] = {}
        self.open: dict[int, set[int]] = {}  # instance -> its open task ids, as the engine last said
        self.timer_due: dict[int, datetime] = {}
        self.occurrences: dict[tuple[str, str], int] = {}
        self.keys: dict[int, str] = {}
        self.started_at: dict[int, datetime] = {}

    def _durations(self) -> dict[str, Duration]:
        out: dict[str, Duration] = {}
        for element, props in self.properties.items():
            text = props.get("duration")
            if text:
                try:
                    out[element] = parse_duration_spec(text)
                except ValueError as exc:
                    raise InvalidInput(
                        f"process {self.s.process}, {element}: property 'duration': {exc}"
                    ) from None
        return out

    def _lane(self, lane: str) -> LaneFigures:
        figures = self.result.lanes.get(lane)
        if figures is None:
            count = self.s.staff.get(lane)
            people = list(self.s.operators.get(lane) or self.app.lane_members(lane))
            if count is None:
                count = max(1, len(people))
            if self.checked and count > len(people):
                # With users registered, the engine lets only them work a lane's tasks.
                raise InvalidInput(
                    f"lane {lane!r} is simulated with {count} operator(s) but {len(people)} registered user(s) "
                    f"work there; add users ('handoff users add NAME --lane {lane!r}'), lower --staff, or "
                    "simulate into a database of its own (--db), which has no users"
                )
            slug = re.sub(r"[^a-z0-9]+", "-", lane.lower()).strip("-") or "lane"
            names = people[:count] + [f"{slug}-{i}" for i in range(len(people) + 1, count + 1)]
            figures = LaneFigures(lane, names)
            self.result.lanes[lane] = figures
            self.idle[lane] = deque(names)
        return figures

    def _push(self, when: datetime, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.agenda, (when, self.seq, kind, payload))

    def run(self, progress: ProgressCallback | None = None) -> SimulationResult:
        s = self.s
        arrivals = random.Random(f"{s.seed}/arrivals")
        at = s.start
        for n in range(1, s.instances + 1):
            at += timedelta(hours=arrivals.expovariate(self.result.arrivals_per_hour))
            self._push(at, "arrive", n)
        stop_at = at + s.horizon
        with (
            runtime.seeded_task_ids(f"{s.seed}/tasks"),
            self.app.batch() if s.batch else nullcontext(self.app) as app,
        ):
            self.ops = app  # the operations go through the batch when there is one
            while self.agenda and self.agenda[0][0] <= stop_at:
                when, _, kind, payload = heapq.heappop(self.agenda)
                self.clock.set(when)
                if kind == "arrive":
                    self._arrive(payload)
                    if progress is not None:
                        progress(payload)
                elif kind == "done":
                    self._done(*payload)
                elif kind == "timer":
                    self._timer(payload)
                # "wake": working hours began; dispatching below is all it needs
                self._dispatch()
            self.result.end = self.clock()
        self.result.open_tasks = sum(len(ids) for ids in self.open.values())
        return self.result

    # --- events ------------------------------------------------------------------------------------

    def _arrive(self, n: int) -> None:
        key = f"SIM-{n:06d}"
        view = self._call(lambda: self.ops.start(self.s.process, business_key=key, actor=self.s.starter))
        if view is None:
            return
        self.result.started += 1
        self.keys[view.id] = key
        self.started_at[view.id] = self.clock()
        self._absorb(view)

    def _done(self, lane: str, operator: str, task: TaskView, data: dict[str, Any]) -> None:
        figures = self.result.lanes[lane]
        self.idle[lane].append(operator)
        if task.id not in self.open.get(task.instance, ()):
            return  # cancelled while being worked on (an interrupting timer, say): the work is lost
        view = self._call(lambda: self.ops.complete(task.id, data=data, actor=operator))
        figures.tasks_done += 1
        if view is not None:
            self._absorb(view)

    def _timer(self, instance_id: int) -> None:
        due = self.timer_due.get(instance_id)
        if due is None or due > self.clock():
            return  # superseded: the instance moved on and has another due time (or none)
        del self.timer_due[instance_id]
        view = self._call(lambda: self.ops.fire_timers(instance_id))
        if view is not None:
            self.result.timers_fired += 1
            self._absorb(view, fired=True)
        else:
            self.result.stuck_timers += 1

    def _call(self, operation: Callable[[], InstanceView | None]) -> InstanceView | None:
        self.result.operations += 1
        try:
            return operation()
        except ScriptFailed as exc:
            # The instance is in error with its incident, as in live use; the simulation goes on.
            self.result.failed += 1
            if exc.instance_id is not None:
                self.open.pop(exc.instance_id, None)
                self.timer_due.pop(exc.instance_id, None)
            return None

    def _absorb(self, view: InstanceView, *, fired: bool = False) -> None:
        """Learn the instance's open tasks and next timer from what the engine returned."""
        known = self.open.setdefault(view.id, set())
        now_open = {t.id for t in view.tasks}
        for task in view.tasks:
            if task.id not in known and task.state == "ready":
                lane = task.lane or NO_LANE
                self._lane(lane)
                self.queues.setdefault(lane, deque()).append(task)
        known.intersection_update(now_open)
        known.update(now_open)
        if view.status in ("completed", "error", "terminated"):
            self.open.pop(view.id, None)
            self.timer_due.pop(view.id, None)
            if view.status == "completed":
                self.result.completed += 1
                self.result.cycle_seconds.append((self.clock() - self.started_at[view.id]).total_seconds())
            return
        due = view.next_due_at
        if due is not None and self.timer_due.get(view.id) != due:
            if fired and due <= self.clock():
                # Firing left the same timer due: never spin on one instant; the instance waits.
                self.result.stuck_timers += 1
                return
            self.timer_due[view.id] = due
            self._push(max(due, self.clock()), "timer", view.id)

    def _dispatch(self) -> None:
        """Idle operators take the oldest ready task of their lane."""
        now = self.clock()
        for lane, queue in self.queues.items():
            idle = self.idle[lane]
            while idle and queue:
                if self.s.hours is not None:
                    opens = self.s.hours.next_open(now)
                    if opens > now:
                        self._push(opens, "wake", lane)
                        break
                task = queue.popleft()
                if task.id not in self.open.get(task.instance, ()):
                    continue  # cancelled before anyone took it
                operator = idle.popleft()
                self._call(partial(self._claim, task, operator))
                rng = self._rng(task)
                duration = self.durations.get(task.element)
                work = duration.sample(rng) if duration else self.s.default_duration
                finish = self.s.hours.finish(now, work) if self.s.hours else now + work
                figures = self.result.lanes[lane]
                figures.waits.append((now - task.created_at).total_seconds())
                figures.busy_seconds += work.total_seconds()
                data = form_data(task, self.properties.get(task.element, {}), rng)
                self._push(finish, "done", (lane, operator, task, data))

    def _claim(self, task: TaskView, operator: str) -> None:
        self.ops.claim(task.id, actor=operator)
        return None

    def _rng(self, task: TaskView) -> random.Random:
        """The task's own random stream: the same order's same task draws the same numbers in any
        what-if run, whoever does it and whenever."""
        key = (self.keys.get(task.instance, str(task.instance)), task.element)
        n = self.occurrences.get(key, 0) + 1
        self.occurrences[key] = n
        return random.Random(f"{self.s.seed}/{key[0]}/{key[1]}/{n}")


def form_data(task: TaskView, properties: Mapping[str, str], rng: random.Random) -> dict[str, Any]:
    """Values a simulated operator enters: weighted enum choices, booleans by p_true, else defaults."""
    data: dict[str, Any] = {}
    for f in task.form:
        props = f.get("properties") or {}
        fid, kind = f["id"], f.get("type")
        if kind == "boolean":
            p_true = props.get("p_true") or properties.get(f"p_true.{fid}")
            if p_true is not None:
                data[fid] = rng.random() < float(p_true)
            elif f.get("default") is not None:
                data[fid] = str(f["default"]).lower() in ("true", "1", "yes")
            else:
                data[fid] = rng.random() < 0.5
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


def simulate(
    db_url: str,
    scenario: Scenario,
    *,
    progress: ProgressCallback | None = None,
    app_factory: Callable[[ManualClock], Handoff] | None = None,
) -> SimulationResult:
    """Run `scenario` against the database at `db_url` (the process must be deployed there)."""
    from storage import Database

    clock = ManualClock(scenario.start)
    app = app_factory(clock) if app_factory else Handoff(Database(db_url), clock=clock)
    try:
        return Simulation(app, clock, scenario).run(progress)
    finally:
        app.db.dispose()


def scenario_for(
    app: Handoff,
    process: str,
    instances: int,
    seed: int,
    arrivals: str | None,
    staff: Mapping[str, int],
    hours: str | None,
    start: datetime | None,
    *,
    actor: str | None,
) -> Scenario:
    """The scenario of `handoff simulate`: PROCESS is a deployed process id, or a BPMN file that is
    deployed first; the rate and the working hours as people write them (InvalidInput naming the option)."""
    try:
        rate = parse_rate(arrivals) if arrivals else None
    except ValueError as exc:
        raise InvalidInput(f"--arrivals: {exc}") from exc
    try:
        working = WorkingHours.parse(hours) if hours else None
    except ValueError as exc:
        raise InvalidInput(f"--hours: {exc}") from exc
    process_id = process
    if os.path.isfile(process):
        process_id = app.deploy([process], actor=actor)[0].process
    else:
        app.process_model(process)  # a clear error when it is not deployed
    options: dict[str, Any] = {
        "seed": seed,
        "arrivals_per_hour": rate,
        "staff": dict(staff),
        "hours": working,
    }
    if start is not None:
        options["start"] = start
    return Scenario(process_id, instances, **options)

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

import gc
import heapq
import random
import re
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from .. import runtime
from ..clock import ManualClock
from ..errors import InvalidInput, ScriptFailed
from ..facade import Handoff
from ..views import InstanceView, TaskView
from .distributions import Duration, parse_duration_spec, parse_rate
from .results import LaneFigures, SimulationResult
from .scenario import DEFAULT_ARRIVALS_PER_HOUR, NO_LANE, Scenario

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
            _collecting_for_a_long_run(),
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


@contextmanager
def _collecting_for_a_long_run() -> Iterator[None]:
    """The cyclic GC tuned for a run that keeps what it makes: a batch holds every row and event of
    the run until its commit, so most objects outlive the young generations and the full collections
    come again and again as the batch grows, each walking everything (~10% of a 2,500-instance run,
    issue 17). While the run lasts, the objects that existed before it (modules, the application, its
    caches) are frozen out of the full collections (gc.freeze), and the youngest generation is
    collected every 10,000 allocations instead of 700, so that far fewer collections walk the older
    ones; cyclic garbage is collected as before, only in larger steps. Both are restored afterwards; a
    process that had frozen objects itself (the CLI freezes its start-up, cli_base.py) keeps them frozen."""
    thresholds = gc.get_threshold()
    frozen_before = gc.get_freeze_count() > 0
    gc.freeze()
    gc.set_threshold(10_000, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        if not frozen_before:
            gc.unfreeze()


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

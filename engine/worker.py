"""`handoff worker`: fires due timers, starts instances at timer start events, detects overdue work.

Any number of workers may run against one PostgreSQL database (DESIGN §6). Each pass claims due work in
small batches under a lease (`Handoff.claim_due_work`: SELECT ... FOR UPDATE SKIP LOCKED), does each
item in its own transaction through the ordinary services, and gives the leases back. A worker that dies
holding a lease leaves its work to be taken over once the lease expires; a firing that two workers
attempt lands once (version counter / compare-and-set), so nothing fires twice.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .errors import Conflict, HandoffError, ScriptFailed
from .scheduling import DueWork

if TYPE_CHECKING:
    from .facade import Handoff

log = logging.getLogger("handoff.worker")

DEFAULT_LEASE = timedelta(seconds=60)
DEFAULT_BATCH = 20
MAX_CATCH_UP = 1000  # firings of one timer start event done in one pass
MAX_PER_PASS = 5000  # items one pass does; SQLite allows 32,766 parameters per statement


def default_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class WorkerPass:
    """What one pass did; `problems` holds one line per item that failed (the instance named)."""

    worker: str
    at: datetime
    fired: int = 0  # instances whose due timers fired
    started: int = 0  # instances started by timer start events
    retried: int = 0  # automatic retries that ran
    failed: int = 0  # items that ended in error (an incident) or could not run
    conflicts: int = 0  # items another worker or an operator changed first (done by them)
    overdue: int = 0  # delay records written for work past its SLA
    problems: list[str] = field(default_factory=list)

    @property
    def did_something(self) -> bool:
        return bool(self.fired or self.started or self.retried or self.failed or self.overdue)

    def to_json(self) -> dict[str, Any]:
        return {
            "worker": self.worker,
            "at": self.at.isoformat(),
            "timers_fired": self.fired,
            "instances_started": self.started,
            "retried": self.retried,
            "failed": self.failed,
            "conflicts": self.conflicts,
            "overdue": self.overdue,
            "problems": list(self.problems),
        }

    def text(self) -> str:
        line = (
            f"{self.at:%Y-%m-%d %H:%M:%S}  {self.worker}: timers fired {self.fired}, "
            f"started {self.started}, retried {self.retried}, failed {self.failed}, "
            f"conflicts {self.conflicts}, overdue {self.overdue}"
        )
        return "\n".join([line, *(f"  {p}" for p in self.problems)])


class Worker:
    """One worker: `run_once` does every item due now; `run` repeats it until stopped."""

    def __init__(
        self,
        app: Handoff,
        *,
        name: str | None = None,
        lease: timedelta = DEFAULT_LEASE,
        batch: int = DEFAULT_BATCH,
    ) -> None:
        if lease <= timedelta(0):
            raise ValueError("the lease must be positive")
        self.app = app
        self.name = (name or default_name())[:64]
        self.lease = lease
        self.batch = max(1, batch)

    def run_once(self, stop: threading.Event | None = None) -> WorkerPass:
        """Claim and do due work, batch after batch, until nothing is due, `stop` is set, or the pass has
        done MAX_PER_PASS items (a long-running worker starts its next pass at once)."""
        result = WorkerPass(self.name, self.app.clock())
        done_instances: list[int] = []
        done_schedules: list[int] = []
        while stop is None or not stop.is_set():
            if len(done_instances) + len(done_schedules) >= MAX_PER_PASS:
                break  # the rest waits for the next pass (the ids below go into one NOT IN list)
            # What this pass did is not claimed again before the next pass, even if it is still due.
            done = DueWork(tuple(done_instances), tuple(done_schedules))
            work = self.app.claim_due_work(self.name, self.lease, self.batch, done=done)
            if not work:
                break
            items = [("s", i) for i in work.schedules] + [("i", i) for i in work.instances]
            try:
                for kind, item_id in items:
                    if stop is not None and stop.is_set():
                        break
                    (done_schedules if kind == "s" else done_instances).append(item_id)
                    self._do(kind, item_id, result)
            finally:
                self.app.release_work(self.name, work)
        result.overdue = self.app.detect_delays()
        return result

    def _do(self, kind: str, item_id: int, result: WorkerPass) -> None:
        what = f"timer start schedule {item_id}" if kind == "s" else f"instance {item_id}"
        try:
            if kind == "s":
                # Firings missed while no worker ran each start their instance now, in order.
                for _ in range(MAX_CATCH_UP):
                    if self.app.fire_schedule(item_id) is None:
                        break
                    result.started += 1
                return
            done = self.app.run_due(item_id)
            if done == "retried":
                result.retried += 1
            elif done == "fired":
                result.fired += 1
        except Conflict:
            result.conflicts += 1  # someone else did it first: their change stands, ours rolled back
        except ScriptFailed as exc:
            result.failed += 1  # the instance is in error with its incident; the step is recorded
            result.fired += 1 if kind == "i" else 0
            result.problems.append(str(exc))
        except HandoffError as exc:
            result.failed += 1
            result.problems.append(f"{what}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one bad item must not stop the worker for the others
            log.exception("worker %s: %s failed", self.name, what)
            result.failed += 1
            result.problems.append(f"{what}: unexpected {type(exc).__name__}: {exc}")

    def run(
        self,
        *,
        interval: float,
        stop: threading.Event,
        on_pass: Callable[[WorkerPass], None] | None = None,
    ) -> None:
        """Pass after pass until `stop` is set; sleeps `interval` seconds between passes, less when work
        falls due sooner. The item in hand is finished before stopping (each is one transaction)."""
        while not stop.is_set():
            result = self.run_once(stop)
            if on_pass is not None:
                on_pass(result)
            stop.wait(self._sleep(interval))

    def _sleep(self, interval: float) -> float:
        due = self.app.next_due_at()
        if due is None:
            return interval
        seconds = (due - self.app.clock()).total_seconds()
        return max(0.05, min(interval, seconds))


def run_pool(
    db_url: str,
    *,
    processes: int,
    interval: float,
    lease: timedelta,
    name: str,
    stop: threading.Event,
    on_line: Callable[[str], None],
    as_json: bool,
) -> int:
    """`--concurrency N`: N worker processes (each its own interpreter, so N cores), stopped together.

    Returns the number of children that exited with an error.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    children = [
        context.Process(
            target=_child,
            args=(db_url, f"{name}/{i + 1}", interval, lease.total_seconds(), queue, as_json),
            daemon=False,
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    try:
        while any(c.is_alive() for c in children):
            if stop.is_set():
                for child in children:
                    if child.is_alive() and child.pid is not None:
                        os.kill(child.pid, 15)  # SIGTERM: each child finishes its item and exits
                stop.clear()
            try:
                on_line(queue.get(timeout=0.2))
            except Exception:  # noqa: BLE001 - queue.Empty: nothing to print yet
                continue
    finally:
        for child in children:
            child.join()
        while not queue.empty():
            on_line(queue.get())
    return sum(1 for c in children if c.exitcode not in (0, None))


def _child(db_url: str, name: str, interval: float, lease: float, queue: Any, as_json: bool) -> None:
    import json
    import signal

    from storage import Database

    from .facade import Handoff

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app = Handoff(Database(db_url))
    worker = Worker(app, name=name, lease=timedelta(seconds=lease))

    def report(result: WorkerPass) -> None:
        if as_json:
            queue.put(json.dumps(result.to_json()))
        elif result.did_something:
            queue.put(result.text())

    try:
        worker.run(interval=interval, stop=stop, on_pass=report)
    finally:
        app.db.dispose()


def serve(
    app: Handoff,
    db_url: str,
    *,
    once: bool,
    interval: float,
    concurrency: int,
    lease: timedelta,
    name: str | None,
    on_pass: Callable[[WorkerPass], None],
    on_line: Callable[[str], None],
    on_start: Callable[[str], None],
    as_json: bool,
) -> int:
    """`handoff worker`: one pass (`once`), or passes until SIGTERM / Ctrl-C (the item in hand is finished
    first), in this process or in `concurrency` processes. Returns how many worker processes failed."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app.next_due_at()  # the schema check, with its clear message, before any child starts
    if concurrency > 1 and not once:
        return run_pool(
            db_url,
            processes=concurrency,
            interval=interval,
            lease=lease,
            name=name or default_name(),
            stop=stop,
            on_line=on_line,
            as_json=as_json,
        )
    worker = Worker(app, name=name, lease=lease)
    if once:
        on_pass(worker.run_once())
        return 0
    on_start(f"worker {worker.name} running on {app.db.display_url()} (Ctrl-C stops it)")
    worker.run(interval=interval, stop=stop, on_pass=on_pass)
    return 0

"""Due work: timer start schedules and the services the worker drives (engine/worker.py, DESIGN §6).

Two kinds of work fall due. An instance whose `next_due_at` has passed has a timer to fire (or, in
`error`, an automatic retry). A timer start event of a deployed process has a row in `timer_schedule`
that says when it next starts an instance. Workers lease both kinds with SKIP LOCKED; each firing is one
transaction guarded by a compare-and-set (a schedule) or the version counter (an instance), so a
firing that two workers attempt lands once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from storage import leases
from storage.models import TimerSchedule

from . import history, runtime
from .incidents import retry_due
from .kernel import rows
from .kernel.advance import advance, start
from .kernel.app import App
from .kernel.events import task_event
from .kernel.failures import raise_failure
from .kernel.operation import Operation
from .kernel.units import Units
from .lifecycle import LifecycleEvent
from .views import InstanceView


@dataclass(frozen=True)
class DueWork:
    """What one claim leased: instance ids and timer start schedule ids."""

    instances: tuple[int, ...]
    schedules: tuple[int, ...]

    def __bool__(self) -> bool:
        return bool(self.instances or self.schedules)


@dataclass(frozen=True)
class ScheduleView:
    process: str
    element: str
    expression: str
    next_due_at: datetime | None
    fired: int

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "element": self.element,
            "expression": self.expression,
            "next_due_at": self.next_due_at.isoformat() if self.next_due_at else None,
            "fired": self.fired,
        }


def schedules(app: App) -> list[ScheduleView]:
    """Every timer start event of the deployed processes, with its next due time."""
    app.ready()
    with app.db.reader() as session:
        found = session.query(TimerSchedule).order_by(TimerSchedule.process_id, TimerSchedule.element_id)
        return [
            ScheduleView(r.process_id, r.element_id, r.expression.split(":", 1)[1], r.next_due_at, r.fired)
            for r in found
        ]


def claim_due_work(
    app: App, owner: str, lease: timedelta, limit: int, *, done: DueWork | None = None
) -> DueWork:
    """Lease up to `limit` due instances and schedules for `owner`, in one short transaction; `done`
    (what this pass already did) is left out, so work that stays due cannot crowd out the rest."""
    app.ready()
    now = app.clock()
    skip = done or DueWork((), ())
    with app.db.unit_of_work() as session:
        instances = leases.claim_due_instances(session, now, owner, now + lease, limit, skip.instances)
        due_schedules = leases.claim_due_schedules(session, now, owner, now + lease, limit, skip.schedules)
    return DueWork(tuple(instances), tuple(due_schedules))


def release_work(app: App, owner: str, work: DueWork) -> None:
    with app.db.unit_of_work() as session:
        leases.release_instances(session, work.instances, owner)
        leases.release_schedules(session, work.schedules, owner)


def next_due_at(app: App) -> datetime | None:
    """The earliest due time of any work: how long a worker may sleep."""
    app.ready()
    with app.db.reader() as session:
        return leases.next_due(session)


def run_due(app: App, units: Units, instance_id: int) -> str | None:
    """Do an instance's due work: retry its failed task (in error) or fire its due timers. Returns what it
    did ("retried", "fired"), or None when nothing was due (any more: another worker or an operator may
    have been first)."""
    with app.db.reader() as session:
        status = leases.status_of(session, instance_id)
    if status == "error":
        return "retried" if retry_due(app, units, instance_id, actor=None) is not None else None
    return "fired" if fire_timers(app, units, instance_id) is not None else None


def fire_timers(app: App, units: Units, instance_id: int) -> InstanceView | None:
    """Fire the instance's timers that are due by the engine clock and run it on until it waits.

    Returns None, changing nothing, when the instance has no timer due (none yet, or it is not
    running). A timer never fires early: its due time is compared with the clock, not trusted.
    """
    app.ready()
    with units.operation() as work:
        op = Operation(work, app.clock(), None, instance_id=instance_id)
        instance = rows.instance(work, instance_id)
        due = instance.next_due_at
        if instance.status not in ("running", "waiting") or due is None or due > op.now:
            return None
        definition = app.definitions.for_instance(work.session, instance)
        workflow = rows.workflow(work, definition, instance)
        # SpiffWorkflow fires a timer strictly after its due instant: ask it a microsecond later.
        with runtime.clock_at(op.now + timedelta(microseconds=1)):
            cycles = runtime.fire_due_timers(workflow)
        for firing in cycles:
            fired = {"timer": firing["timer"], "due": firing["due"]}
            op.events.append(
                task_event(definition, firing["task"], "timer_fired", op, actor=None, data=fired)
            )
        open_tasks = advance(app, op, definition, instance, workflow)
        view = rows.instance_view(work, instance, definition.version, tasks=open_tasks)
    raise_failure(op, view)
    return view


def fire_schedule(app: App, units: Units, schedule_id: int) -> InstanceView | None:
    """Start an instance at a due timer start event and move its schedule on; None if not due.

    One transaction: the schedule moves on only with the instance started, and a compare-and-set
    on it makes a firing that two workers attempt start one instance.
    """
    app.ready()
    with units.operation() as work:
        op = Operation(work, app.clock(), None)
        row = leases.get_schedule(work.session, schedule_id)
        if row is None or row.next_due_at is None or row.next_due_at > op.now:
            return None
        due = row.next_due_at
        kind, expression = row.expression.split(":", 1)
        following = runtime.next_due_after(kind, expression, due, row.fired + 1)
        if not leases.advance_schedule_if(work.session, row, due, following):
            return None
        definition = app.definitions.get(work.session, row.definition_id)
        view = start(app, op, definition, {}, None, start_timer=row.element_id)
    raise_failure(op, view)
    return view


def breaches(delays: list[dict[str, Any]]) -> list[LifecycleEvent]:
    """`sla_breached` events of new delay records, for the notify hooks (not stored: the delay record is
    the history of it)."""
    return [
        LifecycleEvent(
            kind="sla_breached",
            instance_id=d["instance_id"],
            process_id=d["process_id"],
            version=0,
            at=d["detected_at"],
            element_id=d["element"],
            element_name=d["name"],
            lane=d["lane"],
            task_id=d["task_id"],
            data={
                "kind": d["kind"],
                "waited_seconds": d["waited_seconds"],
                "threshold_seconds": d["threshold_seconds"],
                "threshold_source": d["threshold_source"],
            },
        )
        for d in delays
    ]


def detect_delays(app: App, units: Units) -> int:
    """One pass of the worker's overdue check: delay records for work already past its SLA."""
    app.ready()
    with units.operation() as work:
        found = history.overdue_records(work.session, app.definitions, app.clock())
        work.notify.extend(breaches(found))  # the notify hooks hear of each SLA breach (a mail, ...)
        return len(found)

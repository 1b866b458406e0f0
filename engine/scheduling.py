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
from typing import TYPE_CHECKING, Any

from storage import leases
from storage.models import TimerSchedule

from . import runtime
from .core import ServicesCore
from .errors import DefinitionInvalid

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


class SchedulingServices(ServicesCore):
    """Mixed into `Handoff`, which provides what `ServicesCore` declares (engine/core.py)."""

    # --- deployment ----------------------------------------------------------------------------------

    def _schedule_timer_starts(
        self, session: Session, process_id: str, definition_id: int, spec: dict[str, Any], now: datetime
    ) -> None:
        """Point the process's timer start schedules at its newly deployed version.

        An unchanged timer keeps its schedule (a redeploy does not restart a cycle); a new or changed one
        is counted from now; the schedule of a timer the new version no longer has is dropped.
        """
        try:
            starts = runtime.timer_starts(spec)
        except ValueError as exc:
            raise DefinitionInvalid(f"process '{process_id}': {exc}") from None
        existing = leases.schedules_of(session, process_id)
        for start in starts:
            row = existing.pop(start.element_id, None)
            expression = f"{start.kind}:{start.expression}"
            if row is None:
                row = TimerSchedule(process_id=process_id, element_id=start.element_id, fired=0)
                session.add(row)
            if row.expression != expression:
                row.expression = expression
                row.next_due_at = runtime.first_due(start.kind, start.expression, now)
                row.fired = 0
            row.definition_id = definition_id
        for row in existing.values():
            session.delete(row)

    def schedules(self) -> list[ScheduleView]:
        """Every timer start event of the deployed processes, with its next due time."""
        self._ready()
        with self.db.reader() as session:
            rows = session.query(TimerSchedule).order_by(TimerSchedule.process_id, TimerSchedule.element_id)
            return [
                ScheduleView(
                    r.process_id, r.element_id, r.expression.split(":", 1)[1], r.next_due_at, r.fired
                )
                for r in rows
            ]

    # --- the worker's services -----------------------------------------------------------------------

    def claim_due_work(
        self, owner: str, lease: timedelta, limit: int, *, done: DueWork | None = None
    ) -> DueWork:
        """Lease up to `limit` due instances and schedules for `owner`, in one short transaction; `done`
        (what this pass already did) is left out, so work that stays due cannot crowd out the rest."""
        self._ready()
        now = self.clock()
        skip = done or DueWork((), ())
        with self.db.unit_of_work() as session:
            instances = leases.claim_due_instances(session, now, owner, now + lease, limit, skip.instances)
            schedules = leases.claim_due_schedules(session, now, owner, now + lease, limit, skip.schedules)
        return DueWork(tuple(instances), tuple(schedules))

    def release_work(self, owner: str, work: DueWork) -> None:
        with self.db.unit_of_work() as session:
            leases.release_instances(session, work.instances, owner)
            leases.release_schedules(session, work.schedules, owner)

    def next_due_at(self) -> datetime | None:
        """The earliest due time of any work: how long a worker may sleep."""
        self._ready()
        with self.db.reader() as session:
            return leases.next_due(session)

    def run_due(self, instance_id: int) -> str | None:
        """Do an instance's due work: retry its failed task (in error) or fire its due timers. Returns
        what it did ("retried", "fired"), or None when nothing was due (any more: another worker or an
        operator may have been first)."""
        with self.db.reader() as session:
            status = leases.status_of(session, instance_id)
        if status == "error":
            return "retried" if self.retry_due(instance_id, actor=None) is not None else None
        return "fired" if self.fire_timers(instance_id) is not None else None

    def fire_schedule(self, schedule_id: int) -> InstanceView | None:
        """Start an instance at a due timer start event and move its schedule on; None if not due.

        One transaction: the schedule moves on only with the instance started, and a compare-and-set
        on it makes a firing that two workers attempt start one instance.
        """
        self._ready()
        change = self._change(None)
        with self._uow() as session:
            change.session = session
            row = leases.get_schedule(session, schedule_id)
            if row is None or row.next_due_at is None or row.next_due_at > change.now:
                return None
            due = row.next_due_at
            kind, expression = row.expression.split(":", 1)
            following = runtime.next_due_after(kind, expression, due, row.fired + 1)
            if not leases.advance_schedule_if(session, row, due, following):
                return None
            definition = self._definition(session, row.definition_id)
            view = self._start_in(session, change, definition, {}, None, start_timer=row.element_id)
        self._notify(change.events)
        self._raise_failure(change, view)
        return view

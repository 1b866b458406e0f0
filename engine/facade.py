"""`Handoff`: one object with a method per use case, for callers that like one (tests, scripts, the doors).

It holds no logic and no per-call state: each method delegates to the use case of the same name in its
module (engine/definitions.py, instances.py, tasks.py, incidents.py, messages.py, scheduling.py,
people.py, history.py, reporting.py) with the application's dependencies (`app`, engine/kernel/app.py)
and its units of work (`units`: a transaction per operation, or the batch of `batch()`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from storage import Database

from . import bootstrap, zones
from .clock import Clock, utc_now
from .handlers import Handler, ServiceRegistry
from .kernel.app import App
from .lazy_modules import lazy_module

if TYPE_CHECKING:
    import pluggy

    import bpmn

    from . import (
        batches,
        comments,
        definitions,
        history,
        incidents,
        instance_reads,
        instances,
        messages,
        migration,
        modification,
        notifications,
        people,
        reporting,
        retention,
        scheduling,
        task_list,
        tasks,
    )
    from .kernel.units import Units
    from .notifications import MailSettings
    from .report import Report
    from .retention import CleanupReport
    from .scheduling import DueWork, ScheduleView

    # The views only annotate here: a command loads the ones its use case returns.
    from .views import (
        AuditView,
        CommentView,
        CrossingView,
        DelayView,
        Deployment,
        HandoffView,
        InstanceHistory,
        InstanceSummary,
        InstanceView,
        ProcessSummary,
        SlaView,
        TaskView,
        UserChange,
        UserView,
        Wait,
    )
    from .views.repair import BatchReport, MigrationReport
else:
    # A command runs one use case: the others (and SpiffWorkflow, the sandbox, the report's renderers
    # behind them) load only if it is called (engine/lazy_modules.py).
    batches = lazy_module("engine.batches")
    comments = lazy_module("engine.comments")
    definitions = lazy_module("engine.definitions")
    history = lazy_module("engine.history")
    incidents = lazy_module("engine.incidents")
    instance_reads = lazy_module("engine.instance_reads")
    instances = lazy_module("engine.instances")
    messages = lazy_module("engine.messages")
    migration = lazy_module("engine.migration")
    modification = lazy_module("engine.modification")
    notifications = lazy_module("engine.notifications")
    people = lazy_module("engine.people")
    reporting = lazy_module("engine.reporting")
    retention = lazy_module("engine.retention")
    scheduling = lazy_module("engine.scheduling")
    task_list = lazy_module("engine.task_list")
    tasks = lazy_module("engine.tasks")


class Handoff:
    """The application: the use cases over one database, with an injectable clock (engine/bootstrap.py)."""

    def __init__(
        self,
        database: Database | str,
        *,
        clock: Clock = utc_now,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        services: Mapping[str, Handler] | None = None,
    ) -> None:
        """`plugins` are hook objects registered beside the built-in recorders and the installed
        `handoff.hooks` entry points; `services` are service task handlers by name, beside the installed
        `handoff.services` entry points (switch both groups off with `load_entry_points=False`)."""
        self.app = bootstrap.build(
            database, clock=clock, plugins=plugins, load_entry_points=load_entry_points, handlers=services
        )
        self._units: Units | None = None

    @property
    def units(self) -> Units:
        """A transaction per operation (engine/kernel/units.py), made on first use: its module imports
        the ORM and the repository, which a read command (`tasks`, `show`) does without (issue 17)."""
        if self._units is None:
            from .kernel.units import Transactions

            self._units = Transactions(self.app)
        return self._units

    @classmethod
    def over(cls, app: App, units: Units) -> Handoff:
        """The same application through other units of work (a batch's)."""
        facade = cls.__new__(cls)
        facade.app, facade._units = app, units
        return facade

    @property
    def db(self) -> Database:
        return self.app.db

    @property
    def clock(self) -> Clock:
        return self.app.clock

    @property
    def hooks(self) -> pluggy.PluginManager:
        return self.app.hooks

    @property
    def services(self) -> ServiceRegistry:
        return self.app.handlers

    @services.setter
    def services(self, registry: ServiceRegistry) -> None:
        self.app.handlers = registry

    @contextmanager
    def batch(self) -> Iterator[Handoff]:
        """Many operations as ONE transaction (engine/kernel/batch.py): use the `Handoff` it yields."""
        from .kernel.batch import Batch

        with Batch(self.app) as units:
            yield Handoff.over(self.app, units)

    # --- setup and definitions -----------------------------------------------------------------------

    def init(self) -> tuple[str | None, str]:
        return self.app.schema.upgrade()

    def validate(self, paths: Sequence[str | Path]) -> bpmn.ValidationReport:
        return definitions.validate(paths)

    def deploy(
        self, paths: Sequence[str | Path], *, actor: str | None, trusted_scripts: bool = False
    ) -> list[Deployment]:
        return definitions.deploy(self.app, self.units, paths, actor=actor, trusted_scripts=trusted_scripts)

    def processes(self, *, actor: str | None = None) -> list[ProcessSummary]:
        return definitions.processes(self.app, actor=actor)

    def process_model(self, process_id: str, version: int | None = None) -> bpmn.ProcessModel:
        return definitions.process_model(self.app, process_id, version)

    def element_properties(self, process_id: str) -> dict[str, dict[str, str]]:
        return definitions.element_properties(self.app, process_id)

    # --- instances and tasks -------------------------------------------------------------------------

    def start(self, process_id: str, **options: Any) -> InstanceView:
        """Options: data, business_key, version, actor (engine/instances.py `start`)."""
        return instances.start(self.app, self.units, process_id, **options)

    def show(self, instance_id: int, *, actor: str | None = None) -> InstanceView:
        return instance_reads.show(self.app, instance_id, actor=actor)

    def instances(self, **filters: Any) -> list[InstanceSummary]:
        """Filters: process_id, status, business_key, limit, actor (engine/instance_reads.py `list_instances`)."""
        return instance_reads.list_instances(self.app, **filters)

    def tasks(self, **filters: Any) -> list[TaskView]:
        """Filters: lane, assignee, candidate, mine, overdue, instance_id, include_closed, actor
        (engine/task_list.py `list_tasks`)."""
        return task_list.list_tasks(self.app, **filters)

    def comment(
        self, text: str, *, task_id: int | None = None, instance_id: int | None = None, actor: str | None
    ) -> CommentView:
        return comments.comment(
            self.app, self.units, text, task_id=task_id, instance_id=instance_id, actor=actor
        )

    def claim(self, task_id: int, *, actor: str | None) -> TaskView:
        return tasks.claim(self.app, self.units, task_id, actor=actor)

    def unclaim(self, task_id: int, *, actor: str | None) -> TaskView:
        return tasks.unclaim(self.app, self.units, task_id, actor=actor)

    def complete(
        self, task_id: int, *, data: dict[str, Any] | None = None, actor: str | None
    ) -> InstanceView:
        return tasks.complete(self.app, self.units, task_id, data=data, actor=actor)

    # --- incidents and lifecycle ---------------------------------------------------------------------

    def retry(
        self, instance_id: int, *, data: dict[str, Any] | None = None, actor: str | None
    ) -> InstanceView:
        return incidents.retry(self.app, self.units, instance_id, data=data, actor=actor)

    def retry_due(self, instance_id: int, *, actor: str | None = None) -> InstanceView | None:
        return incidents.retry_due(self.app, self.units, instance_id, actor=actor)

    def suspend(self, instance_id: int, *, reason: str | None = None, actor: str | None) -> InstanceView:
        return incidents.suspend(self.app, self.units, instance_id, reason=reason, actor=actor)

    def resume(self, instance_id: int, *, actor: str | None) -> InstanceView:
        return incidents.resume(self.app, self.units, instance_id, actor=actor)

    def terminate(self, instance_id: int, *, reason: str | None = None, actor: str | None) -> InstanceView:
        return incidents.terminate(self.app, self.units, instance_id, reason=reason, actor=actor)

    # --- repairing running work (engine/migration.py, engine/modification.py) -------------------------

    def migrate(self, process_id: str, **options: Any) -> MigrationReport:
        """Options: to_version, from_version, instance_ids, dry_run, actor, progress."""
        return migration.migrate(self.app, self.units, process_id, **options)

    def restart(
        self, instance_id: int, *, element: str, data: dict[str, Any] | None = None, actor: str | None
    ) -> InstanceView:
        return modification.restart(
            self.app, self.units, instance_id, element=element, data=data, actor=actor
        )

    def cleanup(self, **options: Any) -> CleanupReport:
        """Options: older_than, process_id, dry_run, export_to, actor, batch, progress (engine/retention.py)."""
        return retention.cleanup(self.app, **options)

    def batch_operation(self, operation: str, **options: Any) -> BatchReport:
        """retry, suspend, resume or terminate many instances (engine/batches.py `run_batch`)."""
        return batches.run_batch(self.app, self.units, operation, **options)

    def cancel(self, instance_id: int, *, task_id: int, actor: str | None) -> InstanceView:
        return modification.cancel(self.app, self.units, instance_id, task_id=task_id, actor=actor)

    # --- messages and signals ------------------------------------------------------------------------

    def message(self, name: str, **options: Any) -> list[InstanceView]:
        """Options: key, data, instance_id, every, actor (engine/messages.py `message`)."""
        return messages.message(self.app, self.units, name, **options)

    def signal(self, name: str, **options: Any) -> list[InstanceView]:
        """Options: data, instance_id, actor (engine/messages.py `signal`)."""
        return messages.signal(self.app, self.units, name, **options)

    def waits_of(self, instance_id: int, *, actor: str | None = None) -> list[Wait]:
        return instance_reads.waits_of(self.app, instance_id, actor=actor)

    # --- due work (the worker) -----------------------------------------------------------------------

    def fire_timers(self, instance_id: int) -> InstanceView | None:
        return scheduling.fire_timers(self.app, self.units, instance_id)

    def fire_schedule(self, schedule_id: int) -> InstanceView | None:
        return scheduling.fire_schedule(self.app, self.units, schedule_id)

    def run_due(self, instance_id: int) -> str | None:
        return scheduling.run_due(self.app, self.units, instance_id)

    def schedules(self) -> list[ScheduleView]:
        return scheduling.schedules(self.app)

    def claim_due_work(
        self, owner: str, lease: timedelta, limit: int, *, done: DueWork | None = None
    ) -> DueWork:
        return scheduling.claim_due_work(self.app, owner, lease, limit, done=done)

    def release_work(self, owner: str, work: DueWork) -> None:
        scheduling.release_work(self.app, owner, work)

    def next_due_at(self) -> datetime | None:
        return scheduling.next_due_at(self.app)

    def detect_delays(self) -> int:
        return scheduling.detect_delays(self.app, self.units)

    # --- people --------------------------------------------------------------------------------------

    def single_user_mode(self) -> bool:
        return people.single_user_mode(self.app)

    def add_user(
        self,
        name: str,
        *,
        lanes: Sequence[str] | None = None,
        role: str | None = None,
        actor: str | None,
        tz: str | None = None,
        email: str | None = None,
    ) -> UserChange:
        return people.add_user(
            self.app, self.units, name, lanes=lanes, role=role, actor=actor, tz=tz, email=email
        )

    def notify_settings(
        self, values: dict[str, str | None] | None = None, *, actor: str | None
    ) -> MailSettings:
        """Set the given mail settings (None removes one), then the effective ones (engine/notifications.py)."""
        if values:
            return notifications.set_settings(self.app, self.units, values, actor=actor)
        return notifications.show_settings(self.app, actor=actor)

    def notify_flush(self, *, actor: str | None) -> int:
        """Send every waiting digest now; how many mails went."""
        return notifications.flush_digests(self.app, self.units, actor=actor)

    def zone_of(self, name: str | None) -> str | None:
        """The time zone `name` chose, or None (engine/zones.py)."""
        return zones.zone_of(self.app, name)

    def remove_user(self, name: str, *, actor: str | None) -> UserView:
        return people.remove_user(self.app, self.units, name, actor=actor)

    def users(self, *, actor: str | None = None) -> list[UserView]:
        return people.users(self.app, actor=actor)

    def lane_members(self, lane: str) -> list[str]:
        return people.lane_members(self.app, lane)

    def audit_log(
        self, *, subject: str | None = None, limit: int = 100, actor: str | None = None
    ) -> list[AuditView]:
        return people.audit_log(self.app, subject=subject, limit=limit, actor=actor)

    # --- history and reports -------------------------------------------------------------------------

    def history(self, instance_id: int, *, actor: str | None = None) -> InstanceHistory:
        return history.instance_history(self.app, instance_id, actor=actor)

    def handoffs(self, *, actor: str | None = None, **filters: Any) -> list[HandoffView]:
        return history.handoffs(self.app, actor=actor, **filters)

    def crossings(self, *, actor: str | None = None, **filters: Any) -> list[CrossingView]:
        return history.crossings(self.app, actor=actor, **filters)

    def delays(self, *, actor: str | None = None, **filters: Any) -> list[DelayView]:
        return history.delays(self.app, actor=actor, **filters)

    def set_sla(self, duration: str, *, lane: str | None = None, actor: str | None) -> SlaView:
        return history.set_sla(self.app, self.units, duration, lane=lane, actor=actor)

    def sla_settings(self, *, actor: str | None = None) -> list[SlaView]:
        return history.sla_settings(self.app, actor=actor)

    def report(self, **filters: Any) -> Report:
        """Filters: process_id, since, until, actor (engine/reporting.py `report`)."""
        return reporting.report(self.app, **filters)

    def report_html(self, **filters: Any) -> str:
        return reporting.report_html(self.app, **filters)

    def export(self, out: IO[bytes] | IO[str], fmt: str, **filters: Any) -> int:
        """Filters: process_id, since, until, schedule, actor (engine/reporting.py `export`)."""
        return reporting.export(self.app, out, fmt, **filters)

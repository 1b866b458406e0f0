"""The use cases: deploy, start, claim, unclaim, complete, retry — each one unit of work, one transaction.

Every state change follows DESIGN §2: load the instance row (with its version), restore the workflow
against the cached spec, apply the change, run engine steps until the workflow waits, then write the new
state, the task rows and the history in ONE transaction. A concurrent writer gets a Conflict.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

import bpmn
from bpmn.durations import parse_duration
from storage import ConcurrentUpdate, Database, SchemaOutdated, StorageError
from storage import repository as repo
from storage.models import BoundaryCrossing, Delay, HandoffRecord, HumanTask, ProcessInstance

from . import access, forms, handlers, history, hooks, limits, payload, runtime
from .calls import CallServices
from .clock import Clock, utc_now
from .errors import (
    Conflict,
    DefinitionInvalid,
    HookError,
    InvalidInput,
    NotFound,
    ScriptFailed,
    SetupRequired,
)
from .incidents import IncidentServices
from .lifecycle import LifecycleEvent
from .messages import MessageServices
from .people import UserServices
from .report import Report
from .runtime import causality, service_calls
from .runtime import messaging as events
from .scheduling import SchedulingServices
from .views import (
    CrossingView,
    DelayView,
    Deployment,
    HandoffView,
    InstanceSummary,
    InstanceView,
    ProcessSummary,
    SlaView,
    TaskView,
    TimelineEntry,
)

INSTANCE_STATUSES = ("running", "waiting", "completed", "error", "terminated", "suspended")


@dataclass
class _Change:
    """What one operation did, collected while it runs and written at its end."""

    now: datetime
    actor: str | None
    events: list[LifecycleEvent] = field(default_factory=list)
    failure: runtime.Failure | None = None
    session: Session | None = None
    instance_id: int | None = None
    memo: dict[str, Any] | None = None  # the open batch's recorder memo
    router: Any = None  # inside a message or signal delivery: the transaction's messages.Router

    def completion_order(self, tokens: Iterable[str]) -> dict[str, int]:
        """Rank activity instances by completion: stored history first, then this operation's events."""
        wanted = set(tokens)
        ranks: dict[str, int] = {}
        if self.memo is not None:
            # A batch remembers every completion it recorded, with its event id: the same ranks.
            known = self.memo.get("completed", {})
            for token in wanted:
                step = known.get(token)
                if step is not None and step.id is not None:
                    ranks[token] = step.id
        missing = wanted - set(ranks)
        if self.memo is not None and self.instance_id in self.memo.get("born", ()):
            missing = set()  # started in this batch: every completion it had is in the memo
        if missing and self.session is not None and self.instance_id is not None:
            ranks.update(repo.completion_ranks(self.session, self.instance_id, sorted(missing)))
        for position, event in enumerate(self.events):
            if event.kind == "task_completed" and event.token in wanted:
                ranks[event.token] = 1 << 62 | position
        return ranks


class Handoff(UserServices, SchedulingServices, CallServices, IncidentServices, MessageServices):
    """The application: services over one database, with an injectable clock; each service checks
    its actor's role and lanes once users are registered (engine/people.py, docs/users.md); failures
    are retried by policy, then incidents (engine/incidents.py, docs/incidents.md)."""

    def __init__(
        self,
        database: Database,
        *,
        clock: Clock = utc_now,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        services: Mapping[str, handlers.Handler] | None = None,
    ) -> None:
        """`plugins` are hook objects registered beside the built-in recorders and the installed
        `handoff.hooks` entry points; `services` are service task handlers by name, beside the installed
        `handoff.services` entry points (switch both groups off with `load_entry_points=False`)."""
        self.db = database
        self.clock = clock
        self.definitions = runtime.DefinitionCache()
        self.hooks = hooks.plugin_manager(plugins, load_entry_points=load_entry_points)
        self.services = handlers.ServiceRegistry(services, load_entry_points=load_entry_points)
        self._schema_checked = False
        self._sla_cache: tuple[float, dict[tuple[str, str], float]] | None = None
        self._batch: _Batch | None = None

    SLA_CACHE_SECONDS = 5.0

    def _sla_settings(self, session: Session) -> dict[tuple[str, str], float]:
        """Lane and global SLA defaults, re-read every few seconds: they change rarely, and reading them
        on every state change would cost more than the rest of the history recording."""
        now = time.monotonic()
        if self._sla_cache is None or self._sla_cache[0] < now:
            self._sla_cache = (now + self.SLA_CACHE_SECONDS, repo.sla_settings(session))
        return self._sla_cache[1]

    # --- setup -------------------------------------------------------------------------------------

    def init(self) -> tuple[str | None, str]:
        try:
            result = self.db.upgrade()
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc
        self._schema_checked = True
        return result

    def _ready(self) -> None:
        if self._schema_checked:
            return
        try:
            self.db.require_current_schema()
        except SchemaOutdated as exc:
            raise SetupRequired(str(exc)) from exc
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc
        self._schema_checked = True

    # --- definitions -------------------------------------------------------------------------------

    def validate(self, paths: Sequence[str | Path]) -> bpmn.ValidationReport:
        return bpmn.validate_files(paths, max_bytes=limits.upload_limit())

    def deploy(
        self, paths: Sequence[str | Path], *, actor: str | None, trusted_scripts: bool = False
    ) -> list[Deployment]:
        """Validate, then store each process as a new version unless identical content is deployed.

        `trusted_scripts` (admins only) lets the versions' scripts run as full Python instead of in the
        sandbox (docs/security.md). The setting is part of a version: identical content deployed with
        the other setting makes a new version, so trust is never granted or kept silently.
        """
        self._ready()
        self._authorize(actor, "deploy_trusted" if trusted_scripts else "deploy")
        report = bpmn.validate_files(paths, max_bytes=limits.upload_limit())
        if not report.ok:
            first = report.errors[0]
            more = (
                f" (and {len(report.errors) - 1} more: see 'handoff validate')"
                if len(report.errors) > 1
                else ""
            )
            raise DefinitionInvalid(f"{first}{more}", report.problems)
        warnings = tuple(str(w) for w in report.warnings) + self._handler_warnings(report)
        now = self.clock()
        if self._batch is not None:
            self._batch.memo.pop("refs", None)
        results: list[Deployment] = []
        with self._uow() as session:
            self._check_calls(session, report.processes)
            for parsed in report.processes:
                model = parsed.model
                latest = repo.latest_definition(session, model.process_id)
                if (
                    latest is not None
                    and latest.checksum == parsed.checksum
                    and bool(latest.trusted_scripts) == trusted_scripts
                ):
                    results.append(
                        Deployment(
                            model.process_id,
                            latest.version,
                            False,
                            model.name,
                            model.lanes,
                            warnings,
                            trusted_scripts,
                        )
                    )
                    continue
                version = (latest.version + 1) if latest is not None else 1
                stored = repo.add_definition(
                    session,
                    process_id=model.process_id,
                    version=version,
                    name=model.name,
                    dialect=model.dialect,
                    checksum=parsed.checksum,
                    spec=json.dumps(parsed.spec, separators=(",", ":")),
                    model=model.to_json(),
                    deployed_at=now,
                    deployed_by=actor,
                    files=[(f.name, f.kind, f.checksum, f.content) for f in parsed.files],
                    trusted_scripts=trusted_scripts,
                )
                self._schedule_timer_starts(session, model.process_id, stored.id, parsed.spec, now)
                self._add_event_starts(session, stored.id)
                results.append(
                    Deployment(
                        model.process_id, version, True, model.name, model.lanes, warnings, trusted_scripts
                    )
                )
        return results

    def processes(self, *, actor: str | None = None) -> list[ProcessSummary]:
        self._ready()
        self._authorize(actor, "read")
        with self.db.reader() as session:
            return [
                ProcessSummary(
                    process=row["process"],
                    name=row["name"],
                    version=row["version"],
                    lanes=tuple(row["lanes"]),
                    instances=row["instances"],
                    deployed_at=row["deployed_at"],
                    deployed_by=row["deployed_by"],
                    trusted_scripts=row["trusted_scripts"],
                )
                for row in repo.definitions_summary(session)
            ]

    def process_model(self, process_id: str, version: int | None = None) -> bpmn.ProcessModel:
        """What Handoff knows of a deployed process (lanes, elements, properties, forms)."""
        self._ready()
        with self.db.reader() as session:
            ref = repo.latest_definition_ref(session, process_id, version)
            if ref is None:
                what = f"process '{process_id}'" + (f" version {version}" if version is not None else "")
                raise NotFound(f"{what} is not deployed (see 'handoff processes')")
            return self._definition(session, ref[0]).model

    def element_properties(self, process_id: str) -> dict[str, dict[str, str]]:
        """Extension properties by element id: the process's latest version first, then those of every
        other deployed process (the processes its call activities may call)."""
        self._ready()
        out: dict[str, dict[str, str]] = {}
        with self.db.reader() as session:
            others = [p["process"] for p in repo.definitions_summary(session) if p["process"] != process_id]
            for pid in [process_id, *others]:
                ref = repo.latest_definition_ref(session, pid, None)
                if ref is None:
                    continue
                for eid, element in self._definition(session, ref[0]).model.elements.items():
                    out.setdefault(eid, dict(element.properties))
        return out

    def _definition_ref(
        self, session: Session, process_id: str, version: int | None
    ) -> tuple[int, int] | None:
        if self._batch is None:
            return repo.latest_definition_ref(session, process_id, version)
        refs = self._batch.memo.setdefault("refs", {})  # deployments of the batch come before its starts
        if (process_id, version) not in refs:
            refs[(process_id, version)] = repo.latest_definition_ref(session, process_id, version)
        ref: tuple[int, int] | None = refs[(process_id, version)]
        return ref

    def _definition(self, session: Session, definition_id: int) -> runtime.LoadedDefinition:
        return self.definitions.get(definition_id, lambda: repo.definition_fields(session, definition_id))

    # --- instances ---------------------------------------------------------------------------------

    def start(
        self,
        process_id: str,
        *,
        data: dict[str, Any] | None = None,
        business_key: str | None = None,
        version: int | None = None,
        actor: str | None = None,
    ) -> InstanceView:
        """Start an instance and run it until it waits; a failing script leaves it in `error`."""
        self._ready()
        self._authorize(actor, "start")
        data = payload.check_payload(data or {}, f"the start of process {payload.show(process_id)}")
        payload.check_text(business_key, "the business key")
        change = self._change(actor)
        with self._uow() as session:
            change.session = session
            ref = self._definition_ref(session, process_id, version)
            if ref is None:
                what = f"process '{process_id}'" + (f" version {version}" if version is not None else "")
                raise NotFound(f"{what} is not deployed (see 'handoff processes')")
            definition = self._definition(session, ref[0])
            view = self._start_in(session, change, definition, data, business_key)
        self._notify(change.events)
        self._raise_failure(change, view)
        return view

    def _start_in(
        self,
        session: Session,
        change: _Change,
        definition: runtime.LoadedDefinition,
        data: dict[str, Any],
        business_key: str | None,
        *,
        start_timer: str | None = None,
        arrive: Callable[[BpmnWorkflow, _Change, runtime.LoadedDefinition], None] | None = None,
    ) -> InstanceView:
        """Create an instance in the caller's transaction and run it until it waits.

        `start_timer` names a timer start event that has just fired (the worker's schedule): the
        instance passes it at once instead of waiting for it again. `arrive` hands the new workflow the
        message or signal that starts it (engine/messages.py) before it runs.
        """
        definition, called = self._resolve_calls(session, definition)
        with runtime.clock_at(change.now):
            workflow = runtime.new_workflow(definition, data)
            if start_timer is not None:
                runtime.fire_start_timer(workflow, start_timer)
        instance = ProcessInstance(
            definition_id=definition.definition_id,
            process_id=definition.process_id,
            business_key=business_key,
            status="running",
            state="",
            data={},
            error=None,
            next_due_at=None,
            created_at=change.now,
            updated_at=change.now,
            completed_at=None,
            started_by=change.actor,
            lease_owner=None,
            lease_expires_at=None,
            attempts=0,
            called=called,
        )
        started: dict[str, Any] = {"data": runtime.snapshot(data)}
        if start_timer is not None:
            started["timer"] = start_timer
        change.events.append(self._event(definition, None, "instance_started", change, data=started))
        if arrive is not None:
            arrive(workflow, change, definition)
        open_tasks = self._advance(session, definition, instance, workflow, change, new=True)
        return self._view(session, instance, definition, tasks=open_tasks)

    def claim(self, task_id: int, *, actor: str | None) -> TaskView:
        self._ready()
        now = self.clock()
        with self._uow() as session:
            task = self._task(session, task_id)
            self._authorize_task(actor, task, "claim")
            if task.state == "claimed" and task.assignee == actor:
                return self._task_view(session, task)
            if task.state == "claimed":
                raise Conflict(
                    f"task {task_id} ({task.name or task.element_id}) is claimed by {task.assignee}"
                )
            self._require_open(task)
            self._require_active(session, task, "claimed")
            if not repo.update_task_if(
                session, task, "ready", task.assignee, state="claimed", assignee=actor, claimed_at=now
            ):
                raise Conflict(f"task {task_id} was changed by someone else just now; look again")
            event = self._task_event(session, task, "task_claimed", now, actor)
            view = self._task_view(session, task)
        self._notify([event])
        return view

    def unclaim(self, task_id: int, *, actor: str | None) -> TaskView:
        self._ready()
        now = self.clock()
        with self._uow() as session:
            task = self._task(session, task_id)
            self._authorize_task(actor, task, "unclaim")
            if task.state != "claimed":
                self._require_open(task)
                raise Conflict(f"task {task_id} ({task.name or task.element_id}) is not claimed")
            was_assignee = task.assignee
            if not repo.update_task_if(
                session, task, "claimed", task.assignee, state="ready", assignee=None, claimed_at=None
            ):
                raise Conflict(f"task {task_id} was changed by someone else just now; look again")
            event = self._task_event(
                session, task, "task_released", now, actor, data={"was_assignee": was_assignee}
            )
            view = self._task_view(session, task)
        self._notify([event])
        return view

    def complete(
        self, task_id: int, *, data: dict[str, Any] | None = None, actor: str | None
    ) -> InstanceView:
        """Complete a ready (or claimed) human task with form data, then run the instance on."""
        self._ready()
        change = self._change(actor)
        with self._uow() as session:
            change.session = session
            task = self._task(session, task_id)
            self._authorize_task(actor, task, "complete")
            change.instance_id = task.instance_id
            self._require_open(task)
            if task.state == "claimed" and task.assignee != actor:
                raise Conflict(
                    f"task {task_id} ({task.name or task.element_id}) is claimed by {task.assignee}"
                )
            instance = self._get_instance(session, task.instance_id)
            assert instance is not None
            if instance.status in ("suspended", "terminated"):
                self._require_active(session, task, "completed")
            if instance.status == "error":
                raise Conflict(
                    f"instance {instance.id} is {instance.status}: its tasks cannot be completed now"
                )
            if instance.status == "completed":
                # The task row was read before another operator's commit finished the instance
                # (PostgreSQL reads each row at its own commit): read it again, so the loser hears why.
                session.refresh(task)
                self._require_open(task)
                raise Conflict(
                    f"task {task_id} ({task.name or task.element_id}): instance {instance.id} is completed"
                )
            definition = self._instance_definition(session, instance)
            label = f"task {task_id} ({task.name or task.element_id})"
            form = [bpmn.FormField.from_json(f) for f in task.form]
            checked = forms.check(form, data or {}, label)
            workflow = self._workflow(definition, instance)
            spiff_task = runtime.find_task(workflow, task.spiff_task_id)
            if spiff_task is None or not runtime.is_open_work(spiff_task):
                # The task row may be older than the instance row (PostgreSQL reads each at its own
                # commit): read it again, so that the loser of a race hears who won.
                session.refresh(task)
                self._require_open(task)
                raise Conflict(f"{label} is not ready in instance {instance.id}")
            try:
                with runtime.clock_at(change.now):
                    runtime.run_user_task(spiff_task, checked)
            except Exception as exc:  # noqa: BLE001 - completing a task evaluates the conditions after it
                change.failure = runtime.describe_failure(exc)
            if not repo.update_task_if(
                session,
                task,
                task.state,
                task.assignee,
                state="completed",
                completed_at=change.now,
                completed_by=actor,
                data=runtime.snapshot(checked),
            ):
                raise Conflict(f"{label} was changed by someone else just now; look again")
            change.events.append(
                self._event(
                    definition,
                    spiff_task,
                    "task_completed",
                    change,
                    task_id=task.id,
                    data={
                        "form": runtime.snapshot(checked),
                        "ready_at": task.created_at.isoformat(),
                        "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
                    },
                )
            )
            open_tasks = self._advance(session, definition, instance, workflow, change)
            view = self._view(session, instance, definition, tasks=open_tasks)
        self._notify(change.events)
        self._raise_failure(change, view, done=f"task {task_id} completed")
        return view

    def retry(
        self, instance_id: int, *, data: dict[str, Any] | None = None, actor: str | None
    ) -> InstanceView:
        """Run the failed task of an instance in `error` again, with corrected data if given.

        If it fails again nothing is written: the instance stays in error with its incident.
        """
        self._ready()
        self._authorize(actor, "retry")
        change = self._change(actor)
        with self._uow() as session:
            change.session, change.instance_id = session, instance_id
            instance = self._instance(session, instance_id)
            if instance.status != "error":
                raise Conflict(f"instance {instance_id} is {instance.status}, not in error: nothing to retry")
            definition = self._instance_definition(session, instance)
            workflow = self._workflow(definition, instance)
            failed = runtime.error_tasks(workflow)
            retry_data = payload.check_payload(data or {}, f"the retry of instance {instance_id}")
            change.events.append(
                self._event(
                    definition,
                    None,
                    "instance_retried",
                    change,
                    data={"data": runtime.snapshot(retry_data)} if retry_data else None,
                )
            )
            instance.attempts = 0  # a person retries: a new failure gets the whole retry policy again
            try:
                with runtime.clock_at(change.now), self._service_calls(definition, instance, change):
                    for task in failed:
                        runtime.retry_task(task, retry_data)
            except Exception as exc:  # noqa: BLE001 - user scripts may raise anything
                failure = runtime.describe_failure(exc)
                raise ScriptFailed(
                    self._failure_text(definition, failure, instance_id) + " (nothing changed)", instance_id
                ) from exc
            if not failed and retry_data:
                for task in runtime.ready_human_tasks(workflow) or list(workflow.tasks.values())[:1]:
                    task.data.update(retry_data)
            open_tasks = self._advance(session, definition, instance, workflow, change)
            if change.failure is not None:
                raise ScriptFailed(
                    self._failure_text(definition, change.failure, instance_id) + " (nothing changed)",
                    instance_id,
                )
            view = self._view(session, instance, definition, tasks=open_tasks)
        self._notify(change.events)
        return view

    def fire_timers(self, instance_id: int) -> InstanceView | None:
        """Fire the instance's timers that are due by the engine clock and run it on until it waits.

        Returns None, changing nothing, when the instance has no timer due (none yet, or it is not
        running). A timer never fires early: its due time is compared with the clock, not trusted.
        """
        self._ready()
        change = self._change(None)
        with self._uow() as session:
            change.session, change.instance_id = session, instance_id
            instance = self._instance(session, instance_id)
            due = instance.next_due_at
            if instance.status not in ("running", "waiting") or due is None or due > change.now:
                return None
            definition = self._instance_definition(session, instance)
            workflow = self._workflow(definition, instance)
            # SpiffWorkflow fires a timer strictly after its due instant: ask it a microsecond later.
            with runtime.clock_at(change.now + timedelta(microseconds=1)):
                cycles = runtime.fire_due_timers(workflow)
            for firing in cycles:
                change.events.append(
                    self._event(
                        definition,
                        firing["task"],
                        "timer_fired",
                        change,
                        actor=None,
                        data={"timer": firing["timer"], "due": firing["due"]},
                    )
                )
            open_tasks = self._advance(session, definition, instance, workflow, change)
            view = self._view(session, instance, definition, tasks=open_tasks)
        self._notify(change.events)
        self._raise_failure(change, view)
        return view

    # --- reads -------------------------------------------------------------------------------------

    def instances(
        self,
        *,
        process_id: str | None = None,
        status: str | None = None,
        business_key: str | None = None,
        limit: int = 100,
        actor: str | None = None,
    ) -> list[InstanceSummary]:
        self._ready()
        self._authorize(actor, "read")
        if status is not None and status not in INSTANCE_STATUSES:
            raise InvalidInput(f"unknown status {status!r}; one of {', '.join(INSTANCE_STATUSES)}")
        with self.db.reader() as session:
            return [
                InstanceSummary(
                    id=i.id,
                    process=i.process_id,
                    version=version,
                    status=i.status,
                    business_key=i.business_key,
                    created_at=i.created_at,
                    updated_at=i.updated_at,
                    completed_at=i.completed_at,
                    error=i.error,
                    next_due_at=i.next_due_at,
                    attempts=i.attempts or 0,
                )
                for i, version in repo.list_instances(
                    session, process_id=process_id, status=status, business_key=business_key, limit=limit
                )
            ]

    def show(self, instance_id: int, *, actor: str | None = None) -> InstanceView:
        self._ready()
        self._authorize(actor, "read")
        with self.db.reader() as session:
            instance = self._instance(session, instance_id)
            definition = self._instance_definition(session, instance)
            timeline = tuple(
                TimelineEntry(
                    id=e.id,
                    at=e.at,
                    kind=e.kind,
                    element=e.element_id,
                    name=e.element_name,
                    type=e.element_type,
                    lane=e.lane,
                    actor=e.actor,
                    task=e.task_id,
                    data=e.data,
                )
                for e in repo.events_of(session, instance_id)
            )
            return self._view(session, instance, definition, timeline=timeline)

    def tasks(
        self,
        *,
        lane: str | None = None,
        assignee: str | None = None,
        instance_id: int | None = None,
        include_closed: bool = False,
        actor: str | None = None,
    ) -> list[TaskView]:
        """Human tasks; an operator sees those of their own lanes only (admins see all)."""
        self._ready()
        member = self._authorize(actor, "tasks")
        lanes = None
        if member is not None and member.role != "admin":
            access.check_lane_filter(member, lane)
            lanes = sorted(member.lanes)
        with self.db.reader() as session:
            return [
                _task_view(task, process)
                for task, process in repo.list_tasks(
                    session,
                    lane=lane,
                    assignee=assignee,
                    instance_id=instance_id,
                    include_closed=include_closed,
                    lanes=lanes,
                )
            ]

    # --- history: hook records, SLAs, overdue work -------------------------------------------------

    def handoffs(self, *, actor: str | None = None, **filters: Any) -> list[HandoffView]:
        """Handoff records; filters: process_id, instance_id, since, until, lanes (either end), limit."""
        return self._records(
            HandoffRecord, "to_at", ("from_lane", "to_lane"), history.handoff_view, actor=actor, **filters
        )

    def crossings(self, *, actor: str | None = None, **filters: Any) -> list[CrossingView]:
        """Boundary crossings; the same filters as `handoffs`."""
        return self._records(
            BoundaryCrossing, "at", ("from_lane", "to_lane"), history.crossing_view, actor=actor, **filters
        )

    def delays(self, *, actor: str | None = None, **filters: Any) -> list[DelayView]:
        """Delay records; the same filters as `handoffs` (lanes: the delayed task's)."""
        return self._records(Delay, "detected_at", ("lane",), history.delay_view, actor=actor, **filters)

    def _records(
        self,
        model: type[Any],
        time_column: str,
        lane_columns: tuple[str, ...],
        view: Callable[[Any], Any],
        *,
        process_id: str | None = None,
        instance_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        lanes: Sequence[str] = (),
        limit: int = 1000,
        actor: str | None = None,
    ) -> list[Any]:
        self._ready()
        self._authorize(actor, "history")
        with self.db.reader() as session:
            rows = repo.records(
                session,
                model,
                time_column=time_column,
                process_id=process_id,
                instance_id=instance_id,
                since=since,
                until=until,
                lanes=lanes,
                lane_columns=lane_columns,
                limit=limit,
            )
            return [view(r) for r in rows]  # inside the session: the rows expire when it ends

    def set_sla(self, duration: str, *, lane: str | None = None, actor: str | None) -> SlaView:
        """Set a lane's default SLA (lane given) or the global default (lane None)."""
        self._ready()
        self._authorize(actor, "sla")
        seconds = history.parse_sla(duration)
        scope, key = ("lane", lane) if lane else ("default", "")
        with self._uow() as session:
            repo.set_sla(session, scope, key, duration.strip().upper(), seconds, self.clock(), actor)
        self._sla_cache = None
        return next(s for s in self.sla_settings(actor=actor) if s.scope == scope and (s.lane or "") == key)

    def sla_settings(self, *, actor: str | None = None) -> list[SlaView]:
        self._ready()
        self._authorize(actor, "read")
        with self.db.reader() as session:
            return [history.sla_view(r) for r in repo.list_sla(session)]

    def detect_delays(self) -> int:
        """One pass of the worker's overdue check: delay records for work already past its SLA."""
        self._ready()
        with self._uow() as session:
            return history.detect_overdue(session, self.definitions, self.clock())

    # --- the CPO report ----------------------------------------------------------------------------

    def report(
        self,
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
    ) -> Report:
        """The CPO report for instances of `process_id` (or all) started in [since, until); docs/report.md."""
        from .report import build_report

        self._ready()
        self._authorize(actor, "report")
        with self.db.reader() as session:
            return build_report(session, process_id=process_id, since=since, until=until)

    def report_html(
        self,
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        actor: str | None = None,
    ) -> str:
        """The CPO report as one self-contained HTML page (docs/report.md "HTML"): the report, plus the
        BPMNDI of the latest deployed version of each process in it (or of `process_id`)."""
        from bpmn.diagram import Diagram, diagram_for_process
        from bpmn.xml import XmlError

        from .report import build_report
        from .report_html import render_html

        self._ready()
        self._authorize(actor, "report")
        with self.db.reader() as session:
            report = build_report(session, process_id=process_id, since=since, until=until)
            wanted = {p["process"] for p in report.processes} | ({process_id} if process_id else set())
            diagrams: dict[str, Diagram | None] = {}
            for pid in sorted(wanted):
                definition = repo.latest_definition(session, pid)
                if definition is None:
                    continue
                files = [(f.name, f.content) for f in repo.definition_files(session, definition.id)]
                try:
                    diagrams[pid] = diagram_for_process(files, pid)
                except XmlError:  # validated at deploy; never let a layout stop the report
                    diagrams[pid] = None
        return render_html(report, diagrams)

    # --- exports -----------------------------------------------------------------------------------

    def export(
        self,
        out: IO[bytes] | IO[str],
        fmt: str,
        *,
        process_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        schedule: bool = False,
        actor: str | None = None,
    ) -> int:
        """The activity events as an XES or CSV event log, streamed to `out`; returns how many were written.

        See docs/export.md. Filters: process_id, since <= event time < until; schedule adds task_ready.
        """
        from .export import export_events

        self._ready()
        self._authorize(actor, "export")
        return export_events(
            self.db, out, fmt, process_id=process_id, since=since, until=until, schedule=schedule
        )

    # --- internals ---------------------------------------------------------------------------------

    def _change(self, actor: str | None) -> _Change:
        """A new operation's change, at the clock's now; inside a batch it shares the batch's memo."""
        return _Change(self.clock(), actor, memo=self._batch.memo if self._batch is not None else None)

    def _uow(self) -> Any:
        if self._batch is not None:
            return self._batch.operation()
        return _translated(self.db)

    def _workflow(self, definition: runtime.LoadedDefinition, instance: ProcessInstance) -> BpmnWorkflow:
        """The instance's workflow: live from the open batch, else restored from its stored state."""
        if self._batch is not None:
            live = self._batch.live.get(instance.id)
            if live is not None:
                return live[2]
        workflow = runtime.load_workflow(definition, instance.state)
        self._remember_waits(instance, workflow)
        return workflow

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run many operations as ONE transaction: all of them land, or (on any error) none.

        For the simulator, which drives thousands of operations on a virtual clock: workflows stay live
        in memory between operations and each one's state is serialized once, when the batch commits
        (a finished instance never is). The operations, their checks and their hooks are those of live
        use; only the commit moves. Notify hooks run after the commit. Queries through separate read
        sessions (`tasks()`, `report()`, ...) do not see the batch until it commits.
        """
        if self._batch is not None:
            raise RuntimeError("a batch is already open on this Handoff")
        self._ready()
        batch = _Batch(self.db)
        self._batch = batch
        try:
            batch.enter()
            yield
            if batch.failed is not None:
                raise batch.failed
            batch.write()
        except BaseException as exc:
            self._batch = None
            batch.close(exc)
            raise
        self._batch = None
        batch.close(None)
        if batch.pending_notify:
            self._notify(batch.pending_notify)

    def _task(self, session: Session, task_id: int) -> HumanTask:
        task = (
            self._batch.task(session, task_id) if self._batch is not None else repo.get_task(session, task_id)
        )
        if task is None:
            raise NotFound(f"task {task_id} does not exist (see 'handoff tasks')")
        return task

    def _get_instance(self, session: Session, instance_id: int) -> ProcessInstance | None:
        if self._batch is not None:
            return self._batch.instance(session, instance_id)
        return repo.get_instance(session, instance_id)

    def _instance(self, session: Session, instance_id: int) -> ProcessInstance:
        instance = self._get_instance(session, instance_id)
        if instance is None:
            raise NotFound(f"instance {instance_id} does not exist (see 'handoff instances')")
        return instance

    def _require_active(self, session: Session, task: HumanTask, verb: str) -> None:
        """Tasks of a suspended or ended instance wait: nobody takes them until it is resumed."""
        instance = self._get_instance(session, task.instance_id)
        if instance is not None and instance.status in ("suspended", "terminated"):
            hint = (
                f"; an admin resumes it with 'handoff resume {instance.id}'"
                if instance.status == "suspended"
                else ""
            )
            raise Conflict(
                f"instance {instance.id} is {instance.status}: task {task.id} "
                f"({task.name or task.element_id}) cannot be {verb} now{hint}"
            )

    def _handler_warnings(self, report: bpmn.ValidationReport) -> tuple[str, ...]:
        """Service tasks whose handler is not installed here, as `file:line: warning: ...`: said at
        deploy, not refused, since the workers that run the process may have it (docs/services.md)."""
        found = []
        for parsed in report.processes:
            file_name = next((f.name for f in parsed.files if f.kind == "bpmn"), parsed.model.process_id)
            for element in parsed.model.elements.values():
                binding = element.service
                if binding is None or binding.handler in self.services:
                    continue
                then = (
                    "it will fail as an incident until one is"
                    if binding.strict
                    else "it will wait as open work for an outside worker"
                )
                message = (
                    f"service task {element.label} ({element.id}): no handler '{binding.handler}' is "
                    f"installed here; {then} (entry-point group {handlers.ENTRY_POINT_GROUP})"
                )
                found.append(str(bpmn.Problem(file_name, element.line, message, "warning")))
        return tuple(found)

    @staticmethod
    def _require_open(task: HumanTask) -> None:
        if task.state == "completed":
            raise Conflict(
                f"task {task.id} ({task.name or task.element_id}) is already completed"
                + (f" by {task.completed_by}" if task.completed_by else "")
            )
        if task.state == "cancelled":
            raise Conflict(f"task {task.id} ({task.name or task.element_id}) was cancelled")

    def _event(
        self,
        definition: runtime.LoadedDefinition,
        task: Task | None,
        kind: str,
        change: _Change,
        *,
        task_id: int | None = None,
        actor: str | None | bool = True,
        data: dict[str, Any] | None = None,
        opens: bool = False,
    ) -> LifecycleEvent:
        model = definition.model
        element = runtime.element_of(model, task) if task is not None else None
        token = cause = None
        if task is not None and runtime.is_activity(model, task):
            token = str(task.id)
            if kind in ("task_ready", "task_completed"):
                cause = self._cause(model, task, kind, change)
        return LifecycleEvent(
            kind=kind,
            instance_id=change.instance_id or 0,
            process_id=definition.process_id,
            version=definition.version,
            at=change.now,
            actor=change.actor if actor is True else (actor or None),
            element_id=element.id if element else None,
            element_name=element.name if element else None,
            element_type=element.type if element else None,
            lane=element.lane if element else None,
            task_id=task_id,
            data=data,
            token=token,
            cause=cause,
            opens=opens,
        )

    @staticmethod
    def _cause(model: bpmn.ProcessModel, task: Task, kind: str, change: _Change) -> str | None:
        def is_activity(t: Task) -> bool:
            return runtime.is_activity(model, t)

        before = None
        if kind == "task_completed" and isinstance(task.task_spec, SubWorkflowTask):
            before = causality.completed_subprocess_tail(task, is_activity, change.completion_order)
        if before is None:
            before = causality.predecessor(task, is_activity, change.completion_order)
        return str(before.id) if before is not None else None

    def _task_event(
        self,
        session: Session,
        task: HumanTask,
        kind: str,
        now: datetime,
        actor: str | None,
        data: dict[str, Any] | None = None,
    ) -> LifecycleEvent:
        instance = self._get_instance(session, task.instance_id)
        assert instance is not None
        definition = self._instance_definition(session, instance)
        event = _row_event(task, kind, definition, now, actor=actor, data=data)
        self._record(session, definition.model, [event])
        return event

    def _record(self, session: Session, model: bpmn.ProcessModel, events: list[LifecycleEvent]) -> None:
        """Run the record hooks in this transaction; a failing hook rolls the whole operation back."""
        context = hooks.RecordContext(
            session, model, events, sla_settings=lambda: self._sla_settings(session)
        )
        if self._batch is not None:
            # What the recorders looked up (earlier completions, SLA settings) stays valid for the whole
            # batch: history is append-only and the recorders keep their memo current as they write.
            context._cache = self._batch.memo
        try:
            hooks.run_record_hooks(self.hooks, events, context)
        except hooks.HookFailed as exc:
            raise HookError(str(exc)) from exc

    def _notify(self, events: list[LifecycleEvent]) -> None:
        """After the commit: notify hooks; each failure is kept as a `hook_failed` event."""
        if self._batch is not None:
            self._batch.pending_notify.extend(events)  # the commit comes when the batch ends
            return
        failures = hooks.run_notify_hooks(self.hooks, events)
        if not failures or not events:
            return
        first = events[0]
        with self._uow() as session:
            repo.add_events(
                session,
                [
                    LifecycleEvent(
                        kind="hook_failed",
                        instance_id=first.instance_id,
                        process_id=first.process_id,
                        version=first.version,
                        at=self.clock(),
                        data={"hook": hook, "error": error, "events": [e.id for e in events]},
                    ).row()
                    for hook, error in failures
                ],
            )

    def _advance(
        self,
        session: Session,
        definition: runtime.LoadedDefinition,
        instance: ProcessInstance,
        workflow: BpmnWorkflow,
        change: _Change,
        *,
        new: bool = False,
    ) -> list[HumanTask]:
        """Run engine steps, then write state, task rows and history in the caller's transaction.

        Returns the instance's open task rows afterwards (ordered by id), so callers need not query them.
        """
        model = definition.model
        log = runtime.StepLog()
        events.watch(workflow)
        if change.failure is None:  # completing the task itself may have failed already
            try:
                with runtime.clock_at(change.now), self._service_calls(definition, instance, change):
                    runtime.run_engine(
                        workflow, log, model.event_subprocesses, dispatch=service_calls.run_started
                    )
                    runtime.check_script_output(workflow, log.completed)  # engine/runtime/script_output.py
            except Exception as exc:  # noqa: BLE001 - scripts are user code: any exception is an incident
                change.failure = runtime.describe_failure(exc)
        outbox = events.outgoing(workflow)  # taken before the state is saved: SpiffWorkflow keeps it there
        for task in log.completed:
            if runtime.is_timer(task) and not runtime.is_cycle(task):  # cycles: see fire_due_timers
                change.events.append(
                    self._event(
                        definition, task, "timer_fired", change, actor=None, data=runtime.timer_details(task)
                    )
                )
            caught = runtime.caught_code_event(task)
            if caught is not None:
                change.events.append(
                    self._event(definition, task, caught[0], change, actor=None, data=caught[1])
                )
            if runtime.is_activity(model, task):
                changed = runtime.changed_data(task)
                change.events.append(
                    self._event(
                        definition,
                        task,
                        "task_completed",
                        change,
                        actor=None,
                        opens=True,
                        data={"changed": changed} if changed else None,
                    )
                )

        ready = runtime.ready_human_tasks(workflow)
        now = change.now
        if change.failure is not None:
            self._fail(definition, instance, change)  # engine/incidents.py: the retry plan, the events
        elif runtime.is_finished(workflow):
            instance.status = "completed"
            instance.completed_at = now
            instance.error = None
        elif not runtime.has_unfinished(workflow):
            # SpiffWorkflow thinks it is done, but no end event completed (a runaway loop hit its depth
            # limit, or a dropped flow): never report that as completed.
            change.failure = runtime.Failure(
                None, "the process stopped without reaching an end event", None, "FalseCompletion"
            )
            self._fail(definition, instance, change)
        else:
            instance.status = "running" if ready else "waiting"
            instance.error = None
        if instance.status != "error":
            instance.attempts = 0
        # A completed instance never runs again: like Camunda's runtime tables, its workflow state goes;
        # its history, data snapshot and task rows stay. Saves a serialization per finished instance.
        batch = self._batch
        if instance.status == "completed":
            instance.state = ""
        elif batch is None:
            instance.state = runtime.dump_workflow(definition, workflow)
        elif new:
            instance.state = ""  # a placeholder: the batch writes the state when it commits
        if batch is None or instance.status == "completed":
            instance.data = runtime.snapshot(runtime.instance_data(workflow))
        # else: a live instance of a batch gets its data snapshot once, when the batch writes it
        instance.updated_at = now
        if instance.status != "error":  # in error it is the retry time, or None: an incident (_fail)
            instance.next_due_at = (
                runtime.next_timer_due(workflow) if instance.status != "completed" else None
            )
        if new:
            repo.insert_instance(session, instance)  # one INSERT ... RETURNING id, no ORM flush
            change.instance_id = instance.id
            if batch is not None:
                batch.memo.setdefault("born", set()).add(instance.id)
        elif batch is None:
            session.flush()  # the version check for updated rows

        open_rows = {} if new else self._open_rows(session, instance.id)
        ready_ids = {str(t.id) for t in ready}
        new_tasks: list[tuple[HumanTask, Task]] = []
        for task in ready:
            if str(task.id) in open_rows:
                continue
            element = runtime.element_of(model, task)
            due_at = None
            sla = element.properties.get("sla")
            if sla:
                try:
                    due_at = now + parse_duration(sla)
                except ValueError:
                    due_at = None
            row = HumanTask(
                instance_id=instance.id,
                spiff_task_id=str(task.id),
                element_id=element.id,
                name=element.name,
                type=element.type,
                lane=element.lane,
                form=definition.form_json(element),
                state="ready",
                assignee=None,
                created_at=now,
                claimed_at=None,
                completed_at=None,
                completed_by=None,
                due_at=due_at,
                data=None,
            )
            repo.insert_task(session, row)
            new_tasks.append((row, task))
            change.events.append(
                self._event(definition, task, "task_ready", change, task_id=row.id, actor=None, opens=True)
            )
        for spiff_id, row in open_rows.items():
            if spiff_id not in ready_ids:
                repo.set_task(session, row, state="cancelled", completed_at=now)
                change.events.append(_row_event(row, "task_cancelled", definition, now))
        still_open = [row for spiff_id, row in open_rows.items() if spiff_id in ready_ids]
        open_now = sorted(still_open + [row for row, _ in new_tasks], key=lambda r: r.id)
        if batch is not None:
            batch.remember_tasks(instance.id, open_now)
            batch.keep(instance, definition, workflow)
        if instance.status == "completed":
            change.events.append(
                self._event(
                    definition,
                    None,
                    "instance_completed",
                    change,
                    actor=None,
                    data={"started_at": instance.created_at.isoformat()},
                )
            )
        for event in change.events:
            event.instance_id = instance.id
        self._record(session, model, change.events)
        self._write_waits(session, instance, workflow, new=new)
        if self._route(session, instance, definition, workflow, change, outbox):
            open_now = sorted(self._open_rows(session, instance.id).values(), key=lambda r: r.id)
        return open_now

    def _open_rows(self, session: Session, instance_id: int) -> dict[str, HumanTask]:
        """The instance's open task rows by SpiffWorkflow task id."""
        if self._batch is not None:
            return self._batch.open_rows(session, instance_id)
        return {t.spiff_task_id: t for t in repo.open_tasks_of(session, instance_id)}

    def _failure_text(
        self, definition: runtime.LoadedDefinition, failure: runtime.Failure, instance_id: int
    ) -> str:
        info = failure.to_json(definition.model)
        where = ""
        if info["task"]:
            where = f"{info['task_name'] or info['task']} ({info['task']})"
            if failure.line:
                where += f" line {failure.line}"
            where += ": "
        return f"instance {instance_id}: {where}{failure.message}"

    def _raise_failure(self, change: _Change, view: InstanceView, *, done: str = "") -> None:
        if change.failure is None:
            return
        definition_text = view.error or {}
        task = definition_text.get("task_name") or definition_text.get("task")
        where = f"{task} ({definition_text.get('task')})" if task else "the process"
        line = f" line {change.failure.line}" if change.failure.line else ""
        prefix = f"{done}, but " if done else ""
        if view.next_due_at is not None:
            then = (
                f"Handoff retries it by itself at {view.next_due_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(retry {view.attempts + 1} of {definition_text.get('retries')}), "
                f"or fix the cause and run 'handoff retry {view.id}' now"
            )
        else:
            then = f"fix the cause and run 'handoff retry {view.id}'"
        raise ScriptFailed(
            f"{prefix}{where}{line} failed: {change.failure.message} — instance {view.id} is now in error; {then}",
            view.id,
        )

    def _view(
        self,
        session: Session,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        *,
        timeline: tuple[TimelineEntry, ...] = (),
        tasks: Sequence[HumanTask] | None = None,
    ) -> InstanceView:
        if tasks is None:
            tasks = sorted(self._open_rows(session, instance.id).values(), key=lambda t: t.id)
        task_views = tuple(_task_view(t, instance.process_id) for t in tasks)
        return InstanceView(
            id=instance.id,
            process=instance.process_id,
            version=definition.version,
            status=instance.status,
            business_key=instance.business_key,
            data=instance.data,
            tasks=task_views,
            error=instance.error,
            created_at=instance.created_at,
            updated_at=instance.updated_at,
            completed_at=instance.completed_at,
            started_by=instance.started_by,
            next_due_at=instance.next_due_at,
            timeline=timeline,
            attempts=instance.attempts or 0,
        )

    def _task_view(self, session: Session, task: HumanTask) -> TaskView:
        instance = self._get_instance(session, task.instance_id)
        assert instance is not None
        return _task_view(task, instance.process_id)


def _row_event(
    task: HumanTask,
    kind: str,
    definition: runtime.LoadedDefinition,
    at: datetime,
    *,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
) -> LifecycleEvent:
    """A lifecycle event about a human task, from its row (claims, releases, cancellations)."""
    return LifecycleEvent(
        kind=kind,
        instance_id=task.instance_id,
        process_id=definition.process_id,
        version=definition.version,
        at=at,
        actor=actor,
        element_id=task.element_id,
        element_name=task.name,
        element_type=task.type,
        lane=task.lane,
        task_id=task.id,
        data=data,
        token=task.spiff_task_id,
    )


def _task_view(task: HumanTask, process_id: str) -> TaskView:
    return TaskView(
        id=task.id,
        instance=task.instance_id,
        process=process_id,
        element=task.element_id,
        name=task.name,
        type=task.type,
        lane=task.lane,
        state=task.state,
        assignee=task.assignee,
        created_at=task.created_at,
        due_at=task.due_at,
        form=tuple(task.form or ()),
        claimed_at=task.claimed_at,
        completed_at=task.completed_at,
        completed_by=task.completed_by,
    )


class _Batch:
    """The one transaction of `Handoff.batch()`, and what it keeps in memory until it commits.

    Instance and task rows it touched are held here, outside the ORM session, so that no operation
    reads them again; the instances' changes (and their serialized workflows) are written by one
    version-checked executemany at the end. Task rows and history are written as they happen.
    """

    def __init__(self, db: Database) -> None:
        self._cm = _translated(db)
        self.session: Session | None = None
        self.live: dict[int, tuple[ProcessInstance, runtime.LoadedDefinition, BpmnWorkflow]] = {}
        self.instances: dict[int, ProcessInstance] = {}
        self.tasks: dict[int, HumanTask] = {}
        self.open_tasks: dict[int, dict[str, HumanTask]] = {}
        self.dirty: dict[int, ProcessInstance] = {}
        self.pending_notify: list[LifecycleEvent] = []
        self.failed: BaseException | None = None
        self.memo: dict[str, Any] = {}

    def enter(self) -> None:
        self.session = self._cm.__enter__()
        repo.buffer_writes(self.session)

    def instance(self, session: Session, instance_id: int) -> ProcessInstance | None:
        found = self.instances.get(instance_id)
        if found is None:
            found = repo.get_instance(session, instance_id)
            if found is not None:
                session.expunge(found)  # from now on written by `write`, never by an ORM flush
                self.instances[instance_id] = found
        return found

    def task(self, session: Session, task_id: int) -> HumanTask | None:
        found = self.tasks.get(task_id)
        if found is None:
            found = repo.get_task(session, task_id)
            if found is not None:
                session.expunge(found)
                self.tasks[task_id] = found
        return found

    def open_rows(self, session: Session, instance_id: int) -> dict[str, HumanTask]:
        rows = self.open_tasks.get(instance_id)
        if rows is None:
            loaded = list(repo.open_tasks_of(session, instance_id))
            rows = {}
            for row in loaded:
                row = self.tasks.setdefault(row.id, row)
                if row in session:
                    session.expunge(row)
                rows[row.spiff_task_id] = row
            self.open_tasks[instance_id] = rows
        return {k: r for k, r in rows.items() if r.state in repo.OPEN_TASK_STATES}

    def remember_tasks(self, instance_id: int, rows: list[HumanTask]) -> None:
        for row in rows:
            self.tasks[row.id] = row
        self.open_tasks[instance_id] = {r.spiff_task_id: r for r in rows}

    def keep(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, workflow: BpmnWorkflow
    ) -> None:
        self.instances[instance.id] = instance
        self.dirty[instance.id] = instance
        if instance.status == "completed":
            self.live.pop(instance.id, None)
            self.open_tasks.pop(instance.id, None)
        else:
            self.live[instance.id] = (instance, definition, workflow)

    def write(self) -> None:
        """Serialize each unfinished workflow once and write every changed instance in one statement."""
        assert self.session is not None
        for instance, definition, workflow in self.live.values():
            instance.state = runtime.dump_workflow(definition, workflow)
            instance.data = runtime.snapshot(runtime.instance_data(workflow))
        inserted = repo.flush_writes(self.session)
        changed = [i for i in self.dirty.values() if i.id not in inserted]
        if not repo.update_instances(self.session, changed):
            raise Conflict("someone else changed instances of this batch at the same time; nothing was saved")

    def operation(self) -> Any:
        return _BatchOperation(self)

    def close(self, exc: BaseException | None) -> None:
        self.live.clear()
        self.instances.clear()
        self.tasks.clear()
        self.open_tasks.clear()
        self.dirty.clear()
        if exc is None:
            self._cm.__exit__(None, None, None)
        else:
            self.pending_notify.clear()
            self._cm.__exit__(type(exc), exc, exc.__traceback__)


class _BatchOperation:
    """One operation inside a batch: no commit of its own; an error in it spoils the whole batch, since
    its half-made changes cannot be taken back alone."""

    def __init__(self, batch: _Batch) -> None:
        self._batch = batch

    def __enter__(self) -> Session:
        if self._batch.failed is not None:
            raise RuntimeError(f"the batch failed earlier: {self._batch.failed}")
        assert self._batch.session is not None
        return self._batch.session

    def __exit__(self, exc_type: Any, exc: BaseException | None, _tb: Any) -> None:
        if exc is not None:
            self._batch.failed = exc


class _translated:
    """A unit of work whose storage conflicts surface as the engine's Conflict error."""

    def __init__(self, db: Database) -> None:
        self._cm = db.unit_of_work()

    def __enter__(self) -> Session:
        try:
            return self._cm.__enter__()
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc

    def __exit__(self, *exc_info: Any) -> bool:
        try:
            return bool(self._cm.__exit__(*exc_info))
        except ConcurrentUpdate as exc:
            raise Conflict(
                "someone else changed this instance at the same time; nothing was saved — look again and retry"
            ) from exc

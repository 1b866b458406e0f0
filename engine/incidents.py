"""Incidents and the instance lifecycle: retry (by a person, or automatically when due), suspend, resume,
terminate (docs/incidents.md). Each is one transaction with its history events, like every change.
"""

from __future__ import annotations

from typing import Any

from storage import repository as repo
from storage import subscriptions
from storage.models import HumanTask, ProcessInstance

from . import payload, runtime
from .errors import Conflict, ScriptFailed
from .kernel import rows
from .kernel.advance import advance, calling_handlers
from .kernel.app import App
from .kernel.events import instance_event, row_event, task_event
from .kernel.failures import failure_text
from .kernel.operation import Operation
from .kernel.recording import record
from .kernel.units import Units
from .kernel.work import Work
from .views import InstanceView

SUSPENDABLE = ("running", "waiting", "error")
TERMINABLE = ("running", "waiting", "error", "suspended")


def retry(
    app: App, units: Units, instance_id: int, *, data: dict[str, Any] | None = None, actor: str | None
) -> InstanceView:
    """Run the failed task of an instance in `error` again, with corrected data if given.

    If it fails again nothing is written: the instance stays in error with its incident.
    """
    app.ready()
    app.permissions.authorize(actor, "retry")
    with units.operation() as work:
        op = Operation(work, app.clock(), actor, instance_id=instance_id)
        instance = rows.instance(work, instance_id)
        if instance.status != "error":
            raise Conflict(f"instance {instance_id} is {instance.status}, not in error: nothing to retry")
        definition = app.definitions.for_instance(work.session, instance)
        workflow = rows.workflow(work, definition, instance)
        failed = runtime.error_tasks(workflow)
        retry_data = payload.check_payload(data or {}, f"the retry of instance {instance_id}")
        retried = {"data": runtime.snapshot(retry_data)} if retry_data else None
        op.events.append(instance_event(definition, "instance_retried", op, data=retried))
        instance.attempts = 0  # a person retries: a new failure gets the whole retry policy again
        try:
            with runtime.clock_at(op.now), calling_handlers(app, definition, instance, op):
                for task in failed:
                    runtime.retry_task(task, retry_data)
        except Exception as exc:  # noqa: BLE001 - user scripts may raise anything
            failure = runtime.describe_failure(exc)
            raise ScriptFailed(
                failure_text(definition, failure, instance_id) + " (nothing changed)", instance_id
            ) from exc
        if not failed and retry_data:
            for task in runtime.ready_human_tasks(workflow) or list(workflow.tasks.values())[:1]:
                task.data.update(retry_data)
        open_tasks = advance(app, op, definition, instance, workflow)
        if op.failure is not None:
            raise ScriptFailed(
                failure_text(definition, op.failure, instance_id) + " (nothing changed)", instance_id
            )
        return rows.instance_view(work, instance, definition.version, tasks=open_tasks)


def retry_due(app: App, units: Units, instance_id: int, *, actor: str | None = None) -> InstanceView | None:
    """The worker's automatic retry: run the failed task of an instance in error whose retry is due.

    Returns None, changing nothing, unless the instance is in error with a retry due by the engine
    clock. Otherwise the attempt is written whatever its outcome: success runs the instance on; a
    new failure schedules the next retry, or opens an incident when the policy's retries are spent.
    Never raises for the failure itself: it is in the instance and its history.
    """
    app.ready()
    with units.operation() as work:
        op = Operation(work, app.clock(), actor, instance_id=instance_id)
        instance = rows.instance(work, instance_id)
        due = instance.next_due_at
        if instance.status != "error" or due is None or due > op.now:
            return None
        definition = app.definitions.for_instance(work.session, instance)
        workflow = rows.workflow(work, definition, instance)
        failed = runtime.error_tasks(workflow)
        instance.attempts = (instance.attempts or 0) + 1
        attempt = {
            "automatic": True,
            "attempt": instance.attempts,
            "retries": (instance.error or {}).get("retries"),
        }
        op.events.append(
            task_event(definition, failed[0] if failed else None, "instance_retried", op, data=attempt)
        )
        try:
            with runtime.clock_at(op.now), calling_handlers(app, definition, instance, op):
                for task in failed:
                    runtime.retry_task(task, {})
        except Exception as exc:  # noqa: BLE001 - scripts and handlers are user code
            op.failure = runtime.describe_failure(exc)
        open_tasks = advance(app, op, definition, instance, workflow)
        return rows.instance_view(work, instance, definition.version, tasks=open_tasks)


def suspend(
    app: App, units: Units, instance_id: int, *, reason: str | None = None, actor: str | None
) -> InstanceView:
    """Put an instance on hold: its tasks cannot be claimed or completed, its timers and retries do
    not fire, until `resume`. Running, waiting and failed instances can be suspended."""
    app.ready()
    app.permissions.authorize(actor, "suspend")
    with units.operation() as work:
        op, instance, definition, open_rows = _begin(app, work, instance_id, actor)
        previous = instance.status
        if previous not in SUSPENDABLE:
            raise Conflict(
                f"instance {instance_id} is {previous}: only a running, waiting or failed instance can be suspended"
            )
        instance.status = "suspended"
        return _end(app, op, instance, definition, "instance_suspended", _data(previous, reason), open_rows)


def resume(app: App, units: Units, instance_id: int, *, actor: str | None) -> InstanceView:
    """Take a suspended instance off hold, back to the status it had; timers and retries that fell
    due meanwhile fire on the worker's next pass."""
    app.ready()
    app.permissions.authorize(actor, "suspend")
    with units.operation() as work:
        op, instance, definition, open_rows = _begin(app, work, instance_id, actor)
        previous = instance.status
        if previous != "suspended":
            raise Conflict(f"instance {instance_id} is {previous}, not suspended: nothing to resume")
        # What it was before: nothing ran while it was on hold, so its state still says so.
        instance.status = "error" if instance.error else ("running" if open_rows else "waiting")
        data = _data(previous, None) | {"status": instance.status}
        return _end(app, op, instance, definition, "instance_resumed", data, open_rows)


def terminate(
    app: App, units: Units, instance_id: int, *, reason: str | None = None, actor: str | None
) -> InstanceView:
    """End an instance for good: its open tasks are cancelled, it never runs again."""
    app.ready()
    app.permissions.authorize(actor, "terminate")
    with units.operation() as work:
        op, instance, definition, open_rows = _begin(app, work, instance_id, actor)
        previous = instance.status
        if previous not in TERMINABLE:
            raise Conflict(f"instance {instance_id} is {previous}: it has already ended")
        for row in open_rows:
            repo.set_task(work.session, row, state="cancelled", completed_at=op.now)
            op.events.append(row_event(row, "task_cancelled", definition, op.now, actor=actor))
        # Like a completed one, a terminated instance never runs again: its workflow state goes, and
        # nothing it waited for may reach it (docs/messages.md).
        subscriptions.remove(work.session, instance_id)
        instance.status, instance.state, instance.error = "terminated", "", None
        instance.next_due_at, instance.attempts = None, 0
        return _end(app, op, instance, definition, "instance_terminated", _data(previous, reason), [])


def _begin(
    app: App, work: Work, instance_id: int, actor: str | None
) -> tuple[Operation, ProcessInstance, runtime.LoadedDefinition, list[HumanTask]]:
    """A lifecycle change starts: the instance, its definition and its open task rows."""
    op = Operation(work, app.clock(), actor, instance_id=instance_id)
    instance = rows.instance(work, instance_id)
    definition = app.definitions.for_instance(work.session, instance)
    open_rows = sorted(work.open_rows(instance_id).values(), key=lambda r: r.id)
    return op, instance, definition, open_rows


def _data(previous: str, reason: str | None) -> dict[str, Any]:
    """What a lifecycle event records: the status before, and the reason a person gave."""
    data: dict[str, Any] = {"previous_status": previous}
    reason = (reason or "").strip() or None
    if reason:
        data["reason"] = reason
    return data


def _end(
    app: App,
    op: Operation,
    instance: ProcessInstance,
    definition: runtime.LoadedDefinition,
    kind: str,
    data: dict[str, Any],
    open_rows: list[HumanTask],
) -> InstanceView:
    """A lifecycle change ends: its event, the row written under its version, the history recorded."""
    instance.updated_at = op.now
    op.events.append(instance_event(definition, kind, op, data=data))
    for event in op.events:
        event.instance_id = instance.id
    op.work.changed(instance)  # the version check: a concurrent change wins, this one fails
    record(app, op.work, definition.model, op.events)
    return rows.instance_view(op.work, instance, definition.version, tasks=open_rows)

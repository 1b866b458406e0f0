"""Human tasks, as operators work them: list, claim, unclaim (release), complete with form data."""

from __future__ import annotations

from typing import Any

import bpmn
from storage import repository as repo
from storage.models import HumanTask

from . import forms, runtime
from .errors import Conflict
from .kernel import rows
from .kernel.advance import advance
from .kernel.app import App
from .kernel.events import row_event, task_event
from .kernel.failures import raise_failure
from .kernel.operation import Operation
from .kernel.recording import record
from .kernel.task_times import task_numbers
from .kernel.units import Units
from .kernel.work import Work
from .views import InstanceView, TaskView


def claim(app: App, units: Units, task_id: int, *, actor: str | None) -> TaskView:
    """Take a ready task: from now on only its assignee completes it."""
    app.ready()
    now = app.clock()
    with units.operation() as work:
        task = rows.task(work, task_id)
        app.permissions.authorize_task(actor, task, "claim")
        if task.state == "claimed" and task.assignee == actor:
            return _view(work, task, app)
        if task.state == "claimed":
            raise Conflict(f"{rows.label(task)} is claimed by {task.assignee}")
        rows.require_open(task)
        rows.require_active(work, task, "claimed")
        if not repo.update_task_if(
            work.session, task, "ready", task.assignee, state="claimed", assignee=actor, claimed_at=now
        ):
            raise Conflict(f"task {task_id} was changed by someone else just now; look again")
        _record_row_event(app, work, task, "task_claimed", now, actor)
        return _view(work, task, app)


def unclaim(app: App, units: Units, task_id: int, *, actor: str | None) -> TaskView:
    """Release a claimed task: it is ready for anyone of its lane again."""
    app.ready()
    now = app.clock()
    with units.operation() as work:
        task = rows.task(work, task_id)
        app.permissions.authorize_task(actor, task, "unclaim")
        if task.state != "claimed":
            rows.require_open(task)
            raise Conflict(f"{rows.label(task)} is not claimed")
        was_assignee = task.assignee
        if not repo.update_task_if(
            work.session, task, "claimed", task.assignee, state="ready", assignee=None, claimed_at=None
        ):
            raise Conflict(f"task {task_id} was changed by someone else just now; look again")
        _record_row_event(app, work, task, "task_released", now, actor, data={"was_assignee": was_assignee})
        return _view(work, task, app)


def complete(
    app: App, units: Units, task_id: int, *, data: dict[str, Any] | None = None, actor: str | None
) -> InstanceView:
    """Complete a ready (or claimed) human task with form data, then run the instance on."""
    app.ready()
    with units.operation() as work:
        op = Operation(work, app.clock(), actor)
        task, instance = rows.task_with_instance(work, task_id)
        app.permissions.authorize_task(actor, task, "complete")
        op.instance_id = task.instance_id
        rows.require_open(task)
        label = rows.label(task)
        if task.state == "claimed" and task.assignee != actor:
            raise Conflict(f"{label} is claimed by {task.assignee}")
        if instance.status in ("suspended", "terminated"):
            rows.require_active(work, task, "completed")
        if instance.status == "error":
            raise Conflict(f"instance {instance.id} is {instance.status}: its tasks cannot be completed now")
        if instance.status == "completed":
            # The task row was read before another operator's commit finished the instance
            # (PostgreSQL reads each row at its own commit): read it again, so the loser hears why.
            work.session.refresh(task)
            rows.require_open(task)
            raise Conflict(f"{label}: instance {instance.id} is completed")
        definition = app.definitions.for_instance(work.session, instance)
        checked = forms.check([bpmn.FormField.from_json(f) for f in task.form], data or {}, label)
        workflow = rows.workflow(work, definition, instance)
        spiff_task = runtime.find_task(workflow, task.spiff_task_id)
        if spiff_task is None or not runtime.is_open_work(spiff_task):
            # The task row may be older than the instance row (PostgreSQL reads each at its own
            # commit): read it again, so that the loser of a race hears who won.
            work.session.refresh(task)
            rows.require_open(task)
            raise Conflict(f"{label} is not ready in instance {instance.id}")
        try:
            with runtime.clock_at(op.now):
                runtime.run_user_task(spiff_task, checked)
        except Exception as exc:  # noqa: BLE001 - completing a task evaluates the conditions after it
            op.failure = runtime.describe_failure(exc)
        if not repo.update_task_if(
            work.session,
            task,
            task.state,
            task.assignee,
            state="completed",
            completed_at=op.now,
            completed_by=actor,
            data=runtime.snapshot(checked),
            # the report's numbers, in the same UPDATE (engine/kernel/task_times.py)
            **task_numbers(task.created_at, task.claimed_at, op.now),
        ):
            raise Conflict(f"{label} was changed by someone else just now; look again")
        completed = {
            "form": runtime.snapshot(checked),
            "ready_at": task.created_at.isoformat(),
            "claimed_at": task.claimed_at.isoformat() if task.claimed_at else None,
        }
        op.events.append(
            task_event(definition, spiff_task, "task_completed", op, task_id=task.id, data=completed)
        )
        open_tasks = advance(app, op, definition, instance, workflow)
        view = rows.instance_view(work, instance, definition.version, tasks=open_tasks)
    raise_failure(op, view, done=f"task {task_id} completed")
    return view


def _record_row_event(
    app: App,
    work: Work,
    task: HumanTask,
    kind: str,
    now: Any,
    actor: str | None,
    data: dict[str, Any] | None = None,
) -> None:
    """Record a claim or a release: an event from the task row, in this transaction."""
    instance = rows.instance(work, task.instance_id)
    definition = app.definitions.for_instance(work.session, instance)
    record(app, work, definition.model, [row_event(task, kind, definition, now, actor=actor, data=data)])


def _view(work: Work, task: HumanTask, app: App | None = None) -> TaskView:
    instance = rows.instance(work, task.instance_id)
    if app is None:
        return rows.task_view(task, instance.process_id)
    return rows.task_view(task, instance.process_id, sla=app.sla.get(work.session), now=app.clock())

"""Instance modification (issue 16; Camunda's process instance modification): restart an instance from
an activity it completed, so that the work from there on is done again; cancel one open activity.

`restart` resets the workflow with SpiffWorkflow's `reset_from_task_id`: the activity becomes ready
again (with corrected data, if given), and what came after it is cancelled. History stays append-only:
the first executions keep their events, the reset is an `instance_restarted` event, the open tasks that
went are `task_cancelled`, and the work done again is recorded as it happens, so the report counts it as
rework. Admins only, like migration.
"""

from __future__ import annotations

from typing import Any

from . import payload, runtime
from .errors import Conflict, ScriptFailed
from .kernel import rows
from .kernel.advance import advance
from .kernel.app import App
from .kernel.events import instance_event
from .kernel.failures import failure_text
from .kernel.operation import Operation
from .kernel.units import Units
from .runtime.migration import awaiting_join, cancel_task, completed_elements, open_work, reset_to
from .views import InstanceView

RESTARTABLE = ("running", "waiting", "error")


def restart(
    app: App,
    units: Units,
    instance_id: int,
    *,
    element: str,
    data: dict[str, Any] | None = None,
    actor: str | None,
) -> InstanceView:
    """Reset an unfinished instance to the latest completed execution of `element` and run on from
    there. If the work that runs again fails, nothing is written."""
    app.ready()
    app.permissions.authorize(actor, "migrate")
    with units.operation() as work:
        op = Operation(work, app.clock(), actor, instance_id=instance_id)
        instance = rows.instance(work, instance_id)
        if instance.status not in RESTARTABLE:
            hint = (
                f"; resume it first ('handoff resume {instance_id}')"
                if instance.status == "suspended"
                else ""
            )
            raise Conflict(f"instance {instance_id} is {instance.status}: it cannot be restarted{hint}")
        definition = app.definitions.for_instance(work.session, instance)
        workflow = rows.workflow(work, definition, instance)
        given = payload.check_payload(data or {}, f"the restart of instance {instance_id}")

        def activity(task: runtime.Task) -> bool:
            return runtime.is_activity(definition.model, task)

        cancelled = reset_to(workflow, element, given, activity)
        if cancelled is None:
            done = completed_elements(workflow, activity)
            raise Conflict(
                f"instance {instance_id} has not completed '{element}': it can restart from "
                + (", ".join(done) if done else "nothing yet")
            )
        recorded: dict[str, Any] = {"from": element, "cancelled": cancelled}
        if given:
            recorded["data"] = runtime.snapshot(given)
        op.events.append(instance_event(definition, "instance_restarted", op, data=recorded))
        instance.attempts = 0
        open_tasks = advance(app, op, definition, instance, workflow)
        if op.failure is not None:
            raise ScriptFailed(
                failure_text(definition, op.failure, instance_id) + " (nothing changed)", instance_id
            )
        return rows.instance_view(work, instance, definition.version, tasks=open_tasks)


def cancel(app: App, units: Units, instance_id: int, *, task_id: int, actor: str | None) -> InstanceView:
    """Cancel one open human task of an instance, where the model allows it: not its only open work
    (terminate the instance instead), and not on a branch that a parallel or inclusive join waits for
    (the instance could never go past the join). The instance runs on from its other work."""
    app.ready()
    app.permissions.authorize(actor, "migrate")
    with units.operation() as work:
        op = Operation(work, app.clock(), actor, instance_id=instance_id)
        instance = rows.instance(work, instance_id)
        row = rows.task(work, task_id)
        if row.instance_id != instance_id:
            raise Conflict(f"{rows.label(row)} is not a task of instance {instance_id}")
        rows.require_open(row)
        if instance.status not in RESTARTABLE:
            raise Conflict(f"instance {instance_id} is {instance.status}: its tasks cannot be cancelled now")
        definition = app.definitions.for_instance(work.session, instance)
        workflow = rows.workflow(work, definition, instance)
        others = [t for t in open_work(workflow) if str(t.id) != row.spiff_task_id]
        if not others:
            raise Conflict(
                f"{rows.label(row)} is the only open work of instance {instance_id}: terminate the "
                f"instance instead ('handoff terminate {instance_id}')"
            )
        task = runtime.find_task(workflow, row.spiff_task_id)
        join = awaiting_join(task) if task is not None else None
        if join is not None:
            raise Conflict(
                f"{rows.label(row)} cannot be cancelled: the join '{join}' waits for its branch, so the "
                "instance could never go past it"
            )
        if task is None or cancel_task(workflow, row.spiff_task_id) is None:
            raise Conflict(f"{rows.label(row)} is not open in its instance")
        op.events.append(
            instance_event(
                definition, "activity_cancelled", op, data={"task": row.id, "element": row.element_id}
            )
        )
        open_tasks = advance(app, op, definition, instance, workflow)
        if op.failure is not None:
            raise ScriptFailed(
                failure_text(definition, op.failure, instance_id) + " (nothing changed)", instance_id
            )
        return rows.instance_view(work, instance, definition.version, tasks=open_tasks)

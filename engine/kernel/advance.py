"""Advancing a workflow: run its engine steps until it waits, then write the outcome in the operation's
transaction (DESIGN §2) — the instance row, its task rows, its history, what it waits for, and what it
sent to other instances. `start` creates an instance and advances it; every other state change loads
one, changes it, and calls `advance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from storage import repository as repo
from storage.models import HumanTask, ProcessInstance

from .. import runtime
from ..runtime import messaging, service_calls
from ..views import InstanceView
from . import routing, waits
from .app import App
from .assignment import assign, joined
from .events import instance_event, row_event, task_event
from .failures import fail
from .operation import Operation
from .recording import record
from .rows import instance_view

Arrival = Callable[[runtime.Workflow, Operation, runtime.LoadedDefinition], None]


@contextmanager
def calling_handlers(
    app: App, definition: runtime.LoadedDefinition, instance: ProcessInstance, op: Operation
) -> Iterator[None]:
    """Service tasks reached in this block call their handlers, told which instance and attempt."""
    with service_calls.calls(
        app.handlers,
        definition.model,
        process=definition.process_id,
        instance=instance.id,
        business_key=instance.business_key,
        attempt=(instance.attempts or 0) + 1,
        now=op.now,
    ):
        yield


def advance(
    app: App,
    op: Operation,
    definition: runtime.LoadedDefinition,
    instance: ProcessInstance,
    workflow: runtime.Workflow,
    *,
    new: bool = False,
) -> list[HumanTask]:
    """Run engine steps, then write state, task rows and history in the operation's transaction.

    Returns the instance's open task rows afterwards (ordered by id), so callers need not query them.
    """
    outbox = _run_steps(app, op, definition, instance, workflow)
    ready = runtime.ready_human_tasks(workflow)
    _settle_status(op, definition, instance, workflow, ready)
    _write_instance(op, definition, instance, workflow, new=new)
    open_now = _write_task_rows(op, definition, instance, ready, new=new)
    op.work.keep(instance, definition, workflow, open_now)
    if instance.status == "completed":
        started = {"started_at": instance.created_at.isoformat()}
        op.events.append(instance_event(definition, "instance_completed", op, actor=None, data=started))
    for event in op.events:
        event.instance_id = instance.id
    record(app, op.work, definition.model, op.events)
    waits.write(op.work.session, instance, workflow, app.clock(), new=new)
    if routing.route(app, op, instance, definition, workflow, outbox, advance=advance, start=start):
        open_now = sorted(op.work.open_rows(instance.id).values(), key=lambda r: r.id)
    return open_now


def _run_steps(
    app: App,
    op: Operation,
    definition: runtime.LoadedDefinition,
    instance: ProcessInstance,
    workflow: runtime.Workflow,
) -> list[Any]:
    """Run the automated work; note each completed activity, fired timer and caught event; return what the
    instance sent out (taken before the state is saved: SpiffWorkflow keeps it there)."""
    model = definition.model
    log = runtime.StepLog()
    messaging.watch(workflow)
    if op.failure is None:  # completing the task itself may have failed already
        try:
            with runtime.clock_at(op.now), calling_handlers(app, definition, instance, op):
                runtime.run_engine(
                    workflow, log, model.event_subprocesses, dispatch=service_calls.run_started
                )
                runtime.check_script_output(workflow, log.completed)  # engine/runtime/script_output.py
        except Exception as exc:  # noqa: BLE001 - scripts are user code: any exception is an incident
            op.failure = runtime.describe_failure(exc)
    outbox = messaging.outgoing(workflow)
    for task in log.completed:
        if runtime.is_timer(task) and not runtime.is_cycle(task):  # cycles: see fire_due_timers
            op.events.append(
                task_event(definition, task, "timer_fired", op, actor=None, data=runtime.timer_details(task))
            )
        caught = runtime.caught_code_event(task)
        if caught is not None:
            op.events.append(task_event(definition, task, caught[0], op, actor=None, data=caught[1]))
        if runtime.is_activity(model, task):
            changed = runtime.changed_data(task)
            op.events.append(
                task_event(
                    definition,
                    task,
                    "task_completed",
                    op,
                    actor=None,
                    opens=True,
                    data={"changed": changed} if changed else None,
                )
            )
    return outbox


def _settle_status(
    op: Operation,
    definition: runtime.LoadedDefinition,
    instance: ProcessInstance,
    workflow: runtime.Workflow,
    ready: list[runtime.Task],
) -> None:
    """The instance's status after the steps: in error, completed for real, or running / waiting."""
    if op.failure is not None:
        fail(definition, instance, op)
    elif runtime.is_finished(workflow):
        instance.status = "completed"
        instance.completed_at = op.now
        instance.error = None
    elif not runtime.has_unfinished(workflow):
        # SpiffWorkflow thinks it is done, but no end event completed (a runaway loop hit its depth
        # limit, or a dropped flow): never report that as completed.
        op.failure = runtime.Failure(
            None, "the process stopped without reaching an end event", None, "FalseCompletion"
        )
        fail(definition, instance, op)
    else:
        instance.status = "running" if ready else "waiting"
        instance.error = None
    if instance.status != "error":
        instance.attempts = 0


def _write_instance(
    op: Operation,
    definition: runtime.LoadedDefinition,
    instance: ProcessInstance,
    workflow: runtime.Workflow,
    *,
    new: bool,
) -> None:
    """The instance row: state and data (a completed instance keeps no workflow state, like Camunda's
    runtime tables: its history, data snapshot and task rows stay), the next due time, the row itself,
    and its searchable data (the variable table, in the same transaction)."""
    before = None if new else instance.data
    op.work.save_state(instance, definition, workflow, new=new)
    instance.updated_at = op.now
    if instance.status != "error":  # in error it is the retry time, or None: an incident (failures.fail)
        instance.next_due_at = runtime.next_timer_due(workflow) if instance.status != "completed" else None
    if new:
        op.work.insert(instance)  # the row and its searchable data, no ORM flush
        op.instance_id = instance.id
        op.work.memo.born.add(instance.id)
    else:
        op.work.changed(instance)  # the version check for updated rows
        op.work.index_data(instance, before)


def _write_task_rows(
    op: Operation,
    definition: runtime.LoadedDefinition,
    instance: ProcessInstance,
    ready: list[runtime.Task],
    *,
    new: bool,
) -> list[HumanTask]:
    """A row for each human task that became ready, `cancelled` for each open one that is gone; the open
    rows afterwards, ordered by id."""
    session, now = op.work.session, op.now
    open_rows = {} if new else op.work.open_rows(instance.id)
    ready_ids = {str(t.id) for t in ready}
    born: list[HumanTask] = []
    for task in ready:
        if str(task.id) in open_rows:
            continue
        element = runtime.element_of(definition.model, task)
        assigned = assign(element, task, now, lane_owners=definition.model.dialect == "spiff")
        row = repo.new_row(
            HumanTask,
            instance_id=instance.id,
            spiff_task_id=str(task.id),
            element_id=element.id,
            name=element.name,
            type=element.type,
            lane=element.lane,
            form=definition.form_json(element),
            # A task assigned in the model starts claimed by its assignee (docs/assignment.md)
            state="claimed" if assigned.assignee else "ready",
            assignee=assigned.assignee,
            created_at=now,
            claimed_at=None,
            completed_at=None,
            completed_by=None,
            due_at=assigned.due_at,
            data=None,
            candidate_users=joined(assigned.candidate_users),
            candidate_groups=joined(assigned.candidate_groups),
            follow_up_at=assigned.follow_up_at,
            priority=assigned.priority,
        )
        repo.insert_task(session, row)
        born.append(row)
        op.events.append(
            task_event(
                definition,
                task,
                "task_ready",
                op,
                task_id=row.id,
                actor=None,
                opens=True,
                data=assigned.event_data(),
            )
        )
    for spiff_id, row in open_rows.items():
        if spiff_id not in ready_ids:
            repo.set_task(session, row, state="cancelled", completed_at=now)
            op.events.append(row_event(row, "task_cancelled", definition, now))
    still_open = [row for spiff_id, row in open_rows.items() if spiff_id in ready_ids]
    return sorted(still_open + born, key=lambda r: r.id)


def start(
    app: App,
    op: Operation,
    definition: runtime.LoadedDefinition,
    data: dict[str, Any],
    business_key: str | None,
    *,
    start_timer: str | None = None,
    arrive: Arrival | None = None,
) -> InstanceView:
    """Create an instance in the operation's transaction and run it until it waits; its view.

    `start_timer` names a timer start event that has just fired (the worker's schedule): the instance
    passes it at once instead of waiting for it again. `arrive` hands the new workflow the message or
    signal that starts it (engine/kernel/routing.py) before it runs.
    """
    definition, called = app.definitions.resolve_calls(op.work.session, definition)
    with runtime.clock_at(op.now):
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
        created_at=op.now,
        updated_at=op.now,
        completed_at=None,
        started_by=op.actor,
        lease_owner=None,
        lease_expires_at=None,
        attempts=0,
        called=called,
    )
    started: dict[str, Any] = {"data": runtime.snapshot(data)}
    if start_timer is not None:
        started["timer"] = start_timer
    op.events.append(instance_event(definition, "instance_started", op, data=started))
    if arrive is not None:
        arrive(workflow, op, definition)
    open_tasks = advance(app, op, definition, instance, workflow, new=True)
    return instance_view(op.work, instance, definition.version, tasks=open_tasks)

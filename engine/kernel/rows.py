"""Stored rows as the use cases need them: found or NotFound, checked for what may be done with them,
their workflow restored, and shown as the views the doors print (engine/views.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from storage.reads import DEFAULT_PRIORITY

from ..errors import Conflict, NotFound
from ..input_limits import is_id
from ..lazy_modules import lazy_module
from ..views import InstanceView, TaskView, TimelineEntry
from .assignment import split

if TYPE_CHECKING:
    from sqlalchemy import Row

    from storage.models import HumanTask, ProcessInstance

    from .. import runtime
    from . import waits
    from .work import Work

    # A task or instance as the views read it: the ORM's object (a write's unit of work) or a Core row
    # of the same columns (the read commands: storage/reads.py), which has the same attribute names.
    TaskRow = HumanTask | Row[Any]
    InstanceRow = ProcessInstance | Row[Any]
else:  # restoring a workflow needs them; reading rows (show, lists) does not (engine/lazy_modules.py)
    runtime = lazy_module("engine.runtime")
    waits = lazy_module("engine.kernel.waits")


def task(work: Work, task_id: int) -> HumanTask:
    found = work.task(task_id) if is_id(task_id) else None
    if found is None:
        raise NotFound(f"task {task_id} does not exist (see 'handoff tasks')")
    return found


def task_with_instance(work: Work, task_id: int) -> tuple[HumanTask, ProcessInstance]:
    """A task row and its instance's row, read together (one statement in a live transaction)."""
    found, of_task = work.task_with_instance(task_id) if is_id(task_id) else (None, None)
    if found is None:
        raise NotFound(f"task {task_id} does not exist (see 'handoff tasks')")
    if of_task is None:
        raise missing_instance(found.instance_id)
    return found, of_task


def instance(work: Work, instance_id: int) -> ProcessInstance:
    found = work.instance(instance_id) if is_id(instance_id) else None
    if found is None:
        raise missing_instance(instance_id)
    return found


def missing_instance(instance_id: int) -> NotFound:
    """What a reader is told of an instance id that names no instance."""
    return NotFound(f"instance {instance_id} does not exist (see 'handoff instances')")


def label(row: HumanTask) -> str:
    """'task 7 (Approve order)', as refusals name a task."""
    return f"task {row.id} ({row.name or row.element_id})"


def require_open(row: HumanTask) -> None:
    """Conflict unless the task is still open (ready or claimed)."""
    if row.state == "completed":
        raise Conflict(
            f"{label(row)} is already completed" + (f" by {row.completed_by}" if row.completed_by else "")
        )
    if row.state == "cancelled":
        raise Conflict(f"{label(row)} was cancelled")


def require_active(work: Work, row: HumanTask, verb: str) -> None:
    """Tasks of a suspended or ended instance wait: nobody takes them until it is resumed."""
    owner = work.instance(row.instance_id)
    if owner is not None and owner.status in ("suspended", "terminated"):
        hint = (
            f"; an admin resumes it with 'handoff resume {owner.id}'" if owner.status == "suspended" else ""
        )
        raise Conflict(f"instance {owner.id} is {owner.status}: {label(row)} cannot be {verb} now{hint}")


def workflow(work: Work, definition: runtime.LoadedDefinition, instance: ProcessInstance) -> runtime.Workflow:
    """The instance's workflow: live from the unit of work, else restored from its stored state."""
    live = work.live_workflow(instance.id)
    if live is not None:
        return live
    loaded = runtime.load_workflow(definition, instance.state)
    waits.remember(instance, loaded)
    return loaded


def task_view(
    row: TaskRow,
    process_id: str,
    instance_status: str | None = None,
    *,
    sla: dict[tuple[str, str], float] | None = None,
    now: datetime | None = None,
) -> TaskView:
    """A task row as a view; with its instance's status when the caller read it (a task of a suspended
    instance waits until it is resumed). With the lane and global SLA settings (`sla`), a task the model
    gives no due date is due its SLA after it became ready; with `now`, an open task past due is overdue."""
    due_at = row.due_at if row.due_at is not None or sla is None else sla_due(row, sla)
    return TaskView(
        id=row.id,
        instance=row.instance_id,
        process=process_id,
        element=row.element_id,
        name=row.name,
        type=row.type,
        lane=row.lane,
        state=row.state,
        assignee=row.assignee,
        created_at=row.created_at,
        due_at=due_at,
        form=tuple(row.form or ()),
        claimed_at=row.claimed_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        on_hold=instance_status in ("suspended", "terminated"),
        candidate_users=split(row.candidate_users),
        candidate_groups=split(row.candidate_groups),
        follow_up_at=row.follow_up_at,
        priority=row.priority if row.priority is not None else DEFAULT_PRIORITY,
        overdue=bool(
            now is not None and due_at is not None and row.state in ("ready", "claimed") and due_at < now
        ),
    )


def sla_due(row: TaskRow, sla: dict[tuple[str, str], float]) -> datetime | None:
    """The lane's SLA, else the global one, counted from when the task became ready (DESIGN §3; the
    element's own `sla` is already in `due_at`)."""
    seconds = sla.get(("lane", row.lane or "")) if row.lane else None
    if seconds is None:
        seconds = sla.get(("default", ""))
    return row.created_at + timedelta(seconds=seconds) if seconds is not None else None


def instance_view(
    work: Work | None,
    instance: InstanceRow,
    version: int,
    *,
    timeline: tuple[TimelineEntry, ...] | None = (),
    tasks: Sequence[TaskRow] | None = None,
    sla: dict[tuple[str, str], float] | None = None,
    now: datetime | None = None,
) -> InstanceView:
    """The instance with its open tasks (those given, else read) and, for `show`, its timeline; with the
    SLA settings and the time, the tasks' due times and overdue marks as `tasks` shows them. Without a
    unit of work (a read on a Connection), the caller gives the tasks."""
    if tasks is None:
        assert work is not None, "the open tasks are read through a unit of work, or given"
        tasks = sorted(work.open_rows(instance.id).values(), key=lambda t: t.id)
    return InstanceView(
        id=instance.id,
        process=instance.process_id,
        version=version,
        status=instance.status,
        business_key=instance.business_key,
        data=instance.data,
        tasks=tuple(task_view(t, instance.process_id, sla=sla, now=now) for t in tasks),
        error=instance.error,
        created_at=instance.created_at,
        updated_at=instance.updated_at,
        completed_at=instance.completed_at,
        started_by=instance.started_by,
        next_due_at=instance.next_due_at,
        timeline=timeline,
        attempts=instance.attempts or 0,
    )

"""Lifecycle events as the engine makes them: of a workflow's task (with its causal predecessor, DESIGN §3),
of the instance, or of a human task row (claims, releases, cancellations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.models import HumanTask

from .. import runtime
from ..lifecycle import LifecycleEvent
from ..runtime import causality
from .operation import Operation


def task_event(
    definition: runtime.LoadedDefinition,
    task: runtime.Task | None,
    kind: str,
    op: Operation,
    *,
    task_id: int | None = None,
    actor: str | None | bool = True,
    data: dict[str, Any] | None = None,
    opens: bool = False,
) -> LifecycleEvent:
    """An event of the operation about `task` (None: about the instance). `actor=True` is the operation's
    actor; an activity's task_ready / task_completed carries its causal predecessor (`cause`)."""
    model = definition.model
    element = runtime.element_of(model, task) if task is not None else None
    token = cause = None
    if task is not None and runtime.is_activity(model, task):
        token = str(task.id)
        if kind in ("task_ready", "task_completed"):
            cause = _cause(definition, task, kind, op)
    return LifecycleEvent(
        kind=kind,
        instance_id=op.instance_id or 0,
        process_id=definition.process_id,
        version=definition.version,
        at=op.now,
        actor=op.actor if actor is True else (actor or None),
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


def instance_event(
    definition: runtime.LoadedDefinition,
    kind: str,
    op: Operation,
    *,
    actor: str | None | bool = True,
    data: dict[str, Any] | None = None,
) -> LifecycleEvent:
    """An event of the operation about the instance as a whole."""
    return task_event(definition, None, kind, op, actor=actor, data=data)


def _cause(definition: runtime.LoadedDefinition, task: runtime.Task, kind: str, op: Operation) -> str | None:
    model = definition.model

    def is_activity(t: runtime.Task) -> bool:
        return runtime.is_activity(model, t)

    before = None
    if kind == "task_completed" and causality.is_subprocess(task):
        before = causality.completed_subprocess_tail(task, is_activity, op.completion_order)
    if before is None:
        before = causality.predecessor(task, is_activity, op.completion_order)
    return str(before.id) if before is not None else None


def row_event(
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

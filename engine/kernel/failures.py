"""Failures of automated work: the instance in error with its retry plan, and the one line a person reads.

A failed script or service task puts its instance in `error`. The task's retry policy (bpmn/retry.py)
says whether Handoff tries again by itself: then `next_due_at` holds the retry time and the worker
retries when it comes; else, or once the retries are spent, `next_due_at` is empty and the failure is
an **incident** that waits for a person (docs/incidents.md). `attempts` counts the automatic retries
made for the current failure.
"""

from __future__ import annotations

from typing import Any

from bpmn import retry as retry_policies
from storage.models import ProcessInstance

from .. import runtime
from ..errors import ScriptFailed
from ..views import InstanceView, iso
from .events import instance_event, task_event
from .operation import Operation

# Failures of the process itself, not of a task: running them again cannot help.
_NEVER_RETRIED = ("RunawayLoop", "FalseCompletion")


def fail(definition: runtime.LoadedDefinition, instance: ProcessInstance, op: Operation) -> None:
    """Put the instance in error for `op.failure`, with its retry plan, and note the events.

    A failure of another task than the one that failed before is a new incident: its retries count
    from zero. Writes `next_due_at` (the retry time, or None for an incident).
    """
    failure = op.failure
    assert failure is not None
    model = definition.model
    info: dict[str, Any] = failure.to_json(model) | {"at": op.now.isoformat()}
    previous = instance.error if instance.status == "error" else None
    if not previous or previous.get("task") != info["task"]:
        instance.attempts = 0
    element = runtime.element_of(model, failure.task) if failure.task is not None else None
    if failure.error_type in _NEVER_RETRIED:
        element = None
    policy = retry_policies.policy(element, model.properties)
    made = instance.attempts or 0
    retry_at = op.now + policy.wait(made) if made < policy.retries else None
    info |= {"attempts": made, "retries": policy.retries, "retry_at": iso(retry_at)}
    instance.status = "error"
    instance.error = info
    instance.next_due_at = retry_at
    if failure.task is not None:
        op.events.append(task_event(definition, failure.task, "task_error", op, actor=None, data=info))
    op.events.append(instance_event(definition, "instance_failed", op, actor=None, data=info))
    if retry_at is None:
        op.events.append(instance_event(definition, "incident_opened", op, actor=None, data=info))


def failure_text(definition: runtime.LoadedDefinition, failure: runtime.Failure, instance_id: int) -> str:
    """'instance N: Task (task) line L: message', for a failure that changed nothing."""
    info = failure.to_json(definition.model)
    where = ""
    if info["task"]:
        where = f"{info['task_name'] or info['task']} ({info['task']})"
        if failure.line:
            where += f" line {failure.line}"
        where += ": "
    return f"instance {instance_id}: {where}{failure.message}"


def raise_failure(op: Operation, view: InstanceView, *, done: str = "") -> None:
    """After the commit of an operation whose automated work failed: ScriptFailed, saying what happened
    and what comes next (an automatic retry, or `handoff retry`). Nothing when it did not fail."""
    if op.failure is None:
        return
    error = view.error or {}
    task = error.get("task_name") or error.get("task")
    where = f"{task} ({error.get('task')})" if task else "the process"
    line = f" line {op.failure.line}" if op.failure.line else ""
    prefix = f"{done}, but " if done else ""
    if view.next_due_at is not None:
        then = (
            f"Handoff retries it by itself at {view.next_due_at:%Y-%m-%d %H:%M:%S} UTC "
            f"(retry {view.attempts + 1} of {error.get('retries')}), "
            f"or fix the cause and run 'handoff retry {view.id}' now"
        )
    else:
        then = f"fix the cause and run 'handoff retry {view.id}'"
    raise ScriptFailed(
        f"{prefix}{where}{line} failed: {op.failure.message} — instance {view.id} is now in error; {then}",
        view.id,
    )

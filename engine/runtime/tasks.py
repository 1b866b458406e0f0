"""The tasks of a workflow as Handoff reads and drives them: open work, elements, data."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import nullcontext
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from bpmn import Element, ProcessModel
from bpmn.inspect import ACTIVITY_TAGS

from .lean_queries import lean_queries
from .script_output import check_script_output


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    """Every task of the instance, subprocesses included, without the iterator's depth limit."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    from uuid import UUID

    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, SpiffWorkflowException, KeyError):
        return None


def element_of(model: ProcessModel, task: Task) -> Element:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    element = model.elements.get(bpmn_id)
    if element is not None:
        return element
    return Element(
        id=bpmn_id,
        type=type(spec).__name__[0].lower() + type(spec).__name__[1:],
        name=getattr(spec, "bpmn_name", None),
        lane=getattr(spec, "lane", None) or model.pool,
        line=None,
    )


def is_activity(model: ProcessModel, task: Task) -> bool:
    spec = task.task_spec
    if getattr(spec, "bpmn_id", None) is None:
        return False  # SpiffWorkflow's internal specs (Start, End, boundary splits, ...)
    return element_of(model, task).type in ACTIVITY_TAGS


def is_external(task: Task) -> bool:
    """A service task SpiffWorkflow left STARTED and no installed handler ran (engine/runtime/service_calls.py:
    it names none, or a Camunda class/topic/bean nobody registered): an outside worker (a person or a
    program) does the work and completes it like a human task (docs/services.md)."""
    return task.state == TaskState.STARTED and isinstance(task.task_spec, ServiceTaskMixin)


def is_open_work(task: Task) -> bool:
    """A task someone outside the engine must complete: a ready user/manual task or an external service task."""
    return (task.state == TaskState.READY and task.task_spec.manual) or is_external(task)


def ready_human_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(workflow) if is_open_work(t)]


def error_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(workflow) if t.state == TaskState.ERROR]


_PLAIN = (str, int, float, bool, type(None))


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """Workflow data as plain JSON for the instance row (non-JSON values shown as text)."""
    if all(isinstance(v, _PLAIN) for v in data.values()) and all(isinstance(k, str) for k in data):
        return dict(data)  # already plain JSON: skip the round trip (the common case, and a hot path)
    try:
        return json.loads(json.dumps(data, default=str))
    except (TypeError, ValueError):
        return {str(k): str(v) for k, v in data.items()}


def changed_data(task: Task) -> dict[str, Any]:
    """What an automated task put into the data, compared with what it was given, as plain JSON."""
    before = task.parent.data if task.parent is not None else {}
    changed = {k: v for k, v in task.data.items() if k not in before or before[k] is not v and before[k] != v}
    return snapshot(changed) if changed else {}


def run_user_task(task: Task, data: dict[str, Any]) -> None:
    task.data.update(data)
    # Completing the task updates the tree's WAITING tasks (a join waiting for this branch): through the
    # flat dict where it answers as the walk would (engine/runtime/lean_queries.py).
    workflow = task.workflow
    with lean_queries(workflow) if workflow is workflow.top_workflow else nullcontext():
        if is_external(task):
            task.complete()  # the outside worker did the work: SpiffWorkflow's STARTED -> COMPLETED
        else:
            task.run()


def retry_task(task: Task, data: dict[str, Any]) -> None:
    """Run a failed task again after its data was fixed (SpiffWorkflow recovers an ERROR task so). What
    it leaves must be storable (engine/runtime/script_output.py): it ran outside the engine steps."""
    task.data.update(data)
    task.run()
    check_script_output(getattr(task.workflow, "top_workflow", task.workflow), [task])


def instance_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """What a person would call 'the instance data': the workflow's data merged with that of the latest
    task of each branch (parallel branches each hold part of it), oldest first."""
    frontier = [
        t
        for t in workflow.tasks.values()
        if t.state in (TaskState.COMPLETED, TaskState.READY, TaskState.ERROR, TaskState.WAITING)
        and not any(c.state == TaskState.COMPLETED for c in t.children)
    ]
    merged = dict(workflow.data)
    for task in sorted(frontier, key=lambda t: t.last_state_change):
        merged.update(task.data)
    return merged


def evaluate(task: Task, expression: str) -> Any:
    """An expression of the model evaluated against the task's data, by the instance's script engine (the
    sandbox unless the version is trusted); raises what the expression raises, as one line."""
    try:
        return task.workflow.script_engine.environment.evaluate(expression, task.data)
    except Exception as exc:  # noqa: BLE001 - modellers' code: any exception is theirs to read
        raise ExpressionFailed(f"{type(exc).__name__}: {exc}".split("\n", 1)[0]) from exc


def task_data(task: Task) -> dict[str, Any]:
    return dict(task.data)


class ExpressionFailed(Exception):
    """An expression of the model failed; the message is one line for a person."""

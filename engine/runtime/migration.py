"""Repairing a running workflow: moving it to another version of its process with SpiffWorkflow's diff
(`SpiffWorkflow.bpmn.util.diff`), and resetting it to a completed task (`reset_from_task_id`).

SpiffWorkflow aligns the old version's task specs with the new one's by BPMN id (then by structure),
so a task renamed in the new version is the same task with a changed name, a task added is new, and
a task removed from the new version is gone. An instance whose open work (a ready user task, a
waiting event, a running subprocess, a failed task) is at an element that is gone cannot move: there
is nowhere to put it. Everything else moves: the task tree is kept (the history of what ran), its
tasks point at the new version's specs, and the ready and waiting tasks are predicted again on it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.util.diff import SpecDiff, diff_workflow, migrate_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from bpmn.serializer import codec

from .workflow import LoadedDefinition, dump_workflow, load_workflow

# Open work: what an instance is at. A task in one of these states at a removed element blocks a move.
_OPEN = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR


@dataclass(frozen=True)
class MovePlan:
    """What moving one workflow to a version changes (element ids of the BPMN)."""

    at: tuple[str, ...]  # the elements its open work is at now
    added: tuple[str, ...]  # elements of the new version the old one does not have
    removed: tuple[str, ...]  # elements of the old version the new one does not have
    changed: tuple[str, ...]  # elements in both whose definition changed (a new name, lane, form...)
    moved: tuple[tuple[str, str], ...]  # open work whose element has another id in the new version
    blocked: tuple[str, ...]  # open work at removed elements: the instance cannot move

    @property
    def movable(self) -> bool:
        return not self.blocked


def _ids(specs: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({str(s.bpmn_id) for s in specs if getattr(s, "bpmn_id", None)}))


def _diffs(workflow: BpmnWorkflow, target: LoadedDefinition) -> tuple[Any, dict[Any, Any]]:
    registry = codec(target.model.dialect).registry
    top, subs = diff_workflow(registry, workflow, target.spec, target.subprocess_specs)
    return top, subs


def plan_move(workflow: BpmnWorkflow, target: LoadedDefinition) -> MovePlan:
    """What moving `workflow` to `target` would change; nothing is changed."""
    registry = codec(target.model.dialect).registry
    spec_diff = SpecDiff(registry, workflow.spec, target.spec)
    top, sub_diffs = _diffs(workflow, target)
    at: set[str] = set()
    blocked: set[str] = set()
    moved: set[tuple[str, str]] = set()
    for task in workflow.get_tasks(state=_OPEN):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if not bpmn_id:
            continue
        at.add(str(bpmn_id))
        diff: Any = top if task.workflow is workflow else sub_diffs.get(task.workflow.parent_task_id)
        if diff is None:
            blocked.add(str(bpmn_id))  # its subprocess's process is gone from the new version
            continue
        new_spec = diff.alignment.get(task)
        if task in diff.removed or new_spec is None:
            blocked.add(str(bpmn_id))
        elif new_spec.bpmn_id != bpmn_id:
            moved.add((str(bpmn_id), str(new_spec.bpmn_id)))
    # A new or removed flow changes its neighbours' inputs and outputs: that is in added and removed.
    changed = [
        spec
        for spec, keys in spec_diff.changed.items()
        if spec_diff.alignment.get(spec) is not None and set(keys) - {"inputs", "outputs"}
    ]
    return MovePlan(
        at=tuple(sorted(at)),
        added=_ids(spec_diff.added),
        removed=_ids(spec_diff.removed),
        changed=_ids(changed),
        moved=tuple(sorted(moved)),
        blocked=tuple(sorted(blocked)),
    )


def move(workflow: BpmnWorkflow, target: LoadedDefinition) -> int:
    """Point `workflow` (and its subprocesses) at `target`'s specs, in place; ready and waiting tasks are
    predicted again on the new version. Call `plan_move` first: a blocked workflow must not be moved.

    A finished task at an element the new version does not have (work done at a step since removed)
    has no spec to be restored with: it is taken out of the task tree, its children joined to its
    parent, as if the step had never been drawn. Its events stay in Handoff's history, which is what
    people and reports read. Returns how many were taken out.
    """
    top, sub_diffs = _diffs(workflow, target)
    spliced = 0
    for sub_id, diff in sub_diffs.items():
        sub = workflow.subprocesses[sub_id]
        new_spec = target.subprocess_specs.get(sub.spec.name)
        if diff is not None and new_spec is not None:
            spliced += _splice_finished(sub, diff)
            migrate_workflow(diff, sub, new_spec)
    spliced += _splice_finished(workflow, top)
    migrate_workflow(top, workflow, target.spec)
    workflow.subprocess_specs = target.subprocess_specs
    # What is stored must load on the new version: checked here, so that a move SpiffWorkflow's diff got
    # wrong fails for its instance (nothing of it written) instead of stranding it.
    try:
        load_workflow(target, dump_workflow(target, workflow))
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's restore raises whatever it meets
        raise MoveFailed(
            f"its state would not load on the new version ({type(exc).__name__}: {exc})"
        ) from exc
    return spliced


class MoveFailed(Exception):
    """A move that cannot be made after all; says why."""


def _splice_finished(workflow: Any, diff: Any) -> int:
    """Take the finished tasks whose spec is gone out of the tree (children to the parent, in place)."""
    gone = [
        task
        for task in list(workflow.tasks.values())
        if diff.alignment.get(task) is None
        and task.has_state(TaskState.FINISHED_MASK)
        and task.parent is not None
        and task.workflow is workflow
    ]
    for task in gone:
        parent = task.parent
        at = parent._children.index(task.id)
        parent._children[at : at + 1] = list(task._children)
        for child_id in task._children:
            workflow.tasks[child_id]._parent = parent.id
        task._children = []
        del workflow.tasks[task.id]
    return len(gone)


def completed_elements(workflow: BpmnWorkflow, counts: Callable[[Any], bool]) -> list[str]:
    """The elements an instance has completed (those `counts` keeps), in the order they last completed."""
    done = [
        t
        for t in _tasks(workflow)
        if t.state == TaskState.COMPLETED and getattr(t.task_spec, "bpmn_id", None) and counts(t)
    ]
    done.sort(key=lambda t: t.last_state_change)
    seen: dict[str, None] = {}
    for task in done:
        seen.pop(str(task.task_spec.bpmn_id), None)
        seen[str(task.task_spec.bpmn_id)] = None
    return list(seen)


def _tasks(workflow: BpmnWorkflow) -> Iterable[Any]:
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def reset_to(
    workflow: BpmnWorkflow, element_id: str, data: dict[str, Any], counts: Callable[[Any], bool]
) -> list[str] | None:
    """Reset the workflow to the latest completed task of `element_id` with SpiffWorkflow's
    `reset_from_task_id`: that task runs again (with its input data updated by `data`), everything after
    it is removed. Returns the elements of the open work removed, or None when the element has no
    completed task."""
    done = [
        t
        for t in _tasks(workflow)
        if t.state == TaskState.COMPLETED
        and getattr(t.task_spec, "bpmn_id", None) == element_id
        and counts(t)
    ]
    if not done:
        return None
    task = max(done, key=lambda t: t.last_state_change)
    before = task.parent.data if task.parent is not None else {}
    removed = workflow.reset_from_task_id(task.id, data={**deepcopy(before), **data})
    return sorted(
        {
            str(t.task_spec.bpmn_id)
            for t in removed
            if t.has_state(_OPEN) and getattr(t.task_spec, "bpmn_id", None)
        }
    )


def awaiting_join(task: Any) -> str | None:
    """The joining gateway downstream of `task` that waits for every branch (parallel, inclusive), if
    any: cancelling `task` would leave that join waiting for ever."""
    seen: set[str] = set()
    pending = list(task.task_spec.outputs)
    while pending:
        spec = pending.pop()
        if spec.name in seen:
            continue
        seen.add(spec.name)
        kind = type(spec).__name__
        if kind in ("ParallelGateway", "InclusiveGateway") and len(spec.inputs) > 1:
            return str(getattr(spec, "bpmn_id", None) or spec.name)
        pending.extend(spec.outputs)
    return None


def cancel_task(workflow: BpmnWorkflow, task_id: str) -> Any:
    """Cancel one open task (and what was predicted after it); the task, or None if it is not open."""
    from uuid import UUID

    task = workflow.get_task_from_id(UUID(task_id))
    if task is None or not task.has_state(_OPEN):
        return None
    task.cancel()
    return task


def open_work(workflow: BpmnWorkflow) -> list[Any]:
    return [t for t in _tasks(workflow) if t.has_state(_OPEN) and getattr(t.task_spec, "bpmn_id", None)]

"""Two of SpiffWorkflow's whole-tree walks answered from its flat dict of tasks, with the same answers
(issue 17).

SpiffWorkflow 3.2 finds tasks by walking an instance's task tree from the root, at ~3 us a node (each
step from a task to its parent or children is a dict lookup keyed by a UUID, whose hash is Python
code). Two of those walks run on every completion and cost more than the work they find:

- `update_waiting_tasks()` after every completed task (`Workflow._task_completed_notify`), to update
  the WAITING tasks of the tree; usually there is none, or one (a joining gateway waiting for its other
  branches, a timer);
- `get_tasks(spec_name=...)` in a parallel gateway's join check, once per arriving branch and again on
  every later completion while the join waits.

Inside `lean_queries(workflow)` the workflow answers both from `workflow.tasks` (every task of the tree,
keyed by id) where that gives what the walk would:

- no WAITING task: nothing to update; exactly one, which the walk reaches (its ancestors all FUTURE or
  later, the tree smaller than the walk's depth limit): that one is updated, as the walk would (an update
  changes the updated task and its own new children only, which the walk does not visit); two or more:
  SpiffWorkflow's walk;
- `get_tasks(spec_name=X)` alone, on a workflow without subprocesses (the walk descends into them) and
  smaller than the depth limit: every task of spec X, in the walk's depth-first order.

And everywhere, `Task.is_descendant_of` (the join check asks it of every task of the join's spec, both
ways, each a walk to the root) walks up in a loop instead of recursing, looking each parent up once
instead of three times (`spiff_is_descendant_of` is SpiffWorkflow's own, kept for the tests).

Everything else is SpiffWorkflow's own code: what runs and in which order is unchanged, which
tests/test_lean_queries.py checks against SpiffWorkflow's own walks on the project's models.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

__all__ = ["ITERATOR_MAX_DEPTH", "lean_queries", "spiff_is_descendant_of", "walk_reaches"]

_WAITING = TaskState.WAITING
_FUTURE = TaskState.FUTURE  # a walk for definite states descends only through tasks at least this definite
ITERATOR_MAX_DEPTH = 1000  # TaskIterator's default max_depth


@contextmanager
def lean_queries(workflow: BpmnWorkflow) -> Iterator[None]:
    """Within the block, `workflow` answers `update_waiting_tasks()` and `get_tasks(spec_name=...)` from its
    flat dict where that gives the walk's answer (instance attributes, removed afterwards)."""
    if "update_waiting_tasks" in workflow.__dict__:  # already inside: the outer block removes them
        yield
        return
    tasks = workflow.tasks
    walk_waiting = workflow.update_waiting_tasks
    walk_tasks = workflow.get_tasks

    def update_waiting_tasks() -> None:
        waiting: Task | None = None
        for task in tasks.values():
            if task.state == _WAITING:
                if waiting is not None:
                    walk_waiting()  # two or more: their order and effects on each other are the walk's
                    return
                waiting = task
        if waiting is None:
            return
        if walk_reaches(waiting, len(tasks)):
            waiting.task_spec._update(waiting)  # what the walk does with each WAITING task it meets
        else:
            walk_waiting()

    def get_tasks(first_task: Task | None = None, **kwargs: Any) -> list[Task]:
        name = kwargs.get("spec_name")
        if first_task is not None or name is None or len(kwargs) != 1 or workflow.subprocesses:
            return walk_tasks(first_task, **kwargs)  # type: ignore[no-any-return]
        if len(tasks) >= ITERATOR_MAX_DEPTH:
            return walk_tasks(first_task, **kwargs)  # type: ignore[no-any-return]
        found = [t for t in tasks.values() if t.task_spec.name == name]
        if len(found) > 1:
            _in_walk_order(found)
        return found

    # Instance attributes shadow the methods: SpiffWorkflow calls them as self.update_waiting_tasks()
    # (after each completion) and my_task.workflow.get_tasks(...) (the join check).
    workflow.update_waiting_tasks = update_waiting_tasks  # type: ignore[method-assign]
    workflow.get_tasks = get_tasks  # type: ignore[method-assign]
    try:
        yield
    finally:
        del workflow.update_waiting_tasks
        del workflow.get_tasks


def walk_reaches(task: Task, size: int) -> bool:
    """Whether SpiffWorkflow's walk from the root for tasks of a definite state (READY, WAITING) reaches
    `task`: it descends only through tasks FUTURE or later, and no deeper than its depth limit (a tree of
    fewer tasks cannot be deeper)."""
    if size >= ITERATOR_MAX_DEPTH:
        return False
    parent = task.parent
    while parent is not None:
        if parent.state < _FUTURE:
            return False
        parent = parent.parent
    return True


def _in_walk_order(found: list[Task]) -> None:
    """Sort tasks of one tree into the order of a depth-first walk from the root: by the index of each
    ancestor among its parent's children, from the root down (every task of `workflow.tasks` hangs
    under the root: removing a task removes it from its parent's children). Each parent's positions
    are looked up once, so that the tasks of a split into many branches sort in linear time."""
    tasks = found[0].workflow.tasks
    positions: dict[Any, dict[Any, int]] = {}

    def key(task: Task) -> list[int]:
        path = []
        node, parent_id = task, task._parent
        while parent_id is not None:
            parent = tasks[parent_id]
            at = positions.get(parent_id)
            if at is None:
                at = positions[parent_id] = {child: i for i, child in enumerate(parent._children)}
            path.append(at[node.id])
            node, parent_id = parent, parent._parent
        path.reverse()
        return path

    found.sort(key=key)


def _is_descendant_of(self: Task, task: Task) -> bool:
    """Whether `task` is an ancestor of this task: SpiffWorkflow's recursion as a loop (the same parents
    compared in the same order; no RecursionError on a tree deeper than the interpreter's stack)."""
    parent = self.parent
    while parent is not None:
        if parent == task:
            return True
        parent = parent.parent
    return False


def _loop_ancestry() -> Any:
    """Install `_is_descendant_of` on SpiffWorkflow's Task (once); SpiffWorkflow's own method."""
    original = Task.__dict__["is_descendant_of"]
    if original is _is_descendant_of:
        return _loop_ancestry.original  # type: ignore[attr-defined]
    _loop_ancestry.original = original  # type: ignore[attr-defined]
    Task.is_descendant_of = _is_descendant_of  # type: ignore[method-assign]
    return original


spiff_is_descendant_of = _loop_ancestry()

"""SpiffWorkflow's `do_engine_steps`, driven without its whole-tree scans where a cheaper query answers the
same (issue 17).

SpiffWorkflow 3.2 walks an instance's task tree from the root twice per step: `get_tasks(state=READY)`
at the start of each pass (one pass runs the READY tasks it found, so a chain of N script tasks takes N
passes of N nodes), and `update_waiting_tasks()` after every completion, looking for WAITING tasks to
update. Each walk costs ~3 us a node in Python; on a chain of ten scripts they were two thirds of bare
SpiffWorkflow's own time. The flat dict of a workflow's tasks (`workflow.tasks`) answers "which tasks are
READY / WAITING" in a fraction of that, so:

- a pass over a workflow without subprocesses looks at the flat dict first: no READY automated task
  means the pass runs nothing (as SpiffWorkflow's would); exactly one means it runs that one, once the
  walk is known to reach it (its ancestors all definite or finished, the tree shallower than the
  iterator's depth limit); two or more (parallel branches) take SpiffWorkflow's own walk, whose
  depth-first order decides which runs first;
- `update_waiting_tasks` during the steps returns at once when the flat dict holds no WAITING task (its
  walk would update nothing); otherwise it walks as before.

A workflow with subprocesses or call activities (SpiffWorkflow keeps them as sub-workflows, stepped
deepest first) takes SpiffWorkflow's own `do_engine_steps` from the pass where the first one appears.
What runs, in which order, is SpiffWorkflow's: tests/test_engine*.py and the simulator's figures check it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

__all__ = ["do_engine_steps"]

_READY = TaskState.READY
_WAITING = TaskState.WAITING
_FUTURE = TaskState.FUTURE  # the walk for READY tasks descends only through tasks at least this definite
_ITERATOR_MAX_DEPTH = 1000  # TaskIterator's default max_depth


def do_engine_steps(workflow: BpmnWorkflow, did_complete_task: Callable[[Task], None]) -> None:
    """What `workflow.do_engine_steps(did_complete_task=...)` does, with the same tasks run in the same
    order."""
    if workflow.subprocesses:
        workflow.do_engine_steps(did_complete_task=did_complete_task)
        return
    original = workflow.update_waiting_tasks
    tasks = workflow.tasks

    def update_waiting_tasks() -> None:
        for task in tasks.values():
            if task.state == _WAITING:
                original()
                return

    # An instance attribute for the steps only: Workflow._task_completed_notify calls it after each
    # completion of this workflow's tasks.
    workflow.update_waiting_tasks = update_waiting_tasks  # type: ignore[method-assign]
    try:
        while _pass(workflow, did_complete_task):
            if workflow.subprocesses:  # a subprocess began: SpiffWorkflow steps them, deepest first
                workflow.do_engine_steps(did_complete_task=did_complete_task)
                return
        workflow.refresh_timers()
    finally:
        del workflow.update_waiting_tasks


def _pass(workflow: BpmnWorkflow, did_complete_task: Callable[[Task], None]) -> int:
    """One pass of SpiffWorkflow's `update_workflow` over a workflow without subprocesses: run the READY
    automated tasks found at its start; how many ran."""
    tasks = workflow.tasks
    found: Task | None = None
    several = False
    for task in tasks.values():
        if task.state == _READY and not task.task_spec.manual:
            if found is not None:
                several = True
                break
            found = task
    if found is None:
        return 0
    if several or not _walk_reaches(found, len(tasks)):
        ready: list[Any] = workflow.get_tasks(state=_READY)  # SpiffWorkflow's own order
    else:
        ready = [found]
    count = 0
    for task in ready:
        if not task.task_spec.manual:
            task.run()
            count += 1
            did_complete_task(task)
    return count


def _walk_reaches(task: Task, size: int) -> bool:
    """Whether SpiffWorkflow's walk from the root for READY tasks reaches `task`: it descends only through
    tasks FUTURE or later, and no deeper than its depth limit (a tree of fewer tasks cannot be deeper)."""
    if size >= _ITERATOR_MAX_DEPTH:
        return False
    parent = task.parent
    while parent is not None:
        if parent.state < _FUTURE:
            return False
        parent = parent.parent
    return True

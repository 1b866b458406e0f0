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
- `update_waiting_tasks` and the parallel gateway's `get_tasks(spec_name=...)` during the steps answer
  from the flat dict where it gives the walk's answer (engine/runtime/lean_queries.py).

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

from .lean_queries import lean_queries, walk_reaches

__all__ = ["do_engine_steps"]

_READY = TaskState.READY


def do_engine_steps(workflow: BpmnWorkflow, did_complete_task: Callable[[Task], None]) -> None:
    """What `workflow.do_engine_steps(did_complete_task=...)` does, with the same tasks run in the same
    order."""
    with lean_queries(workflow):  # update_waiting_tasks and the join check's query (lean_queries.py)
        if workflow.subprocesses:
            workflow.do_engine_steps(did_complete_task=did_complete_task)
            return
        while _pass(workflow, did_complete_task):
            if workflow.subprocesses:  # a subprocess began: SpiffWorkflow steps them, deepest first
                workflow.do_engine_steps(did_complete_task=did_complete_task)
                return
        workflow.refresh_timers()


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
    if several or not walk_reaches(found, len(tasks)):
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

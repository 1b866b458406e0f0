"""Causal predecessors (DESIGN §3) from SpiffWorkflow's task tree and Handoff's ordered event log.

The predecessor of an activity instance B is the nearest completed activity among B's ancestors in the
task tree, except after a joining gateway: there the tree keeps one branch only, so every branch the
join waited for is found (the join's other task instances of the same firing) and the activity
completed *last* among their tails wins, by the order of Handoff's own history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.parallel_gateway import ParallelGateway
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import TaskNotFoundException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

IsActivity = Callable[[Task], bool]
# Lower sorts earlier; tokens of activities completed in the current operation sort after all stored ones.
CompletionOrder = Callable[[Iterable[str]], dict[str, int]]


def is_subprocess(task: Task) -> bool:
    """A subprocess or call activity: its completion's predecessor is the tail of what ran inside it."""
    return isinstance(task.task_spec, SubWorkflowTask)


def _parent(task: Task) -> Task | None:
    """The task's parent, continuing from a subprocess's root to the task that runs the subprocess."""
    if task.parent is not None:
        return task.parent
    workflow = task.workflow
    parent_id = getattr(workflow, "parent_task_id", None)
    if parent_id is None:
        return None
    top: BpmnWorkflow = workflow.top_workflow
    try:
        return top.get_task_from_id(parent_id)
    except TaskNotFoundException:
        return None  # the subprocess's task is gone (an interrupting event removed it)


def _is_join(task: Task) -> bool:
    spec = task.task_spec
    return isinstance(spec, ParallelGateway | InclusiveGateway) and len(spec.inputs) > 1


def _ancestors(task: Task) -> list[Task]:
    chain = []
    node = task.parent
    while node is not None:
        chain.append(node)
        node = node.parent
    return chain


def _same_firing(join: Task) -> list[Task]:
    """The join's task instances of the firing that produced `join` (one per branch that arrived)."""
    chain = _ancestors(join)
    position = {id(t): i for i, t in enumerate(chain)}
    # An earlier firing of the same join (a loop) bounds the search: branches forked above it are older.
    boundary = next((i for i, t in enumerate(chain) if t.task_spec is join.task_spec), len(chain))
    ancestor_ids = {t.id for t in chain}
    firing = [join]
    for other in join.workflow.tasks.values():
        if other is join or other.task_spec is not join.task_spec or other.id in ancestor_ids:
            continue
        if not other.has_state(TaskState.COMPLETED | TaskState.CANCELLED):
            continue
        node = other.parent
        while node is not None and id(node) not in position:
            node = node.parent
        if node is not None and position[id(node)] < boundary:
            firing.append(other)
    return firing


def predecessor(task: Task, is_activity: IsActivity, order: CompletionOrder) -> Task | None:
    """The causal predecessor of activity instance `task`, or None for the first activity."""
    node = _parent(task)
    while node is not None:
        if node.state == TaskState.COMPLETED and _is_join(node):
            tails = [
                t for t in (predecessor(j, is_activity, order) for j in _same_firing(node)) if t is not None
            ]
            if not tails:
                return None
            if len(tails) == 1:
                return tails[0]
            ranks = order(str(t.id) for t in tails)
            return max(tails, key=lambda t: ranks.get(str(t.id), -1))
        if node.state == TaskState.COMPLETED and is_activity(node):
            return node
        node = _parent(node)
    return None


def completed_subprocess_tail(task: Task, is_activity: IsActivity, order: CompletionOrder) -> Task | None:
    """For a finished subprocess or call activity: the last activity completed inside it, if any.

    Work that leaves a subprocess was last touched inside it, so that is what hands it on.
    """
    top: BpmnWorkflow = task.workflow.top_workflow
    sub = top.subprocesses.get(task.id)
    if sub is None:
        return None
    ends = [t for t in sub.tasks.values() if t.state == TaskState.COMPLETED and not t.children]
    tails = []
    for end in ends:
        tail = end if is_activity(end) else predecessor(end, is_activity, order)
        if tail is not None:
            tails.append(tail)
    if not tails:
        return None
    ranks = order(str(t.id) for t in tails)
    return max(tails, key=lambda t: ranks.get(str(t.id), -1))

"""Event subprocesses as BPMN means them, on SpiffWorkflow 3.2, which runs every event subprocess as if
it were non-interrupting and keeps a process alive while one still waits for its start event.

Two rules, applied after SpiffWorkflow's engine steps (never by re-implementing its events):
- an *interrupting* event subprocess whose start event fired cancels the rest of its parent (sub)process;
- when nothing of a (sub)process is left but its end join and event subprocesses still waiting for their
  start events, those event subprocesses are cancelled, so the (sub)process ends.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState


def _event_subprocess_tasks(
    workflow: BpmnWorkflow, known: Mapping[str, bool]
) -> Iterable[tuple[Task, BpmnWorkflow]]:
    top = workflow.top_workflow
    for task in list(workflow.tasks.values()):
        bpmn_id = getattr(task.task_spec, "bpmn_id", None)
        if bpmn_id in known and task.state & TaskState.NOT_FINISHED_MASK:
            sub = top.subprocesses.get(task.id)
            if sub is not None:
                yield task, sub


def _started(sub: BpmnWorkflow) -> bool:
    """Whether the event subprocess's start event fired (it waits until its event comes)."""
    starts = {s.name for s in sub.spec.bpmn_start_events} or {s.name for s in sub.spec.start.outputs}
    return any(t.task_spec.name in starts and t.state == TaskState.COMPLETED for t in sub.tasks.values())


def _branch(task: Task) -> set[Task]:
    out: set[Task] = set()
    node: Task | None = task
    while node is not None:
        out.add(node)
        node = node.parent
    return out


def settle(workflow: BpmnWorkflow, event_subprocesses: Mapping[str, bool]) -> bool:
    """Apply both rules to the workflow and its subprocesses; True when a task was cancelled (the caller
    then runs engine steps again)."""
    changed = False
    for wf in [workflow, *list(workflow.subprocesses.values())]:
        if wf is not workflow and wf.is_completed():
            continue
        pending = list(_event_subprocess_tasks(wf, event_subprocesses))
        fired = [task for task, sub in pending if _started(sub)] + [
            t
            for t in wf.tasks.values()
            if t.state == TaskState.COMPLETED and getattr(t.task_spec, "bpmn_id", None) in event_subprocesses
        ]
        for task in fired:
            if event_subprocesses[task.task_spec.bpmn_id]:
                keep = _branch(task)
                for other in list(wf.tasks.values()):
                    if (
                        other not in keep
                        and other.state & TaskState.NOT_FINISHED_MASK
                        and other.parent is not None
                        and other.parent.state & TaskState.FINISHED_MASK
                        and not any(a is task for a in _branch(other))
                    ):
                        other.cancel()
                        changed = True
        waiting = [task for task, sub in pending if not _started(sub)]
        if waiting:
            under_waiting: set[int] = set()
            for task in waiting:
                under_waiting.update(id(t) for t in _descendants(task))
            rest = [
                t
                for t in wf.tasks.values()
                if t.state & TaskState.NOT_FINISHED_MASK and id(t) not in under_waiting
            ]
            if rest and all(_is_end_join(t) or _below_end_join(t) for t in rest):
                for task in waiting:
                    task.cancel()
                changed = True
    if changed:
        # A join that waited for the cancelled branches may go on now.
        for wf in [workflow, *list(workflow.subprocesses.values())]:
            for t in list(wf.tasks.values()):
                if _is_end_join(t) and t.state == TaskState.WAITING:
                    t.task_spec._update(t)
    return changed


def _is_end_join(task: Task) -> bool:
    """The join before a (sub)process's end: SpiffWorkflow's `spec.end`, where every path of it meets (by
    name: a restored spec's `end` is a copy of the task spec it names)."""
    end = getattr(task.workflow.spec, "end", None)
    return end is not None and task.task_spec.name == end.name


def _descendants(task: Task) -> Iterable[Task]:
    stack = [task]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _below_end_join(task: Task) -> bool:
    node = task.parent
    while node is not None:
        if _is_end_join(node):
            return True
        node = node.parent
    return False

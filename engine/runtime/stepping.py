"""Running engine steps until a workflow waits, and reading whether it finished for real (DESIGN §4)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    CodeEventDefinition,
    ErrorEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from . import event_subprocesses as event_subprocess_rules
from . import sandbox
from .bounds import RunawayLoop, check_call_depth
from .lean_steps import do_engine_steps
from .tasks import all_tasks

__all__ = ["RunawayLoop", "StepLog", "caught_code_event", "has_unfinished", "is_finished", "run_engine"]

# (DESIGN §4). Stop well before that, and stop a loop of automated tasks that would never wait.
MAX_TREE_DEPTH = 900
MAX_STEPS_PER_OPERATION = 20_000


def caught_code_event(task: Task) -> tuple[str, dict[str, Any]] | None:
    """A completed boundary or start event that caught an error or an escalation: the history event's
    kind (`error_caught`, `escalation_caught`) and what was caught."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, CodeEventDefinition) or not isinstance(task.task_spec, CatchingEvent):
        return None
    kind = "error_caught" if isinstance(definition, ErrorEventDefinition) else "escalation_caught"
    return kind, {"name": definition.name, "code": definition.code}


@dataclass
class StepLog:
    """Activities the engine completed during one operation, in order."""

    completed: list[Task] = field(default_factory=list)
    count: int = 0


def run_engine(
    workflow: BpmnWorkflow,
    log: StepLog,
    event_subprocesses: Mapping[str, bool] | None = None,
    dispatch: Callable[[BpmnWorkflow], list[Task]] | None = None,
) -> None:
    """Run automated tasks until the workflow waits; raises RunawayLoop or SpiffWorkflow's errors.

    `event_subprocesses`: the process's event subprocesses, id -> interrupting (engine/event_subprocesses.py).
    `dispatch` runs work SpiffWorkflow leaves STARTED (service task handlers) and returns the tasks it
    completed; while either makes progress, the engine steps on.

    The steps run within the operation's wall-clock budget (engine/runtime/sandbox/limits.py): past it,
    the engine stops after the step in hand, where the workflow is consistent (OperationTimeout).
    """
    with sandbox.operation_budget(sandbox.current_limits()):
        _run_engine(workflow, log, event_subprocesses, dispatch)


def _run_engine(
    workflow: BpmnWorkflow,
    log: StepLog,
    event_subprocesses: Mapping[str, bool] | None,
    dispatch: Callable[[BpmnWorkflow], list[Task]] | None,
) -> None:
    def did_complete(task: Task) -> None:
        if task.state == TaskState.STARTED and isinstance(task.task_spec, ServiceTaskMixin):
            return  # SpiffWorkflow calls this for every task it ran: this one waits for its handler or a person
        log.completed.append(task)
        log.count += 1
        if log.count > MAX_STEPS_PER_OPERATION:
            raise RunawayLoop(task, f"more than {MAX_STEPS_PER_OPERATION} automated steps without waiting")
        if log.count % 64 == 0 and task.depth > MAX_TREE_DEPTH:
            raise RunawayLoop(task, f"the process looped more than {MAX_TREE_DEPTH} steps deep")
        check_call_depth(task)
        try:
            sandbox.check_operation()
        except sandbox.OperationTimeout as exc:
            raise sandbox.OperationTimeout(str(exc), task) from None

    checkpoint = time.time()  # SpiffWorkflow stamps last_state_change with time.time()
    do_engine_steps(workflow, did_complete)
    while True:
        if event_subprocesses and event_subprocess_rules.settle(workflow, event_subprocesses):
            pass
        elif dispatch is not None and (dispatched := dispatch(workflow)):
            for task in dispatched:
                did_complete(task)
        else:
            break
        do_engine_steps(workflow, did_complete)
    # Subprocess and call-activity tasks complete outside the callbacks (their spec's _update): find
    # every task completed since the checkpoint, and keep the completion order.
    logged = {id(t) for t in log.completed}
    missed, too_deep = [], None
    for t in all_tasks(workflow):  # one pass for both checks: this runs after every operation
        state = t.state
        if state == TaskState.COMPLETED:
            if t.last_state_change >= checkpoint and id(t) not in logged:
                missed.append(t)
        elif too_deep is None and state in (TaskState.READY, TaskState.WAITING) and t.depth > MAX_TREE_DEPTH:
            too_deep = t
    if missed:
        log.completed = sorted(log.completed + missed, key=lambda t: t.last_state_change)
    if too_deep is not None:
        raise RunawayLoop(too_deep, f"the process looped more than {MAX_TREE_DEPTH} steps deep")


def is_finished(workflow: BpmnWorkflow) -> bool:
    """Completed for real: nothing left to do, and a path of the top process ended where the diagram ends
    it: at an end event, or at a flow node without outgoing sequence flows (BPMN's implicit end).

    Id-less flows get an id at validation (bpmn.lint) and dangling ones are refused, so a flow node
    without outputs in the spec has none in the diagram either.
    """
    if has_unfinished(workflow):
        return False
    return any(
        t.state == TaskState.COMPLETED
        and (isinstance(t.task_spec, EndEvent) or (not t.children and not t.task_spec.outputs))
        for t in workflow.tasks.values()
    )


def has_unfinished(workflow: BpmnWorkflow) -> bool:
    return any(t.state & TaskState.NOT_FINISHED_MASK for t in all_tasks(workflow))

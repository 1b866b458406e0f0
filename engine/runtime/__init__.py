"""The SpiffWorkflow runtime: the only part of `engine` that imports SpiffWorkflow (DESIGN §2).

Everything else in `engine` drives workflows through the names below and never touches SpiffWorkflow's
objects beyond passing them back here. `Workflow` and `Task` name those objects for type hints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy_modules import lazy_names

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow as Workflow
    from SpiffWorkflow.task import Task

    from .engine_clock import clock_at, seeded_task_ids
    from .failures import Failure, describe_failure
    from .script_output import ScriptOutputInvalid, check_script_output
    from .stepping import (
        RunawayLoop,
        StepLog,
        caught_code_event,
        has_unfinished,
        is_finished,
        run_engine,
    )
    from .tasks import (
        ExpressionFailed,
        all_tasks,
        changed_data,
        element_of,
        error_tasks,
        evaluate,
        find_task,
        instance_data,
        is_activity,
        is_external,
        is_open_work,
        ready_human_tasks,
        retry_task,
        run_user_task,
        snapshot,
        task_data,
    )
    from .timers import (
        TimerStart,
        fire_due_timers,
        fire_start_timer,
        first_due,
        is_cycle,
        is_timer,
        next_due_after,
        next_timer_due,
        timer_details,
        timer_starts,
    )
    from .workflow import (
        DefinitionCache,
        LoadedDefinition,
        dump_workflow,
        load_workflow,
        new_workflow,
        script_engine,
    )

# Names load on first use (PEP 562): a command that only reads never imports what it does not run.
_LAZY: dict[str, tuple[str, str]] = {
    name: (module, name)
    for module, names in {
        "SpiffWorkflow.task": "Task",
        ".engine_clock": "clock_at seeded_task_ids",
        ".failures": "Failure describe_failure",
        ".script_output": "ScriptOutputInvalid check_script_output",
        ".stepping": "RunawayLoop StepLog caught_code_event has_unfinished is_finished run_engine",
        ".tasks": (
            "all_tasks changed_data element_of error_tasks find_task instance_data is_activity "
            "is_external is_open_work ready_human_tasks retry_task run_user_task snapshot "
            "ExpressionFailed evaluate task_data"
        ),
        ".timers": (
            "TimerStart fire_due_timers fire_start_timer first_due is_cycle is_timer next_due_after "
            "next_timer_due timer_details timer_starts"
        ),
        ".workflow": (
            "DefinitionCache LoadedDefinition dump_workflow load_workflow new_workflow script_engine"
        ),
    }.items()
    for name in names.split()
} | {
    "Workflow": ("SpiffWorkflow.bpmn.workflow", "BpmnWorkflow"),
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


__all__ = [
    "DefinitionCache",
    "ExpressionFailed",
    "Failure",
    "LoadedDefinition",
    "RunawayLoop",
    "ScriptOutputInvalid",
    "StepLog",
    "Task",
    "TimerStart",
    "Workflow",
    "all_tasks",
    "caught_code_event",
    "changed_data",
    "check_script_output",
    "clock_at",
    "describe_failure",
    "dump_workflow",
    "element_of",
    "evaluate",
    "error_tasks",
    "find_task",
    "fire_due_timers",
    "fire_start_timer",
    "first_due",
    "has_unfinished",
    "instance_data",
    "is_activity",
    "is_cycle",
    "is_external",
    "is_finished",
    "is_open_work",
    "is_timer",
    "load_workflow",
    "new_workflow",
    "next_due_after",
    "next_timer_due",
    "ready_human_tasks",
    "retry_task",
    "run_engine",
    "run_user_task",
    "script_engine",
    "seeded_task_ids",
    "snapshot",
    "task_data",
    "timer_details",
    "timer_starts",
]

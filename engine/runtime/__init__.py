"""The SpiffWorkflow runtime: the only part of `engine` that imports SpiffWorkflow (DESIGN §2).

Everything else in `engine` drives workflows through the names below and never touches SpiffWorkflow's
objects beyond passing them back here. `Workflow` and `Task` name those objects for type hints.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
        all_tasks,
        changed_data,
        element_of,
        error_tasks,
        find_task,
        instance_data,
        is_activity,
        is_external,
        is_open_work,
        ready_human_tasks,
        retry_task,
        run_user_task,
        snapshot,
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
    "Workflow": ("SpiffWorkflow.bpmn.workflow", "BpmnWorkflow"),
    "Task": ("SpiffWorkflow.task", "Task"),
    "clock_at": (".engine_clock", "clock_at"),
    "seeded_task_ids": (".engine_clock", "seeded_task_ids"),
    "Failure": (".failures", "Failure"),
    "describe_failure": (".failures", "describe_failure"),
    "ScriptOutputInvalid": (".script_output", "ScriptOutputInvalid"),
    "check_script_output": (".script_output", "check_script_output"),
    "RunawayLoop": (".stepping", "RunawayLoop"),
    "StepLog": (".stepping", "StepLog"),
    "caught_code_event": (".stepping", "caught_code_event"),
    "has_unfinished": (".stepping", "has_unfinished"),
    "is_finished": (".stepping", "is_finished"),
    "run_engine": (".stepping", "run_engine"),
    "all_tasks": (".tasks", "all_tasks"),
    "changed_data": (".tasks", "changed_data"),
    "element_of": (".tasks", "element_of"),
    "error_tasks": (".tasks", "error_tasks"),
    "find_task": (".tasks", "find_task"),
    "instance_data": (".tasks", "instance_data"),
    "is_activity": (".tasks", "is_activity"),
    "is_external": (".tasks", "is_external"),
    "is_open_work": (".tasks", "is_open_work"),
    "ready_human_tasks": (".tasks", "ready_human_tasks"),
    "retry_task": (".tasks", "retry_task"),
    "run_user_task": (".tasks", "run_user_task"),
    "snapshot": (".tasks", "snapshot"),
    "TimerStart": (".timers", "TimerStart"),
    "fire_due_timers": (".timers", "fire_due_timers"),
    "fire_start_timer": (".timers", "fire_start_timer"),
    "first_due": (".timers", "first_due"),
    "is_cycle": (".timers", "is_cycle"),
    "is_timer": (".timers", "is_timer"),
    "next_due_after": (".timers", "next_due_after"),
    "next_timer_due": (".timers", "next_timer_due"),
    "timer_details": (".timers", "timer_details"),
    "timer_starts": (".timers", "timer_starts"),
    "DefinitionCache": (".workflow", "DefinitionCache"),
    "LoadedDefinition": (".workflow", "LoadedDefinition"),
    "dump_workflow": (".workflow", "dump_workflow"),
    "load_workflow": (".workflow", "load_workflow"),
    "new_workflow": (".workflow", "new_workflow"),
    "script_engine": (".workflow", "script_engine"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "DefinitionCache",
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
    "timer_details",
    "timer_starts",
]

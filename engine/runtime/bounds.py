"""Bounds on the work one operation can grow into (bpmn/definition_limits.py says why and holds the settings).

Validation refuses what a file states outright (a literal cardinality, too many branches); these hold at
run time for what only data decides: a multi-instance activity over a collection or an expression, and
call activities that call each other (or their own process) deeper than the bound. Each ends as an
incident naming the task, like a runaway loop.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import MultiInstanceTask
from SpiffWorkflow.task import Task

from bpmn.definition_limits import CALL_DEPTH_ENV, MULTI_INSTANCE_ENV, WorkBounds, work_bounds


class RunawayLoop(Exception):
    """The process grew past a bound in one operation: too many steps without waiting, a loop too deep,
    too many instances of one activity, call activities nested too deep. An incident, never retried by
    itself (running it again cannot help)."""

    def __init__(self, task: Task, message: str) -> None:
        super().__init__(message)
        self.task = task


def current_bounds() -> WorkBounds:
    """The bounds of this process; a bad setting is a setup error (exit code 7)."""
    from engine.errors import SetupRequired

    try:
        return work_bounds()
    except ValueError as exc:
        raise SetupRequired(f"work bounds: {exc}") from None


def bound_multi_instance(specs: Any) -> None:
    """Make every multi-instance activity of `specs` (process specs) refuse to start more instances than
    the bound: SpiffWorkflow creates them one by one, and the one too many is refused.

    SpiffWorkflow creates each instance through its spec's `create_child`, after evaluating the
    cardinality or reading the collection; the bound wraps that method on the spec objects, which Handoff
    restores once per process version (engine/runtime/workflow.py) and which hold no instance state.
    """
    for spec in specs:
        for task_spec in spec.task_specs.values():
            if isinstance(task_spec, MultiInstanceTask) and "create_child" not in vars(task_spec):
                task_spec.create_child = _bounded(task_spec.create_child, task_spec.task_spec)


_MADE = "handoff_instances_made"


def _bounded(create_child: Any, instance_spec: str) -> Any:
    def create_child_within_bound(my_task: Task, *args: Any, **kwargs: Any) -> Any:
        limit = current_bounds().multi_instance
        # Counted once per loaded task (its children are its instances and the predicted task after it),
        # then kept on the task object, which is not serialized: counting every time is quadratic.
        made = getattr(my_task, _MADE, None)
        if made is None:
            made = sum(1 for child in my_task.children if child.task_spec.name == instance_spec)
        if made >= limit:
            raise RunawayLoop(
                my_task,
                f"the multi-instance activity would run more than {limit:,} instances ({MULTI_INSTANCE_ENV})",
            )
        child = create_child(my_task, *args, **kwargs)
        setattr(my_task, _MADE, made + 1)
        return child

    return create_child_within_bound


def check_call_depth(task: Task) -> None:
    """Call activities and subprocesses nested deeper than the bound: a process calling itself."""
    depth = getattr(task.workflow, "depth", 0)
    if depth > 1:  # the common case, a process without nesting, costs one attribute read
        limit = current_bounds().call_depth
        if depth > limit:
            raise RunawayLoop(
                task,
                f"call activities and subprocesses are nested more than {limit} deep ({CALL_DEPTH_ENV}): "
                "does a process call itself?",
            )

"""How service tasks reach their handlers (engine/handlers.py) inside SpiffWorkflow.

How the task reaches the handler depends on the dialect (bpmn/service_bindings.py names the handler):
SpiffArena's `spiffworkflow:serviceTaskOperator` makes SpiffWorkflow call the script engine's
`call_service`, which is routed here; Camunda and plain BPMN service tasks are left STARTED by
SpiffWorkflow, and `run_started` runs their handlers between engine steps.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from bpmn import ProcessModel
from bpmn.service_bindings import ServiceBinding, variable_of
from engine.handlers import ENTRY_POINT_GROUP, HandlerUnavailable, ServiceCall, ServiceRegistry

from .tasks import all_tasks, element_of


class ServiceTaskError(WorkflowTaskException):
    """A service task failed: its handler raised, returned something else than a dict, or is missing."""

    def __init__(self, message: str, task: Task, exception: BaseException | None = None) -> None:
        super().__init__(message, task=task, exception=exception)  # type: ignore[arg-type]
        self.error_type = type(exception).__name__ if exception is not None else "ServiceTaskError"
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass
class _Calls:
    registry: ServiceRegistry
    model: ProcessModel
    process: str
    instance: int | None
    business_key: str | None
    attempt: int
    now: datetime


_CURRENT: ContextVar[_Calls | None] = ContextVar("handoff_service_calls", default=None)


@contextmanager
def calls(
    registry: ServiceRegistry,
    model: ProcessModel,
    *,
    process: str,
    instance: int | None,
    business_key: str | None,
    attempt: int,
    now: datetime,
) -> Iterator[None]:
    """Service tasks reached inside this block call the handlers of `registry`, for this instance."""
    token = _CURRENT.set(_Calls(registry, model, process, instance, business_key, attempt, now))
    try:
        yield
    finally:
        _CURRENT.reset(token)


def _label(element_id: str, name: str | None) -> str:
    return f"{name} ({element_id})" if name else element_id


def _call(context: _Calls, task: Task, binding: ServiceBinding, params: dict[str, Any]) -> dict[str, Any]:
    """Run the handler of `binding` for `task`; every failure becomes a ServiceTaskError naming the task."""
    element = element_of(context.model, task)
    label = _label(element.id, element.name)
    try:
        handler = context.registry.get(binding.handler)
    except HandlerUnavailable as exc:
        raise ServiceTaskError(str(exc), task, exc) from exc
    if handler is None:
        raise ServiceTaskError(
            f"no handler '{binding.handler}' is installed for service task {label} "
            f"(a package registers it under the entry-point group {ENTRY_POINT_GROUP}; see docs/services.md)",
            task,
        )
    call = ServiceCall(
        handler=binding.handler,
        process=context.process,
        instance=context.instance,
        business_key=context.business_key,
        element=element.id,
        name=element.name,
        lane=element.lane,
        task_id=str(task.id),
        attempt=context.attempt,
        now=context.now,
        params=MappingProxyType(params),
        data=MappingProxyType(copy.deepcopy(task.data)),
        properties=MappingProxyType(dict(element.properties)),
    )
    try:
        result = handler(call)
    except Exception as exc:  # noqa: BLE001 - handlers are user code: any exception is a failure of the task
        raise ServiceTaskError(
            f"handler '{binding.handler}' raised {type(exc).__name__}: {exc}", task, exc
        ) from exc
    if result is None:
        return {}
    if not isinstance(result, Mapping) or not all(isinstance(k, str) for k in result):
        raise ServiceTaskError(
            f"handler '{binding.handler}' of service task {label} returned {type(result).__name__}, "
            "not a dict of data to merge",
            task,
        )
    return dict(result)


def _params(binding: ServiceBinding, data: Mapping[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, text in binding.params:
        variable = variable_of(text)
        params[name] = data.get(variable) if variable is not None else text
    return params


def run_started(workflow: BpmnWorkflow) -> list[Task]:
    """Run the handlers of the service tasks SpiffWorkflow left STARTED (Camunda and plain BPMN).

    A task whose binding is not strict and whose handler is not installed stays STARTED: open work for an
    outside worker or a person (is_external). Returns the tasks it completed, in order.
    """
    context = _CURRENT.get()
    if context is None or not any(e.type == "serviceTask" for e in context.model.elements.values()):
        return []  # the common case: no service task to look for in the task tree
    completed: list[Task] = []
    for task in list(all_tasks(workflow)):
        if task.state != TaskState.STARTED or not isinstance(task.task_spec, ServiceTaskMixin):
            continue
        binding = element_of(context.model, task).service
        if binding is None or (not binding.strict and binding.handler not in context.registry):
            continue
        try:
            result = _call(context, task, binding, _params(binding, task.data))
        except ServiceTaskError:
            task.error()  # ERROR, as a failed script: `retry` runs it again
            raise
        task.data.update(result)
        task.complete()
        completed.append(task)
    return completed


def _call_spiff_service(
    engine: PythonScriptEngine, task: Task, operation_name: str, operation_params: dict[str, Any]
) -> str:
    """SpiffArena's operator: SpiffWorkflow evaluated the parameters and stores the JSON we return under
    the operator's result variable; Handoff's contract also merges the dict into the task data."""
    context = _CURRENT.get()
    if context is None:
        raise ServiceTaskError(f"service task {task.task_spec.bpmn_id}: no handlers outside the engine", task)
    params = {name: p.get("value") if isinstance(p, dict) else p for name, p in operation_params.items()}
    result = _call(context, task, ServiceBinding(operation_name, "operator", True), params)
    task.data.update(result)
    return json.dumps(result, default=str)


# SpiffWorkflow routes SpiffArena service tasks through the script engine; every engine Handoff makes
# (workflow.script_engine, restricted or not) derives from PythonScriptEngine, so they all dispatch here.
PythonScriptEngine.call_service = _call_spiff_service  # type: ignore[method-assign,assignment]

"""Service tasks run Python handlers that packages register under the entry-point group `handoff.services`.

A handler is a callable taking one `ServiceCall` and returning a dict (or None) that is merged into the
task's data. It runs inside the operation that reaches the task, before that operation's transaction
commits: if it raises, the task fails and the retry policy applies (engine/incidents.py); if the
transaction later fails, nothing of the step is stored and the handler will be called again. Handlers
must therefore be idempotent: `ServiceCall.key` is the same on every run of the same task.

How the task reaches the handler depends on the dialect (bpmn/service_tasks.py names the handler):
SpiffArena's `spiffworkflow:serviceTaskOperator` makes SpiffWorkflow call the script engine's
`call_service`, which is routed here; Camunda and plain BPMN service tasks are left STARTED by
SpiffWorkflow, and `run_started` runs their handlers between engine steps.
"""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from types import MappingProxyType
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from bpmn import ProcessModel
from bpmn.service_tasks import ServiceBinding, variable_of

from . import runtime

ENTRY_POINT_GROUP = "handoff.services"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceCall:
    """What a handler is given: the task, its instance, its parameters and a read-only copy of its data."""

    handler: str
    process: str
    instance: int | None  # None while the instance is being started in this very transaction
    business_key: str | None
    element: str
    name: str | None
    lane: str | None
    task_id: str  # SpiffWorkflow's id of this run of the task: the same on every retry of it
    attempt: int  # 1 on the first run, 2 on the first retry, ...
    now: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """An idempotency key for the outside system: one per run of this task, stable across retries."""
        return f"handoff:{self.process}:{self.task_id}"


Handler = Callable[[ServiceCall], Mapping[str, Any] | None]


class HandlerUnavailable(Exception):
    """An installed handler that cannot be loaded (its package is broken or missing a module)."""


class ServiceRegistry:
    """Handlers by name: those given explicitly, then the installed `handoff.services` entry points.

    Entry points are looked up once and each loaded on first use, so a broken package fails only the
    tasks that name it (as an incident that names the package), never every command.
    """

    def __init__(
        self, handlers: Mapping[str, Handler] | None = None, *, load_entry_points: bool = True
    ) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._load_entry_points = load_entry_points
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def _installed(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found = entry_points(group=ENTRY_POINT_GROUP) if self._load_entry_points else ()
            self._entry_points = {ep.name: ep for ep in found}
        return self._entry_points

    def names(self) -> list[str]:
        return sorted(set(self._handlers) | set(self._installed()))

    def __contains__(self, name: object) -> bool:
        return name in self._handlers or name in self._installed()

    def get(self, name: str) -> Handler | None:
        """The handler called `name`; None if none is registered; HandlerUnavailable if it cannot load."""
        handler = self._handlers.get(name)
        if handler is not None:
            return handler
        ep = self._installed().get(name)
        if ep is None:
            return None
        package = ep.dist.name if ep.dist is not None else ep.value
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken package: report which, never crash the engine
            raise HandlerUnavailable(
                f"handler '{name}' of package {package} cannot be loaded ({ep.value}): {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(loaded):
            raise HandlerUnavailable(f"handler '{name}' of package {package} ({ep.value}) is not callable")
        self._handlers[name] = loaded
        return loaded  # type: ignore[no-any-return]


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
    element = runtime.element_of(context.model, task)
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
    outside worker or a person (runtime.is_external). Returns the tasks it completed, in order.
    """
    context = _CURRENT.get()
    if context is None or not any(e.type == "serviceTask" for e in context.model.elements.values()):
        return []  # the common case: no service task to look for in the task tree
    completed: list[Task] = []
    for task in list(runtime.all_tasks(workflow)):
        if task.state != TaskState.STARTED or not isinstance(task.task_spec, ServiceTaskMixin):
            continue
        binding = runtime.element_of(context.model, task).service
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
# (runtime.script_engine, restricted or not) derives from PythonScriptEngine, so they all dispatch here.
PythonScriptEngine.call_service = _call_spiff_service  # type: ignore[method-assign,assignment]

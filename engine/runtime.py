"""The only code that drives SpiffWorkflow's runtime: load, run engine steps, save, and read the outcome."""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from threading import Lock
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.defaults import EndEvent
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import (
    CodeEventDefinition,
    ErrorEventDefinition,
)
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.service_task import ServiceTask as ServiceTaskMixin
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from bpmn import Element, ProcessModel
from bpmn.inspect import ACTIVITY_TAGS
from bpmn.serializer import codec

from . import event_subprocesses as event_subprocess_rules
from . import sandbox

# SpiffWorkflow's task iterator stops at depth 1,000 and then reports a workflow complete that is not
# (DESIGN §4). Stop well before that, and stop a loop of automated tasks that would never wait.
MAX_TREE_DEPTH = 900
MAX_STEPS_PER_OPERATION = 20_000


_ENGINE_NOW: ContextVar[datetime | None] = ContextVar("handoff_engine_now", default=None)


class _EngineDatetime(datetime):
    """`datetime` as SpiffWorkflow's timer module sees it: `now()` is the engine's clock during an
    operation, so timers are set and fire on a manual or virtual clock exactly as on the wall clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _EngineDatetime:
        engine_now = _ENGINE_NOW.get()
        if engine_now is None:
            return super().now(tz)
        value = engine_now.astimezone(tz) if tz is not None else engine_now.astimezone().replace(tzinfo=None)
        return cls.combine(value.date(), value.time(), value.tzinfo)


# SpiffWorkflow reads `datetime.now(timezone.utc)` in this one module (DESIGN §4); its other uses of
# the time (`time.time()` stamps) only order tasks.
spiff_timer.datetime = _EngineDatetime  # type: ignore[misc]


def _memoized_state_names() -> None:
    """SpiffWorkflow 3.2 names a task state by building a dict on every call, and it does so for a log
    line on every state change even with logging off: about 5 % of a simulation. Same answers, once."""
    original = TaskState.get_name.__func__  # type: ignore[attr-defined]
    names: dict[int, str] = {}

    def get_name(cls: type[TaskState], state: int) -> str:
        try:
            return names[state]
        except KeyError:
            name: str = original(cls, state)
            names[state] = name
            return name

    TaskState.get_name = classmethod(get_name)  # type: ignore[assignment, method-assign]


_memoized_state_names()


@contextmanager
def clock_at(now: datetime) -> Iterator[None]:
    """Run SpiffWorkflow with `now` as the current time (one operation happens at one instant)."""
    token = _ENGINE_NOW.set(now if now.tzinfo else now.replace(tzinfo=UTC))
    try:
        yield
    finally:
        _ENGINE_NOW.reset(token)


@contextmanager
def seeded_task_ids(seed: str) -> Iterator[None]:
    """SpiffWorkflow names each task with a random UUID; inside this block the UUIDs come from a seeded
    generator instead, so that a simulation leaves the same history, ids included, for the same seed."""
    import random
    from uuid import UUID

    import SpiffWorkflow.task as spiff_task

    rng = random.Random(seed)
    original = spiff_task.uuid4
    spiff_task.uuid4 = lambda: UUID(int=rng.getrandbits(128), version=4)  # type: ignore[assignment]
    try:
        yield
    finally:
        spiff_task.uuid4 = original  # type: ignore[assignment]


_TIMER_TYPES = (spiff_timer.TimerEventDefinition,)


def is_timer(task: Task) -> bool:
    """A timer event (start, intermediate or boundary) whose task completed: a timer that fired."""
    return isinstance(getattr(task.task_spec, "event_definition", None), _TIMER_TYPES)


def caught_code_event(task: Task) -> tuple[str, dict[str, Any]] | None:
    """A completed boundary or start event that caught an error or an escalation: the history event's
    kind (`error_caught`, `escalation_caught`) and what was caught."""
    definition = getattr(task.task_spec, "event_definition", None)
    if not isinstance(definition, CodeEventDefinition) or not isinstance(task.task_spec, CatchingEvent):
        return None
    kind = "error_caught" if isinstance(definition, ErrorEventDefinition) else "escalation_caught"
    return kind, {"name": definition.name, "code": definition.code}


def timer_details(task: Task) -> dict[str, Any]:
    definition = task.task_spec.event_definition
    due = task._get_internal_data("event_value")
    return {"timer": definition.expression, "due": due if isinstance(due, str) else None}


@dataclass(frozen=True)
class TimerStart:
    """A timer start event of a process: `expression` is the evaluated ISO 8601 text (date, duration or
    cycle); `kind` is date, duration or cycle."""

    element_id: str
    kind: str
    expression: str


_START_TIMER_KINDS = {
    "TimeDateEventDefinition": "date",
    "DurationTimerEventDefinition": "duration",
    "CycleTimerEventDefinition": "cycle",
}


def timer_starts(spec: dict[str, Any]) -> list[TimerStart]:
    """The timer start events of a serialized process spec (its own start events, not subprocesses').

    The expression is Python in SpiffWorkflow (`"PT1H"`, quoted); a timer start cannot depend on
    instance data, so it must be a literal. Raises ValueError naming the element otherwise.
    """
    import ast

    found = []
    for name, task_spec in spec["spec"]["task_specs"].items():
        definition = task_spec.get("event_definition") or {}
        kind = _START_TIMER_KINDS.get(definition.get("typename", ""))
        if task_spec.get("typename") != "StartEvent" or kind is None:
            continue
        raw = str(definition.get("expression") or "").strip()
        try:
            text = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            text = raw  # a bare ISO 8601 literal, as Camunda writes it
        if not isinstance(text, str) or not text:
            raise ValueError(f"timer start event '{name}': its expression {raw!r} is not an ISO 8601 literal")
        try:
            first_due(kind, text, datetime.now(UTC))
        except Exception as exc:  # SpiffWorkflow's parsers raise bare Exceptions
            raise ValueError(
                f"timer start event '{name}': {text!r} is not a valid ISO 8601 {kind} ({exc})"
            ) from None
        found.append(TimerStart(name, kind, text))
    return found


def first_due(kind: str, expression: str, now: datetime) -> datetime:
    """When a timer start event first fires, counted from `now` (its deployment)."""
    parse = spiff_timer.TimerEventDefinition
    if kind == "date":
        due: datetime = parse.get_datetime(expression)
        return due
    if kind == "duration":
        return now + parse.get_timedelta_from_start(parse.parse_iso_duration(expression), now)
    with clock_at(now):
        _cycles, start, _duration = parse.parse_iso_recurring_interval(expression)
    return start  # type: ignore[no-any-return]


def next_due_after(kind: str, expression: str, due: datetime, fired: int) -> datetime | None:
    """When a timer start event fires again after its firing number `fired` (1-based) at `due`."""
    if kind != "cycle":
        return None
    with clock_at(due):
        cycles, _start, duration = spiff_timer.TimerEventDefinition.parse_iso_recurring_interval(expression)
    if cycles != -1 and fired >= cycles:
        return None
    return due + duration  # type: ignore[no-any-return]


def fire_start_timer(workflow: BpmnWorkflow, element_id: str) -> None:
    """Let a new instance pass its timer start event now: the schedule, not the instance, kept the time.

    A cycle start event would repeat inside the one instance (SpiffWorkflow's reading); in BPMN each
    cycle starts a new instance, so the instance gets a cycle of one that is already due.
    """
    for task in workflow.get_tasks(spec_name=element_id):
        definition = task.task_spec.event_definition
        if isinstance(definition, spiff_timer.CycleTimerEventDefinition):
            past = datetime(2000, 1, 1, tzinfo=UTC).isoformat()
            task._set_internal_data(event_value={"cycles": 1, "next": past, "duration": 0.0})
        else:
            task._set_internal_data(event_fired=True)


def is_cycle(task: Task) -> bool:
    return isinstance(
        getattr(task.task_spec, "event_definition", None), spiff_timer.CycleTimerEventDefinition
    )


def fire_due_timers(workflow: BpmnWorkflow, limit: int = 1000) -> list[dict[str, Any]]:
    """Let timers that are due at the engine's now become ready; `run_engine` then runs them on.

    A cycle timer does not complete when it fires (it spawns a path and waits for its next time), so
    its firings are returned here, one `timer_details`-like dict each, with the element id: several
    when a worker was down for several of its periods (each one fires, in order, none skipped).
    """
    fired: list[dict[str, Any]] = []
    for _ in range(limit):
        before = {
            task.id: dict(value)
            for task in workflow.get_tasks(state=TaskState.WAITING)
            if is_cycle(task) and isinstance(value := task._get_internal_data("event_value"), dict)
        }
        workflow.refresh_timers()
        more = False
        for task_id, value in before.items():
            task = workflow.get_task_from_id(task_id)
            after = task._get_internal_data("event_value")
            if value["cycles"] != 0 and (after is None or after["cycles"] != value["cycles"]):
                fired.append(
                    {
                        "element": task.task_spec.bpmn_id,
                        "timer": task.task_spec.event_definition.expression,
                        "due": value["next"],
                        "task": task,
                    }
                )
                more = more or (after is not None and after["cycles"] != 0)
        if not more:
            break
    return fired


class RunawayLoop(Exception):
    def __init__(self, task: Task, message: str) -> None:
        super().__init__(message)
        self.task = task


@dataclass(frozen=True)
class LoadedDefinition:
    definition_id: int
    process_id: str
    version: int
    model: ProcessModel
    spec: Any
    subprocess_specs: dict[str, Any]
    trusted_scripts: bool = False  # deployed with --trusted-scripts: full Python (engine/sandbox.py)
    _forms: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    def form_json(self, element: Element) -> list[dict[str, Any]]:
        """The element's form as stored on its task rows, made once per version (rows only read it)."""
        form = self._forms.get(element.id)
        if form is None:
            form = self._forms[element.id] = [f.to_json() for f in element.form]
        return form


class DefinitionCache:
    """Restored specs by definition id: parsed once per version, shared by every instance of it."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[int, LoadedDefinition] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, definition_id: int, load: Callable[[], tuple[Any, ...]]) -> LoadedDefinition:
        """`load` returns (process id, version, model JSON, spec JSON[, trusted scripts])."""
        with self._lock:
            hit = self._items.get(definition_id)
            if hit is not None:
                self._items.move_to_end(definition_id)
                return hit
        process_id, version, model_json, spec_json, *rest = load()
        model = ProcessModel.from_json(model_json)
        spec, subs = codec(model.dialect).spec_from_dict(json.loads(spec_json))
        trusted = bool(rest[0]) if rest else False
        loaded = LoadedDefinition(definition_id, process_id, version, model, spec, subs, trusted)
        with self._lock:
            self._items[definition_id] = loaded
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return loaded


def script_engine(trusted: bool = False) -> PythonScriptEngine:
    """Scripts and expressions run sandboxed, unless the version was deployed with trusted scripts."""
    return PythonScriptEngine(environment=sandbox.environment(trusted))


def new_workflow(definition: LoadedDefinition, data: dict[str, Any]) -> BpmnWorkflow:
    engine = script_engine(definition.trusted_scripts)
    workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=engine)
    if data:
        # The start task hands its data to every task after it.
        workflow.task_tree.data.update(data)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
    return workflow


def load_workflow(definition: LoadedDefinition, state: str) -> BpmnWorkflow:
    workflow = codec(definition.model.dialect).loads(state, definition.spec, definition.subprocess_specs)
    # not serialized: set again after every load
    workflow.script_engine = script_engine(definition.trusted_scripts)
    return workflow


def dump_workflow(definition: LoadedDefinition, workflow: BpmnWorkflow) -> str:
    return codec(definition.model.dialect).dumps(workflow)


def all_tasks(workflow: BpmnWorkflow) -> Iterator[Task]:
    """Every task of the instance, subprocesses included, without the iterator's depth limit."""
    yield from workflow.tasks.values()
    for sub in workflow.subprocesses.values():
        yield from sub.tasks.values()


def find_task(workflow: BpmnWorkflow, task_id: str) -> Task | None:
    from uuid import UUID

    try:
        return workflow.get_task_from_id(UUID(task_id))
    except (ValueError, SpiffWorkflowException, KeyError):
        return None


@dataclass
class StepLog:
    """Activities the engine completed during one operation, in order."""

    completed: list[Task] = field(default_factory=list)
    count: int = 0


def element_of(model: ProcessModel, task: Task) -> Element:
    spec = task.task_spec
    bpmn_id = getattr(spec, "bpmn_id", None) or spec.name
    element = model.elements.get(bpmn_id)
    if element is not None:
        return element
    return Element(
        id=bpmn_id,
        type=type(spec).__name__[0].lower() + type(spec).__name__[1:],
        name=getattr(spec, "bpmn_name", None),
        lane=getattr(spec, "lane", None) or model.pool,
        line=None,
    )


def is_activity(model: ProcessModel, task: Task) -> bool:
    spec = task.task_spec
    if getattr(spec, "bpmn_id", None) is None:
        return False  # SpiffWorkflow's internal specs (Start, End, boundary splits, ...)
    return element_of(model, task).type in ACTIVITY_TAGS


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
    """

    def did_complete(task: Task) -> None:
        if task.state == TaskState.STARTED and isinstance(task.task_spec, ServiceTaskMixin):
            return  # SpiffWorkflow calls this for every task it ran: this one waits for its handler or a person
        log.completed.append(task)
        log.count += 1
        if log.count > MAX_STEPS_PER_OPERATION:
            raise RunawayLoop(task, f"more than {MAX_STEPS_PER_OPERATION} automated steps without waiting")
        if log.count % 64 == 0 and task.depth > MAX_TREE_DEPTH:
            raise RunawayLoop(task, f"the process looped more than {MAX_TREE_DEPTH} steps deep")

    checkpoint = time.time()  # SpiffWorkflow stamps last_state_change with time.time()
    workflow.do_engine_steps(did_complete_task=did_complete)
    while True:
        if event_subprocesses and event_subprocess_rules.settle(workflow, event_subprocesses):
            pass
        elif dispatch is not None and (dispatched := dispatch(workflow)):
            for task in dispatched:
                did_complete(task)
        else:
            break
        workflow.do_engine_steps(did_complete_task=did_complete)
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


def is_external(task: Task) -> bool:
    """A service task SpiffWorkflow left STARTED and no installed handler ran (engine/service_tasks.py:
    it names none, or a Camunda class/topic/bean nobody registered): an outside worker (a person or a
    program) does the work and completes it like a human task (docs/services.md)."""
    return task.state == TaskState.STARTED and isinstance(task.task_spec, ServiceTaskMixin)


def is_open_work(task: Task) -> bool:
    """A task someone outside the engine must complete: a ready user/manual task or an external service task."""
    return (task.state == TaskState.READY and task.task_spec.manual) or is_external(task)


def ready_human_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(workflow) if is_open_work(t)]


def error_tasks(workflow: BpmnWorkflow) -> list[Task]:
    return [t for t in all_tasks(workflow) if t.state == TaskState.ERROR]


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


def next_timer_due(workflow: BpmnWorkflow) -> datetime | None:
    due: list[datetime] = []
    for pending in workflow.waiting_events():
        value = getattr(pending, "value", None)
        if getattr(pending, "event_type", "") in (
            "TimerEventDefinition",
            "DurationTimerEventDefinition",
            "TimeDateEventDefinition",
            "CycleTimerEventDefinition",
        ) and isinstance(value, str):
            try:
                due.append(datetime.fromisoformat(value))
            except ValueError:
                continue
    for task in workflow.event_manager.tasks.values():
        # An event-based gateway with a timer (a multiple event): SpiffWorkflow keeps the timer's due time
        # on the gateway's task, while its pending event shows none.
        definition = task.task_spec.event_definition
        if isinstance(definition, MultipleEventDefinition) and any(
            isinstance(d, spiff_timer.TimerEventDefinition) for d in definition.event_definitions
        ):
            value = task._get_internal_data("event_value")
            value = value.get("next") if isinstance(value, dict) else value
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    due.append(datetime.fromisoformat(value))
    return min(due) if due else None


@dataclass(frozen=True)
class Failure:
    """Why an automated task failed: what the incident records."""

    task: Task | None
    message: str
    line: int | None
    error_type: str

    def to_json(self, model: ProcessModel) -> dict[str, Any]:
        element = element_of(model, self.task) if self.task is not None else None
        return {
            "task": element.id if element else None,
            "task_name": element.name if element else None,
            "lane": element.lane if element else None,
            "line": self.line,
            "type": self.error_type,
            "message": self.message,
        }


def describe_failure(exc: Exception) -> Failure:
    if isinstance(exc, RunawayLoop):
        return Failure(exc.task, str(exc), None, "RunawayLoop")
    if isinstance(exc, WorkflowTaskException):
        inner = getattr(exc, "error_type", "") or type(exc).__name__
        message = str(exc.error_msg if hasattr(exc, "error_msg") else exc).strip()
        cause = _user_cause(exc)
        if cause is not None and str(cause.args[0] if cause.args else cause) not in message:
            # "Error evaluating expression '...'" alone hides why (a sandbox limit, a NameError)
            message = f"{message.rstrip('.')}: {type(cause).__name__}: {cause}"
        return Failure(exc.task, message, exc.line_number or None, inner)
    if isinstance(exc, WorkflowException):
        task = getattr(exc, "task", None)
        return Failure(task, str(exc).strip(), None, type(exc).__name__)
    return Failure(getattr(exc, "task", None), f"{type(exc).__name__}: {exc}", None, type(exc).__name__)


def _user_cause(exc: BaseException) -> BaseException | None:
    """The exception a script or expression raised, under SpiffWorkflow's wrappers."""
    seen = exc.__cause__ or exc.__context__
    while isinstance(seen, SpiffWorkflowException):
        seen = seen.__cause__ or seen.__context__
    return seen


_PLAIN = (str, int, float, bool, type(None))


def snapshot(data: dict[str, Any]) -> dict[str, Any]:
    """Workflow data as plain JSON for the instance row (non-JSON values shown as text)."""
    if all(isinstance(v, _PLAIN) for v in data.values()) and all(isinstance(k, str) for k in data):
        return dict(data)  # already plain JSON: skip the round trip (the common case, and a hot path)
    try:
        return json.loads(json.dumps(data, default=str))
    except (TypeError, ValueError):
        return {str(k): str(v) for k, v in data.items()}


def changed_data(task: Task) -> dict[str, Any]:
    """What an automated task put into the data, compared with what it was given, as plain JSON."""
    before = task.parent.data if task.parent is not None else {}
    changed = {k: v for k, v in task.data.items() if k not in before or before[k] is not v and before[k] != v}
    return snapshot(changed) if changed else {}


def run_user_task(task: Task, data: dict[str, Any]) -> None:
    task.data.update(data)
    if is_external(task):
        task.complete()  # the outside worker did the work: SpiffWorkflow's STARTED -> COMPLETED
    else:
        task.run()


def retry_task(task: Task, data: dict[str, Any]) -> None:
    """Run a failed task again after its data was fixed (SpiffWorkflow recovers an ERROR task so)."""
    task.data.update(data)
    task.run()


def instance_data(workflow: BpmnWorkflow) -> dict[str, Any]:
    """What a person would call 'the instance data': the workflow's data merged with that of the latest
    task of each branch (parallel branches each hold part of it), oldest first."""
    frontier = [
        t
        for t in workflow.tasks.values()
        if t.state in (TaskState.COMPLETED, TaskState.READY, TaskState.ERROR, TaskState.WAITING)
        and not any(c.state == TaskState.COMPLETED for c in t.children)
    ]
    merged = dict(workflow.data)
    for task in sorted(frontier, key=lambda t: t.last_state_change):
        merged.update(task.data)
    return merged

"""Routing messages and signals to the instances that wait for them (docs/messages.md).

Matching stays SpiffWorkflow's: Handoff picks candidates from the subscription index (engine/kernel/
waits.py) by name and correlation key, then hands the event to each candidate's workflow, which catches
it or not. One delivery is one transaction: the receivers' state changes and history (`message_received`,
`signal_received`), the sender's (`message_sent`, `signal_sent`), and whatever the receivers threw in turn.
A message or signal thrown by an instance is routed in the transaction of the thrower's own change.

Routing runs receivers on, and may start instances: it is given `advance` and `start` (engine/kernel/
advance.py) rather than importing them, since advancing an instance routes what it threw.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from storage import repository as repo
from storage import subscriptions as subs
from storage.models import HumanTask, ProcessInstance

from .. import runtime
from ..errors import InvalidInput, NotFound, ScriptFailed
from ..lifecycle import LifecycleEvent
from ..runtime import messaging
from ..runtime.messaging import MESSAGE, SIGNAL
from ..views import InstanceView
from .events import task_event
from .operation import Operation
from .recording import record
from .rows import instance as instance_row
from .rows import instance_view
from .rows import workflow as load_workflow

if TYPE_CHECKING:
    from .app import App
    from .work import Work

# A message or signal may set off others (a reply, a signal that starts a process that signals...). More
# deliveries than this in one operation is a loop between processes: the operation is refused.
MAX_DELIVERIES = 1000

Loaded = tuple[ProcessInstance, runtime.LoadedDefinition, runtime.Workflow]
MakeEvent = Callable[[runtime.Task, Any], Any]  # (catching task, its event definition) -> what it receives


class Advance(Protocol):
    def __call__(
        self,
        app: App,
        op: Operation,
        definition: runtime.LoadedDefinition,
        instance: ProcessInstance,
        workflow: runtime.Workflow,
        *,
        new: bool = False,
    ) -> list[HumanTask]: ...


class Start(Protocol):
    def __call__(
        self,
        app: App,
        op: Operation,
        definition: runtime.LoadedDefinition,
        data: dict[str, Any],
        business_key: str | None,
        *,
        start_timer: str | None = None,
        arrive: Callable[[runtime.Workflow, Operation, runtime.LoadedDefinition], None] | None = None,
    ) -> InstanceView: ...


@dataclass
class Router:
    """The deliveries of one transaction: what instances threw and is still to be routed, and every
    instance touched so far, kept live so that an instance reached twice changes twice."""

    app: App
    work: Work
    advance: Advance
    start: Start
    queue: deque[tuple[ProcessInstance, runtime.LoadedDefinition, Any]] = field(default_factory=deque)
    live: dict[int, Loaded] = field(default_factory=dict)
    touched: set[int] = field(default_factory=set)
    count: int = 0

    def keep(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, workflow: runtime.Workflow
    ) -> None:
        """The instance as an operation left it: later deliveries in this transaction change it further."""
        self.live.setdefault(instance.id, (instance, definition, workflow))

    def push(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, outbox: list[Any]
    ) -> None:
        for event in outbox:
            self.queue.append((instance, definition, event))

    def load(self, instance_id: int) -> Loaded | None:
        """The instance with its workflow, once per transaction; None if it cannot receive now."""
        loaded = self.live.get(instance_id)
        if loaded is None:
            instance = self.work.instance(instance_id)
            if instance is None:
                return None
            definition = self.app.definitions.for_instance(self.work.session, instance)
            loaded = (instance, definition, load_workflow(self.work, definition, instance))
            self.live[instance_id] = loaded
        if loaded[0].status not in subs.RECEIVING:
            return None
        return loaded

    def current(self, instance_id: int) -> InstanceView:
        """The instance as this transaction left it (the live object if it has one)."""
        loaded = self.live.get(instance_id)
        if loaded is not None:
            return instance_view(self.work, loaded[0], loaded[1].version)
        instance = instance_row(self.work, instance_id)
        return instance_view(
            self.work, instance, repo.definition_version(self.work.session, instance.definition_id)
        )


def route(
    app: App,
    op: Operation,
    instance: ProcessInstance,
    definition: runtime.LoadedDefinition,
    workflow: runtime.Workflow,
    outbox: list[Any],
    *,
    advance: Advance,
    start: Start,
) -> bool:
    """Route what the instance threw in this operation (called by `advance`, after its writes).

    Inside a delivery the outer router takes it; otherwise this operation routes it now, in its own
    transaction. Returns True when the routing changed this instance again (a reply it caught).
    """
    if op.router is not None:
        op.router.keep(instance, definition, workflow)
        op.router.push(instance, definition, outbox)
        return False
    if not outbox:
        return False
    router = Router(app, op.work, advance, start)
    router.live[instance.id] = (instance, definition, workflow)
    router.push(instance, definition, outbox)
    drain(router)
    return instance.id in router.touched


def drain(router: Router) -> None:
    """Deliver everything queued, and what the receivers throw in turn, recording each `*_sent`."""
    while router.queue:
        sender, definition, event = router.queue.popleft()
        router.count += 1
        kind, name = messaging.describe(event)
        if router.count > MAX_DELIVERIES:
            raise ScriptFailed(
                f"{kind} '{name}' of instance {sender.id} ({sender.process_id}): more than "
                f"{MAX_DELIVERIES} messages and signals in one operation, a loop between processes; "
                f"nothing was saved"
            )
        if kind == MESSAGE:
            to, started = _route_message(router, sender, definition, event, name)
        else:
            to, started = _route_signal(router, sender, event, name)
        data: dict[str, Any] = {kind: name, "to": to, "started": started}
        if kind == MESSAGE:
            data["key"] = messaging.correlation_of(event.event_definition, event.correlations)
        sent = LifecycleEvent(
            kind=f"{kind}_sent",
            instance_id=sender.id,
            process_id=definition.process_id,
            version=definition.version,
            at=router.app.clock(),
            data=data,
        )
        record(router.app, router.work, definition.model, [sent])


def deliver(
    router: Router,
    target: int,
    kind: str,
    name: str,
    make_event: MakeEvent,
    record_data: dict[str, Any],
    actor: str | None,
    *,
    outside: bool,
) -> bool:
    """Hand a message or signal to instance `target` if it (still) waits for it; False otherwise.

    `make_event(task, event definition)` builds what its catching task receives; `record_data` is copied
    into the history of this delivery.
    """
    loaded = router.load(target)
    if loaded is None:
        return False
    caught = messaging.catching(loaded[2], kind, name)
    if caught is None:
        return False
    task, event_definition = caught
    instance, definition, workflow = loaded
    op = Operation(router.work, router.app.clock(), actor, instance_id=instance.id, router=router)
    event = make_event(task, event_definition)
    if not _catch(workflow, definition, task, event, kind, dict(record_data), op, outside=outside):
        return False
    router.advance(router.app, op, definition, instance, workflow)
    router.live[instance.id] = (instance, definition, workflow)
    router.touched.add(instance.id)
    return True


def start_by(
    router: Router,
    definition: runtime.LoadedDefinition,
    kind: str,
    name: str,
    make_event: MakeEvent,
    *,
    business_key: str | None,
    record_data: dict[str, Any],
    actor: str | None,
    outside: bool,
) -> int:
    """A new instance of `definition` (its id), started by the message or signal at its start event."""
    op = Operation(router.work, router.app.clock(), actor, router=router)

    def arrive(workflow: runtime.Workflow, op: Operation, started: runtime.LoadedDefinition) -> None:
        with runtime.clock_at(op.now):
            messaging.arm_start_events(workflow)
        caught = messaging.catching(workflow, kind, name)
        if caught is None:  # the index says it has one: only a broken deployment gets here
            raise NotFound(f"process '{started.process_id}' has no start event for {kind} '{name}'")
        task, event_definition = caught
        event = make_event(task, event_definition)
        _catch(workflow, started, task, event, kind, record_data, op, outside=outside)

    view = router.start(router.app, op, definition, {}, business_key, arrive=arrive)
    router.touched.add(view.id)
    return view.id


def _catch(
    workflow: runtime.Workflow,
    definition: runtime.LoadedDefinition,
    task: runtime.Task,
    event: Any,
    kind: str,
    record_data: dict[str, Any],
    op: Operation,
    *,
    outside: bool,
) -> bool:
    """Hand `event` to the workflow and note it in the operation's history; False if nothing caught it."""
    try:
        with runtime.clock_at(op.now):
            caught = messaging.deliver(workflow, event)
    except Exception as exc:  # noqa: BLE001 - correlation expressions are user code
        if outside:
            where = f"instance {op.instance_id}" if op.instance_id else f"a new {definition.process_id}"
            raise InvalidInput(
                f"{kind} '{record_data.get(kind)}' cannot be delivered to {where}: "
                f"{runtime.describe_failure(exc).message}"
            ) from exc
        op.failure = runtime.describe_failure(exc)  # the receiver's incident, not the sender's
        caught = True
    if caught:
        op.events.append(task_event(definition, task, f"{kind}_received", op, data=record_data))
    return caught


def _route_message(
    router: Router,
    sender: ProcessInstance,
    definition: runtime.LoadedDefinition,
    event: Any,
    name: str,
) -> tuple[list[int], list[int]]:
    """A message reaches ONE instance of another pool deployed with the sender's: a waiting instance
    that correlates (same business key first, then the oldest), else a new one at a message start."""
    session = router.work.session
    partners = subs.deployed_with(session, sender.definition_id)
    if not partners:
        return [], []
    correlation = messaging.correlation_of(event.event_definition, event.correlations)
    found = subs.waiting(
        session, MESSAGE, name, correlation=correlation, by_correlation=True, processes=partners
    )
    ids = list(dict.fromkeys(w.instance_id for w in found))
    if sender.business_key is not None:
        same = {w.instance_id for w in found if w.business_key == sender.business_key}
        ids.sort(key=lambda i: i not in same)  # stable: the oldest first within each group
    record_data = {
        MESSAGE: name,
        "key": correlation,
        "data": runtime.snapshot(_plain(messaging.payload_data(event))),
        "from": {"instance": sender.id, "process": sender.process_id},
    }
    copy = _copier(event)
    for target in ids:
        if target != sender.id and deliver(
            router, target, MESSAGE, name, copy, record_data, None, outside=False
        ):
            return [target], []
    for _process, definition_id in subs.starts(session, MESSAGE, name, partners):
        started = start_by(
            router,
            router.app.definitions.get(session, definition_id),
            MESSAGE,
            name,
            copy,
            business_key=sender.business_key,
            record_data=dict(record_data),
            actor=None,
            outside=False,
        )
        return [], [started]
    return [], []


def _route_signal(
    router: Router, sender: ProcessInstance, event: Any, name: str
) -> tuple[list[int], list[int]]:
    """A signal reaches every other instance that waits for it, and starts the latest version of every
    process with a start event for it."""
    session = router.work.session
    record_data = {
        SIGNAL: name,
        "data": runtime.snapshot(_plain(messaging.payload_data(event))),
        "from": {"instance": sender.id, "process": sender.process_id},
    }
    copy = _copier(event)
    to: list[int] = []
    for target in dict.fromkeys(
        w.instance_id for w in subs.waiting(session, SIGNAL, name, exclude=sender.id)
    ):
        if deliver(router, target, SIGNAL, name, copy, record_data, None, outside=False):
            to.append(target)
    started: list[int] = []
    for _process, definition_id in subs.starts(session, SIGNAL, name):
        new_id = start_by(
            router,
            router.app.definitions.get(session, definition_id),
            SIGNAL,
            name,
            copy,
            business_key=None,
            record_data=dict(record_data),
            actor=None,
            outside=False,
        )
        started.append(new_id)
    return to, started


def _copier(event: Any) -> MakeEvent:
    """Each receiver gets its own copy of a thrown event (SpiffWorkflow keeps, and some dialects change,
    the payload it is given)."""
    return lambda _task, _definition: messaging.copy(event)


def _plain(payload: Any) -> dict[str, Any]:
    if isinstance(payload, dict):
        return payload
    return {} if payload is None else {"value": payload}

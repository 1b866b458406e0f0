"""Messages and signals: the `message` and `signal` services of `Handoff`, what instances wait for, and the
routing of what instances throw to the instances that wait for it (docs/messages.md).

Every instance's waits are kept in the `subscription` table at each state change (`_write_waits`, called
by `Handoff._advance`), so that delivery finds its receivers by an index lookup. Matching stays
SpiffWorkflow's: Handoff picks candidates by name and correlation key, then hands the event to each
candidate's workflow, which catches it or not.

One delivery is one transaction: the receivers' state changes, their history (`message_received`,
`signal_received`) and the sender's (`message_sent`, `signal_sent`), and whatever the receivers threw in
turn. A message or signal thrown by an instance is routed in the transaction of the thrower's own change.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from SpiffWorkflow.bpmn.util.event import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task
from sqlalchemy.orm import Session

from storage import repository as repo
from storage import subscriptions as subs
from storage.models import ProcessInstance

from . import forms, runtime
from .core import ServicesCore
from .errors import Conflict, InvalidInput, NotFound, ScriptFailed
from .lifecycle import LifecycleEvent
from .runtime import messaging as events
from .runtime.messaging import MESSAGE, SIGNAL, Wait

if TYPE_CHECKING:
    from .services import _Change
    from .views import InstanceView

# A message or signal may set off others (a reply, a signal that starts a process that signals...). More
# deliveries than this in one operation is a loop between processes: the operation is refused.
MAX_DELIVERIES = 1000

_WAITS = "_handoff_waits"  # on a workflow object: its waits as last written to the subscription table
_NOT_RECEIVING = ("completed", "terminated")  # statuses whose subscriptions are deleted


@dataclass
class Router:
    """The deliveries of one transaction: what instances threw and is still to be routed, and every
    instance touched so far, kept live so that an instance reached twice changes twice."""

    queue: deque[tuple[ProcessInstance, runtime.LoadedDefinition, BpmnEvent]] = field(default_factory=deque)
    live: dict[int, tuple[ProcessInstance, runtime.LoadedDefinition, BpmnWorkflow]] = field(
        default_factory=dict
    )
    touched: set[int] = field(default_factory=set)
    events: list[LifecycleEvent] = field(default_factory=list)  # for the notify hooks after the commit
    count: int = 0

    def push(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, outbox: list[BpmnEvent]
    ) -> None:
        for event in outbox:
            self.queue.append((instance, definition, event))


class MessageServices(ServicesCore):
    """Mixed into `Handoff`, which provides what `ServicesCore` declares (engine/core.py)."""

    # --- services ------------------------------------------------------------------------------------

    def message(
        self,
        name: str,
        *,
        key: str | None = None,
        data: dict[str, Any] | None = None,
        instance_id: int | None = None,
        every: bool = False,
        actor: str | None,
    ) -> list[InstanceView]:
        """Deliver message `name` from outside; returns the instances that received it, oldest first.

        Receivers: the running or waiting instances that wait for the message, with `key` equal to their
        correlation key (the value of the message's correlation property) or, where the process defines
        none, to their business key; only instance `instance_id` if given. Without key and instance one
        waiting instance takes it; several are an error unless `every`. If none waits, the latest version
        of each process with a start event for the message starts (business key `key`). Nothing at all:
        NotFound. `data` is the message's payload.
        """
        return self._from_outside(
            MESSAGE, name, key=key, data=data, instance_id=instance_id, every=every, actor=actor
        )

    def signal(
        self,
        name: str,
        *,
        data: dict[str, Any] | None = None,
        instance_id: int | None = None,
        actor: str | None,
    ) -> list[InstanceView]:
        """Broadcast signal `name` from outside: every running or waiting instance that waits for it catches
        it, and the latest version of each process with a start event for it starts. With `instance_id`,
        only that instance catches it and nothing starts. Nothing at all: NotFound."""
        return self._from_outside(
            SIGNAL, name, key=None, data=data, instance_id=instance_id, every=True, actor=actor
        )

    def waits_of(self, instance_id: int, *, actor: str | None = None) -> list[Wait]:
        """What an instance waits for from outside (messages with their correlation keys, signals), as the
        subscription table has it; empty for an instance that waits for nothing or cannot receive."""
        self._ready()
        self._authorize(actor, "read")
        with self.db.reader() as session:
            instance = self._instance(session, instance_id)
            if instance.status not in subs.RECEIVING:
                return []
            return [
                Wait(s.kind, s.name, s.correlation, s.element_id or "")
                for s in subs.of_instance(session, instance_id)
            ]

    # --- from outside ----------------------------------------------------------------------------------

    def _from_outside(
        self,
        kind: str,
        name: str,
        *,
        key: str | None,
        data: dict[str, Any] | None,
        instance_id: int | None,
        every: bool,
        actor: str | None,
    ) -> list[InstanceView]:
        self._ready()
        self._authorize(actor, "message")
        name = (name or "").strip()
        if not name and instance_id is None:
            raise InvalidInput(
                f"a {kind} needs a name (an event without a {kind} name catches an unnamed one: send that "
                f"to one instance with --instance)"
            )
        if key is not None and not key.strip():
            raise InvalidInput("--key is empty: give the correlation or business key, or leave it out")
        # The same limits as form data without a form: depth, string sizes.
        payload = forms.check([], dict(data or {}), f"{kind} '{name}'")
        what = f"{kind} '{name}'" + (f" with key '{key}'" if key is not None else "")
        router = Router()
        reached: list[int] = []
        with self._uow() as session:
            if instance_id is not None:
                self._instance(session, instance_id)  # NotFound for an unknown instance
            found = subs.waiting(session, kind, name, key=key, instance_id=instance_id)
            ids = list(dict.fromkeys(w.instance_id for w in found))
            if len(ids) > 1 and key is None and instance_id is None and not every:
                raise InvalidInput(
                    f"{what} is awaited by {len(ids)} instances ({_ids(ids)}): name one with --key or "
                    f"--instance, or deliver it to all of them with --all"
                )
            record = {kind: name, "key": key, "data": runtime.snapshot(payload), "from": None}
            for target in ids:
                if self._deliver(
                    session,
                    router,
                    target,
                    kind,
                    name,
                    lambda task, definition: events.from_outside(task, definition, payload, key),
                    record,
                    actor,
                    outside=True,
                ):
                    reached.append(target)
            # A message goes to the instances that wait for it, else starts one; a signal does both.
            if instance_id is None and (kind == SIGNAL or not ids):
                for _process, definition_id in subs.starts(session, kind, name):
                    started = self._start_by(
                        session,
                        router,
                        self._definition(session, definition_id),
                        kind,
                        name,
                        lambda task, definition: events.from_outside(task, definition, payload, key),
                        business_key=key,
                        record=dict(record),
                        actor=actor,
                        outside=True,
                    )
                    reached.append(started)
            if not reached:
                if instance_id is not None:
                    raise NotFound(
                        f"instance {instance_id} does not wait for {what} (see 'handoff show {instance_id}')"
                    )
                raise NotFound(
                    f"no instance waits for {what} and no deployed process starts with it "
                    f"(see 'handoff instances --status waiting')"
                )
            self._drain(session, router)
            views = [self._current(session, router, instance_id) for instance_id in reached]
        self._notify(router.events)
        for view in views:
            if view.status == "error" and view.error:
                task = view.error.get("task_name") or view.error.get("task") or "the process"
                line = f" line {view.error['line']}" if view.error.get("line") else ""
                raise ScriptFailed(
                    f"{kind} '{name}' delivered, but {task}{line} failed: {view.error.get('message')} — "
                    f"instance {view.id} is now in error; fix the cause and run 'handoff retry {view.id}'",
                    view.id,
                )
        return views

    # --- the machinery -------------------------------------------------------------------------------

    def _load_live(
        self, session: Session, router: Router, instance_id: int
    ) -> tuple[ProcessInstance, runtime.LoadedDefinition, BpmnWorkflow] | None:
        """The instance with its workflow, once per transaction; None if it cannot receive now."""
        loaded = router.live.get(instance_id)
        if loaded is None:
            instance = self._get_instance(session, instance_id)
            if instance is None:
                return None
            definition = self._instance_definition(session, instance)
            loaded = (instance, definition, self._workflow(definition, instance))
            router.live[instance_id] = loaded
        if loaded[0].status not in subs.RECEIVING:
            return None
        return loaded

    def _catch(
        self,
        workflow: BpmnWorkflow,
        definition: runtime.LoadedDefinition,
        task: Task,
        event: BpmnEvent,
        kind: str,
        record: dict[str, Any],
        change: _Change,
        *,
        outside: bool,
    ) -> bool:
        """Hand `event` to the workflow and note it in the change's history; False if nothing caught it."""
        try:
            with runtime.clock_at(change.now):
                caught = events.deliver(workflow, event)
        except Exception as exc:  # noqa: BLE001 - correlation expressions are user code
            if outside:
                where = (
                    f"instance {change.instance_id}"
                    if change.instance_id
                    else f"a new {definition.process_id}"
                )
                raise InvalidInput(
                    f"{kind} '{record.get(kind)}' cannot be delivered to {where}: "
                    f"{runtime.describe_failure(exc).message}"
                ) from exc
            change.failure = runtime.describe_failure(exc)  # the receiver's incident, not the sender's
            caught = True
        if caught:
            change.events.append(self._event(definition, task, f"{kind}_received", change, data=record))
        return caught

    def _deliver(
        self,
        session: Session,
        router: Router,
        target: int,
        kind: str,
        name: str,
        make_event: Callable[[Task, Any], BpmnEvent],
        record: dict[str, Any],
        actor: str | None,
        *,
        outside: bool,
    ) -> bool:
        """Hand a message or signal to instance `target` if it (still) waits for it; False otherwise.

        `make_event(task, event definition)` builds what its catching task receives; `record` is copied
        into the history of this delivery.
        """
        loaded = self._load_live(session, router, target)
        if loaded is None:
            return False
        caught = events.catching(loaded[2], kind, name)
        if caught is None:
            return False
        task, definition = caught
        return self._receive(
            session,
            router,
            loaded,
            task,
            make_event(task, definition),
            kind,
            dict(record),
            actor,
            outside=outside,
        )

    def _receive(
        self,
        session: Session,
        router: Router,
        loaded: tuple[ProcessInstance, runtime.LoadedDefinition, BpmnWorkflow],
        task: Task,
        event: BpmnEvent,
        kind: str,
        record: dict[str, Any],
        actor: str | None,
        *,
        outside: bool,
    ) -> bool:
        """Hand `event` to a running instance and run it on; False (nothing changed) if it does not catch it."""
        instance, definition, workflow = loaded
        change = self._change(actor)
        change.session, change.instance_id, change.router = session, instance.id, router
        if not self._catch(workflow, definition, task, event, kind, record, change, outside=outside):
            return False
        self._advance(session, definition, instance, workflow, change)
        # An instance born earlier in this transaction by a Core INSERT: the ORM does not track it.
        untracked = self._batch is None and instance not in session
        if untracked and not repo.update_instances(session, [instance]):
            raise Conflict(f"instance {instance.id} was changed by someone else just now; nothing was saved")
        router.live[instance.id] = (instance, definition, workflow)
        router.touched.add(instance.id)
        router.events.extend(change.events)
        return True

    def _start_by(
        self,
        session: Session,
        router: Router,
        definition: runtime.LoadedDefinition,
        kind: str,
        name: str,
        make_event: Any,
        *,
        business_key: str | None,
        record: dict[str, Any],
        actor: str | None,
        outside: bool,
    ) -> int:
        """A new instance of `definition` (its id), started by the message or signal at its start event."""
        change = self._change(actor)
        change.session, change.router = session, router

        def arrive(workflow: BpmnWorkflow, change: _Change, started: runtime.LoadedDefinition) -> None:
            with runtime.clock_at(change.now):
                events.arm_start_events(workflow)
            caught = events.catching(workflow, kind, name)
            if caught is None:  # the index says it has one: only a broken deployment gets here
                raise NotFound(f"process '{started.process_id}' has no start event for {kind} '{name}'")
            task, event_definition = caught
            self._catch(
                workflow,
                started,
                task,
                make_event(task, event_definition),
                kind,
                record,
                change,
                outside=outside,
            )

        view = self._start_in(session, change, definition, {}, business_key, arrive=arrive)
        router.touched.add(view.id)
        router.events.extend(change.events)
        return view.id

    def _current(self, session: Session, router: Router, instance_id: int) -> InstanceView:
        """The instance as this transaction left it (the live object if it has one)."""
        loaded = router.live.get(instance_id)
        if loaded is not None:
            return self._view(session, loaded[0], loaded[1])
        instance = self._instance(session, instance_id)
        return self._view(session, instance, self._instance_definition(session, instance))

    def _add_event_starts(self, session: Session, definition_id: int) -> None:
        """Index the message and signal start events of a version just deployed (called by `deploy`)."""
        definition = self._definition(session, definition_id)
        subs.add_starts(session, definition_id, definition.process_id, events.start_events(definition.spec))

    def _write_waits(
        self, session: Session, instance: ProcessInstance, workflow: BpmnWorkflow, *, new: bool
    ) -> None:
        """Make the subscription table say what the instance waits for now (called by `_advance`)."""
        now = frozenset() if instance.status in _NOT_RECEIVING else events.waits(workflow)
        before: frozenset[Wait] | None = getattr(workflow, _WAITS, None)
        if before is None and new:
            before = frozenset()
        if before == now:
            setattr(workflow, _WAITS, now)  # a live workflow (batch) is not loaded again: remember here
            return
        subs.replace(
            session,
            instance.id,
            [(w.kind, w.name, w.correlation, w.element_id) for w in sorted(now)],
            self.clock(),
            had_rows=before is None or bool(before),
        )
        setattr(workflow, _WAITS, now)

    def _remember_waits(self, instance: ProcessInstance, workflow: BpmnWorkflow) -> None:
        """Note what a workflow just loaded waits for: the subscription table holds the same (it is written
        at every state change), so an operation that changes no wait writes no subscription."""
        waits = frozenset() if instance.status in _NOT_RECEIVING else events.waits(workflow)
        setattr(workflow, _WAITS, waits)

    def _route(
        self,
        session: Session,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        workflow: BpmnWorkflow,
        change: _Change,
        outbox: list[BpmnEvent],
    ) -> bool:
        """Route what the instance threw in this operation (called by `_advance`, after its writes).

        Inside a delivery the outer router takes it; otherwise this operation routes it now, in its own
        transaction. Returns True when the routing changed this instance again (a reply it caught).
        """
        router: Router | None = change.router
        if router is not None:
            router.live.setdefault(instance.id, (instance, definition, workflow))
            router.push(instance, definition, outbox)
            return False
        if not outbox:
            return False
        router = Router()
        router.live[instance.id] = (instance, definition, workflow)
        router.push(instance, definition, outbox)
        self._drain(session, router)
        change.events.extend(router.events)
        return instance.id in router.touched

    def _drain(self, session: Session, router: Router) -> None:
        while router.queue:
            sender, definition, event = router.queue.popleft()
            router.count += 1
            kind, name = events.describe(event)
            if router.count > MAX_DELIVERIES:
                raise ScriptFailed(
                    f"{kind} '{name}' of instance {sender.id} ({sender.process_id}): more than "
                    f"{MAX_DELIVERIES} messages and signals in one operation, a loop between processes; "
                    f"nothing was saved"
                )
            if kind == MESSAGE:
                to, started = self._route_message(session, router, sender, definition, event, name)
            else:
                to, started = self._route_signal(session, router, sender, event, name)
            data: dict[str, Any] = {kind: name, "to": to, "started": started}
            if kind == MESSAGE:
                data["key"] = events.correlation_of(event.event_definition, event.correlations)
            sent = LifecycleEvent(
                kind=f"{kind}_sent",
                instance_id=sender.id,
                process_id=definition.process_id,
                version=definition.version,
                at=self.clock(),
                data=data,
            )
            self._record(session, definition.model, [sent])
            router.events.append(sent)

    def _route_message(
        self,
        session: Session,
        router: Router,
        sender: ProcessInstance,
        definition: runtime.LoadedDefinition,
        event: BpmnEvent,
        name: str,
    ) -> tuple[list[int], list[int]]:
        """A message reaches ONE instance of another pool deployed with the sender's: a waiting instance
        that correlates (same business key first, then the oldest), else a new one at a message start."""
        partners = subs.deployed_with(session, sender.definition_id)
        if not partners:
            return [], []
        correlation = events.correlation_of(event.event_definition, event.correlations)
        found = subs.waiting(
            session, MESSAGE, name, correlation=correlation, by_correlation=True, processes=partners
        )
        ids = list(dict.fromkeys(w.instance_id for w in found))
        if sender.business_key is not None:
            same = {w.instance_id for w in found if w.business_key == sender.business_key}
            ids.sort(key=lambda i: i not in same)  # stable: the oldest first within each group
        record = {
            MESSAGE: name,
            "key": correlation,
            "data": runtime.snapshot(_plain(events.payload_data(event))),
            "from": {"instance": sender.id, "process": sender.process_id},
        }
        for target in ids:
            if target != sender.id and self._deliver(
                session,
                router,
                target,
                MESSAGE,
                name,
                lambda _task, _definition: events.copy(event),
                record,
                None,
                outside=False,
            ):
                return [target], []
        for _process, definition_id in subs.starts(session, MESSAGE, name, partners):
            started = self._start_by(
                session,
                router,
                self._definition(session, definition_id),
                MESSAGE,
                name,
                lambda _task, _definition: events.copy(event),
                business_key=sender.business_key,
                record=dict(record),
                actor=None,
                outside=False,
            )
            return [], [started]
        return [], []

    def _route_signal(
        self, session: Session, router: Router, sender: ProcessInstance, event: BpmnEvent, name: str
    ) -> tuple[list[int], list[int]]:
        """A signal reaches every other instance that waits for it, and starts the latest version of every
        process with a start event for it."""
        record = {
            SIGNAL: name,
            "data": runtime.snapshot(_plain(events.payload_data(event))),
            "from": {"instance": sender.id, "process": sender.process_id},
        }
        to: list[int] = []
        for target in dict.fromkeys(
            w.instance_id for w in subs.waiting(session, SIGNAL, name, exclude=sender.id)
        ):
            if self._deliver(
                session,
                router,
                target,
                SIGNAL,
                name,
                lambda _task, _definition: events.copy(event),
                record,
                None,
                outside=False,
            ):
                to.append(target)
        started: list[int] = []
        for _process, definition_id in subs.starts(session, SIGNAL, name):
            new_id = self._start_by(
                session,
                router,
                self._definition(session, definition_id),
                SIGNAL,
                name,
                lambda _task, _definition: events.copy(event),
                business_key=None,
                record=dict(record),
                actor=None,
                outside=False,
            )
            started.append(new_id)
        return to, started


def _ids(ids: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")


def _plain(payload: Any) -> dict[str, Any]:
    if isinstance(payload, dict):
        return payload
    return {} if payload is None else {"value": payload}

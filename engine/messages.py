"""Messages and signals from outside (docs/messages.md): `message` resumes the instances that wait for it or
starts one at a message start event, `signal` broadcasts; `waits_of` says what an instance waits for.
Routing between instances is the kernel's (engine/kernel/routing.py)."""

from __future__ import annotations

from typing import Any

from storage import subscriptions as subs

from . import forms, runtime
from .errors import InvalidInput, NotFound, ScriptFailed
from .kernel import rows
from .kernel.advance import advance, start
from .kernel.app import App
from .kernel.routing import Router, deliver, drain, start_by
from .kernel.units import Units
from .runtime import messaging
from .runtime.messaging import MESSAGE, SIGNAL
from .views import InstanceView


def message(
    app: App,
    units: Units,
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
    return _from_outside(app, units, MESSAGE, name, key, data, instance_id, every, actor)


def signal(
    app: App,
    units: Units,
    name: str,
    *,
    data: dict[str, Any] | None = None,
    instance_id: int | None = None,
    actor: str | None,
) -> list[InstanceView]:
    """Broadcast signal `name` from outside: every running or waiting instance that waits for it catches
    it, and the latest version of each process with a start event for it starts. With `instance_id`,
    only that instance catches it and nothing starts. Nothing at all: NotFound."""
    return _from_outside(app, units, SIGNAL, name, None, data, instance_id, True, actor)


def _from_outside(
    app: App,
    units: Units,
    kind: str,
    name: str,
    key: str | None,
    data: dict[str, Any] | None,
    instance_id: int | None,
    every: bool,
    actor: str | None,
) -> list[InstanceView]:
    app.ready()
    app.permissions.authorize(actor, "message")
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

    def make_event(task: runtime.Task, definition: Any) -> Any:
        return messaging.from_outside(task, definition, payload, key)

    reached: list[int] = []
    with units.operation() as work:
        router = Router(app, work, advance, start)
        if instance_id is not None:
            rows.instance(work, instance_id)  # NotFound for an unknown instance
        found = subs.waiting(work.session, kind, name, key=key, instance_id=instance_id)
        ids = list(dict.fromkeys(w.instance_id for w in found))
        if len(ids) > 1 and key is None and instance_id is None and not every:
            raise InvalidInput(
                f"{what} is awaited by {len(ids)} instances ({_ids(ids)}): name one with --key or "
                f"--instance, or deliver it to all of them with --all"
            )
        record_data = {kind: name, "key": key, "data": runtime.snapshot(payload), "from": None}
        for target in ids:
            if deliver(router, target, kind, name, make_event, record_data, actor, outside=True):
                reached.append(target)
        # A message goes to the instances that wait for it, else starts one; a signal does both.
        if instance_id is None and (kind == SIGNAL or not ids):
            for _process, definition_id in subs.starts(work.session, kind, name):
                definition = app.definitions.get(work.session, definition_id)
                reached.append(
                    start_by(
                        router,
                        definition,
                        kind,
                        name,
                        make_event,
                        business_key=key,
                        record_data=dict(record_data),
                        actor=actor,
                        outside=True,
                    )
                )
        if not reached:
            if instance_id is not None:
                raise NotFound(
                    f"instance {instance_id} does not wait for {what} (see 'handoff show {instance_id}')"
                )
            raise NotFound(
                f"no instance waits for {what} and no deployed process starts with it "
                f"(see 'handoff instances --status waiting')"
            )
        drain(router)
        views = [router.current(target) for target in reached]
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


def _ids(ids: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(i) for i in ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")

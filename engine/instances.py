"""Process instances: start one, show one with its timeline, list them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from storage import repository as repo

from . import payload, search
from .comments import comments_of
from .errors import InvalidInput
from .input_limits import whole
from .kernel import rows
from .kernel.advance import start as start_instance
from .kernel.app import App
from .kernel.definitions import not_deployed
from .kernel.failures import raise_failure
from .kernel.operation import Operation
from .kernel.units import Units
from .kernel.work import Work
from .views import InstanceSummary, InstanceView, TimelineEntry

INSTANCE_STATUSES = ("running", "waiting", "completed", "error", "terminated", "suspended")


def start(
    app: App,
    units: Units,
    process_id: str,
    *,
    data: dict[str, Any] | None = None,
    business_key: str | None = None,
    version: int | None = None,
    actor: str | None = None,
) -> InstanceView:
    """Start an instance and run it until it waits; a failing script leaves it in `error`."""
    app.ready()
    app.permissions.authorize(actor, "start")
    data = payload.check_payload(data or {}, f"the start of process {payload.show(process_id)}")
    payload.check_text(business_key, "the business key")
    if version is not None:
        whole(version, "version")
    with units.operation() as work:
        op = Operation(work, app.clock(), actor)
        ref = app.definitions.ref(work, process_id, version)
        if ref is None:
            raise not_deployed(process_id, version)
        definition = app.definitions.get(work.session, ref[0])
        view = start_instance(app, op, definition, data, business_key)
    raise_failure(op, view)
    return view


def show(app: App, instance_id: int, *, actor: str | None = None) -> InstanceView:
    """One instance: status, data and open tasks, and its timeline (who did what when) for those who may
    read history (the rule of `history`): for others the view has no timeline (`timeline_shown` False)."""
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.reader() as session:
        work = Work(session)
        instance = rows.instance(work, instance_id)
        definition = app.definitions.for_instance(session, instance)
        notes = comments_of(session, instance.id)
        sla, now = app.sla.get(session), app.clock()  # due times as `tasks` shows them
        if not app.permissions.may(actor, "history"):
            return replace(
                rows.instance_view(work, instance, definition, timeline=None, sla=sla, now=now),
                comments=notes,
            )
        timeline = tuple(
            TimelineEntry(
                id=e.id,
                at=e.at,
                kind=e.kind,
                element=e.element_id,
                name=e.element_name,
                type=e.element_type,
                lane=e.lane,
                actor=e.actor,
                task=e.task_id,
                data=e.data,
            )
            for e in repo.events_of(session, instance_id)
        )
        return replace(
            rows.instance_view(work, instance, definition, timeline=timeline, sla=sla, now=now),
            comments=notes,
        )


def list_instances(
    app: App,
    *,
    process_id: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    limit: int = 100,
    actor: str | None = None,
    variables: Sequence[str] = (),
) -> list[InstanceSummary]:
    """Instances, newest first, filtered by process, status, business key and data (`variables`:
    conditions such as `amount>1000`, `region=EU`, all of which must hold; engine/search.py)."""
    app.ready()
    app.permissions.authorize(actor, "read")
    whole(limit, "limit")
    if status is not None and status not in INSTANCE_STATUSES:
        raise InvalidInput(f"unknown status {status!r}; one of {', '.join(INSTANCE_STATUSES)}")
    conditions = search.parse_all(variables)
    with app.db.reader() as session:
        return [
            InstanceSummary(
                id=i.id,
                process=i.process_id,
                version=version,
                status=i.status,
                business_key=i.business_key,
                created_at=i.created_at,
                updated_at=i.updated_at,
                completed_at=i.completed_at,
                error=i.error,
                next_due_at=i.next_due_at,
                attempts=i.attempts or 0,
            )
            for i, version in repo.list_instances(
                session,
                process_id=process_id,
                status=status,
                business_key=business_key,
                limit=limit,
                conditions=conditions,
            )
        ]

"""Reading instances: show one (with its timeline), list them, what one waits for from outside. Reads
that need the rows, not the workflow runtime: `handoff show` and `instances` start without SpiffWorkflow
(engine/lazy_modules.py), and `show` and the waits read Core rows on a Connection (storage/reads.py),
without the ORM."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from storage import reads

from .comment_reads import comments_of
from .errors import InvalidInput
from .input_limits import is_id, whole
from .kernel import rows
from .lazy_modules import lazy_module
from .views import InstanceSummary, InstanceView, TimelineEntry, Wait

if TYPE_CHECKING:
    from sqlalchemy import Connection, Row

    from storage import repository as repo

    from . import search
    from .kernel.app import App
else:  # listing instances reads ORM rows and parses search conditions; `show` needs neither
    repo = lazy_module("storage.repository")
    search = lazy_module("engine.search")

INSTANCE_STATUSES = ("running", "waiting", "completed", "error", "terminated", "suspended")


def show(app: App, instance_id: int, *, actor: str | None = None) -> InstanceView:
    """One instance: status, data and open tasks, and its timeline (who did what when) for those who may
    read history (the rule of `history`): for others the view has no timeline (`timeline_shown` False)."""
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.connection() as conn:
        instance = instance_row(conn, instance_id)
        version = reads.definition_version(conn, instance.definition_id)
        notes = comments_of(conn, instance.id)
        tasks = reads.open_tasks_of(conn, instance.id)
        sla, now = app.sla.get(conn), app.clock()  # due times as `tasks` shows them
        if not app.permissions.may(actor, "history"):
            view = rows.instance_view(None, instance, version, timeline=None, tasks=tasks, sla=sla, now=now)
            return replace(view, comments=notes)
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
            for e in reads.events_of(conn, instance_id)
        )
        view = rows.instance_view(None, instance, version, timeline=timeline, tasks=tasks, sla=sla, now=now)
        return replace(view, comments=notes)


def instance_row(conn: Connection, instance_id: int) -> Row[Any]:
    """The instance's row, or NotFound (as engine/kernel/rows.py `instance` says it)."""
    found = reads.instance(conn, instance_id) if is_id(instance_id) else None
    if found is None:
        raise rows.missing_instance(instance_id)
    return found


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


def waits_of(app: App, instance_id: int, *, actor: str | None = None) -> list[Wait]:
    """What an instance waits for from outside (messages with their correlation keys, signals), as the
    subscription table has it; empty for an instance that waits for nothing or cannot receive."""
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.connection() as conn:
        instance = instance_row(conn, instance_id)
        if instance.status not in reads.RECEIVING:
            return []
        return [
            Wait(s.kind, s.name, s.correlation, s.element_id or "")
            for s in reads.subscriptions_of(conn, instance_id)
        ]

"""Recording and notifying (DESIGN §2): record hooks inside the transaction of each change, notify hooks
after its commit. The built-in recorders are hooks like any other (engine/hooks/recorders.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import repository as repo

from ..errors import HookError
from ..hooks import HookFailed, RecordContext, run_notify_hooks, run_record_hooks
from ..lifecycle import LifecycleEvent
from .sessions import translated

if TYPE_CHECKING:
    from bpmn import ProcessModel

    from .app import App
    from .work import Work


def record(app: App, work: Work, model: ProcessModel, events: list[LifecycleEvent]) -> None:
    """Run the record hooks on `events` in the work's transaction; a failing hook rolls the whole
    operation back (HookError names it). The events are then notified after the commit."""
    session = work.session
    context = RecordContext(
        session, model, events, sla_settings=lambda: app.sla.get(session), completions=work.memo.completed
    )
    try:
        run_record_hooks(app.hooks, events, context)
    except HookFailed as exc:
        raise HookError(str(exc)) from exc
    work.memo.remember(events)
    work.notify.extend(events)


def notify(app: App, events: list[LifecycleEvent]) -> None:
    """After the commit: the notify hooks; each failure is kept as a `hook_failed` event."""
    if not events:
        return
    failures = run_notify_hooks(app.hooks, events)
    if not failures:
        return
    first = events[0]
    with translated(app.db) as session:
        repo.add_events(
            session,
            [
                LifecycleEvent(
                    kind="hook_failed",
                    instance_id=first.instance_id,
                    process_id=first.process_id,
                    version=first.version,
                    at=app.clock(),
                    data={"hook": hook, "error": error, "events": [e.id for e in events]},
                ).row()
                for hook, error in failures
            ],
        )

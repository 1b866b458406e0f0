"""Lifecycle operations on many instances at once (issue 16 item 4): retry, suspend, resume and
terminate every instance a filter selects, each in a transaction of its own.

The actor's right is checked once, before anything runs. A dry run lists the instances selected and
whether the operation applies to each (its status allows it). A real run applies the single-instance
use case to each (engine/incidents.py), so each change is exactly what `handoff retry 7` would make;
one instance's failure (a script failing again, a conflict with someone else's change) is reported for
it and the others go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from storage import instance_sets
from storage import repository as repo

from . import incidents
from .errors import HandoffError, InvalidInput
from .kernel.app import App
from .kernel.definitions import not_deployed
from .kernel.units import Units
from .views.repair import BatchItem, BatchReport

# The statuses from which each operation applies, and the right it needs.
APPLIES: dict[str, tuple[tuple[str, ...], str]] = {
    "retry": (("error",), "retry"),
    "suspend": (incidents.SUSPENDABLE, "suspend"),
    "resume": (("suspended",), "suspend"),
    "terminate": (incidents.TERMINABLE, "terminate"),
}


def run_batch(
    app: App,
    units: Units,
    operation: str,
    *,
    process_id: str | None = None,
    versions: Sequence[int] = (),
    statuses: Sequence[str] = (),
    business_key: str | None = None,
    instance_ids: Sequence[int] = (),
    dry_run: bool = False,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    actor: str | None,
    progress: Callable[[BatchItem, int, int], None] | None = None,
) -> BatchReport:
    """Apply `operation` to every instance the filters select (all filters given must match; at least
    one is needed, so that no slip of the keyboard terminates everything)."""
    app.ready()
    if operation not in APPLIES:
        raise InvalidInput(f"unknown batch operation '{operation}'")
    applies, right = APPLIES[operation]
    app.permissions.authorize(actor, right)
    if not (process_id or versions or statuses or business_key or instance_ids):
        raise InvalidInput(
            f"say which instances to {operation}: give --process, --version, --status, --key or instance ids"
        )
    if versions and not process_id:
        raise InvalidInput("--version needs --process: versions are numbered per process")
    with app.db.reader() as session:
        if process_id and repo.latest_definition_ref(session, process_id, None) is None:
            raise not_deployed(process_id, None)
        selected = instance_sets.select_refs(
            session,
            process_id=process_id,
            versions=list(versions) or None,
            statuses=list(statuses) or None,
            business_key=business_key,
            ids=list(instance_ids) or None,
        )
    items: list[BatchItem] = []
    for done, ref in enumerate(selected, 1):
        item = _one(
            app, units, operation, ref, applies, dry_run=dry_run, reason=reason, data=data, actor=actor
        )
        items.append(item)
        if progress is not None:
            progress(item, done, len(selected))
    return BatchReport(operation, dry_run, tuple(items))


def _one(
    app: App,
    units: Units,
    operation: str,
    ref: instance_sets.InstanceRef,
    applies: tuple[str, ...],
    *,
    dry_run: bool,
    reason: str | None,
    data: dict[str, Any] | None,
    actor: str | None,
) -> BatchItem:
    if ref.status not in applies:
        why = f"it is {ref.status}: {operation} applies to {' or '.join(applies)} instances"
        return BatchItem(ref.id, ref.version, ref.status, "skipped", why)
    if dry_run:
        return BatchItem(ref.id, ref.version, ref.status, "would", None)
    try:
        if operation == "retry":
            view = incidents.retry(app, units, ref.id, data=data, actor=actor)
        elif operation == "suspend":
            view = incidents.suspend(app, units, ref.id, reason=reason, actor=actor)
        elif operation == "resume":
            view = incidents.resume(app, units, ref.id, actor=actor)
        else:
            view = incidents.terminate(app, units, ref.id, reason=reason, actor=actor)
    except HandoffError as exc:
        return BatchItem(ref.id, ref.version, ref.status, "failed", str(exc))
    except Exception as exc:  # noqa: BLE001 - one instance's surprise must not stop the others
        return BatchItem(ref.id, ref.version, ref.status, "failed", f"{type(exc).__name__}: {exc}")
    return BatchItem(ref.id, ref.version, view.status, "done", None)

"""Moving running instances to another version of their process (issue 16; Camunda's migration plans).

`migrate` plans each selected instance with SpiffWorkflow's diff (engine/runtime/migration.py): what
the move changes for it, or why it cannot move (its open work is at an element the version does not
have). A dry run stops there. A real run moves each movable instance in its own transaction: the
workflow points at the new version, its open task rows take the new version's names, lanes and forms
(or are cancelled and made anew where the work moved), what it waits for is written again, and an
`instance_migrated` event records the move. One instance's failure (a conflict with a concurrent
change, a script failing when its work is predicted again) is reported for it and changes nothing of
it; the others go on. History stays: the events of the old version stay as they were written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from uuid import UUID

from storage import instance_sets
from storage import repository as repo
from storage.models import HumanTask, ProcessInstance

from . import runtime
from .errors import Conflict, HandoffError, NotFound
from .kernel import rows, waits
from .kernel.advance import advance
from .kernel.app import App
from .kernel.definitions import not_deployed
from .kernel.events import instance_event, row_event
from .kernel.operation import Operation
from .kernel.recording import record
from .kernel.units import Units
from .kernel.work import Work
from .runtime.migration import MoveFailed, MovePlan, move, plan_move
from .views.repair import InstanceMove, MigrationReport

MOVABLE_STATUSES = ("running", "waiting", "error", "suspended")
# Moved without running the engine: an instance in error keeps its incident (retry it on the new
# version), a suspended one stays on hold.
_HELD = ("error", "suspended")


def migrate(
    app: App,
    units: Units,
    process_id: str,
    *,
    to_version: int,
    from_version: int | None = None,
    instance_ids: Sequence[int] = (),
    statuses: Sequence[str] = (),
    business_key: str | None = None,
    dry_run: bool = False,
    actor: str | None,
    progress: Callable[[InstanceMove, int, int], None] | None = None,
) -> MigrationReport:
    """Plan (and unless `dry_run`, make) the move of the process's unfinished instances to `to_version`:
    all of them not on it, or those on `from_version`, or the instances named. `progress(move, done,
    total)` is told of each instance as it is done."""
    app.ready()
    app.permissions.authorize(actor, "migrate")
    with app.db.reader() as session:
        target_ref = repo.latest_definition_ref(session, process_id, to_version)
        if target_ref is None:
            raise not_deployed(process_id, to_version)
        source_ids = None
        if from_version is not None:
            source_ref = repo.latest_definition_ref(session, process_id, from_version)
            if source_ref is None:
                raise not_deployed(process_id, from_version)
            source_ids = [source_ref[0]]
        selected = instance_sets.select_refs(
            session,
            process_id=process_id,
            definition_ids=source_ids,
            statuses=[s for s in MOVABLE_STATUSES if not statuses or s in statuses],
            business_key=business_key,
            ids=list(instance_ids) or None,
        )
        if instance_ids:
            found = {row.id for row in selected}
            missing = [i for i in instance_ids if i not in found]
            if missing:
                raise NotFound(
                    f"instance {missing[0]} is not an unfinished instance of process '{process_id}'"
                    " (see 'handoff instances')"
                )
        target = app.definitions.get(session, target_ref[0])
    moves: list[InstanceMove] = []
    if not instance_ids:
        selected = [row for row in selected if row.definition_id != target.definition_id]
    for done, row in enumerate(selected, 1):
        if row.definition_id == target.definition_id:
            result = _skipped(row, target, f"it is on version {target.version} already")
        else:
            result = _one(app, units, row.id, target, dry_run=dry_run, actor=actor)
        moves.append(result)
        if progress is not None:
            progress(result, done, len(selected))
    return MigrationReport(process_id, target.version, dry_run, tuple(moves))


def _skipped(row: instance_sets.InstanceRef, target: runtime.LoadedDefinition, reason: str) -> InstanceMove:
    return InstanceMove(row.id, target.version, row.status, False, reason=reason)


def _one(
    app: App,
    units: Units,
    instance_id: int,
    target: runtime.LoadedDefinition,
    *,
    dry_run: bool,
    actor: str | None,
) -> InstanceMove:
    """Plan one instance's move, and make it unless `dry_run`, in a transaction of its own."""
    from_version = 0
    status = "?"
    try:
        with units.operation() as work:
            instance = rows.instance(work, instance_id)
            status = instance.status
            source = app.definitions.for_instance(work.session, instance)
            from_version = source.version
            workflow = rows.workflow(work, source, instance)
            plan = plan_move(workflow, target)
            if not plan.movable or dry_run:  # nothing was changed: the commit writes nothing
                return _result(instance_id, from_version, status, plan, moved=False)
            _move(app, work, instance, source, target, workflow, plan, actor)
            return _result(instance_id, from_version, instance.status, plan, moved=True)
    except HandoffError as exc:
        return InstanceMove(instance_id, from_version, status, False, error=str(exc))
    except Exception as exc:  # noqa: BLE001 - one instance's surprise must not stop the others
        return InstanceMove(instance_id, from_version, status, False, error=f"{type(exc).__name__}: {exc}")


def _result(instance_id: int, from_version: int, status: str, plan: MovePlan, *, moved: bool) -> InstanceMove:
    reason = None
    if not plan.movable:
        reason = f"its open work is at {', '.join(plan.blocked)}, which the new version does not have"
    return InstanceMove(
        instance_id,
        from_version,
        status,
        plan.movable,
        at=plan.at,
        added=plan.added,
        removed=plan.removed,
        changed=plan.changed,
        moved_tasks=plan.moved,
        reason=reason,
        migrated=moved,
    )


def _move(
    app: App,
    work: Work,
    instance: ProcessInstance,
    source: runtime.LoadedDefinition,
    target: runtime.LoadedDefinition,
    workflow: runtime.Workflow,
    plan: MovePlan,
    actor: str | None,
) -> None:
    op = Operation(work, app.clock(), actor, instance_id=instance.id)
    if instance.status == "completed" or instance.status == "terminated":
        raise Conflict(f"instance {instance.id} is {instance.status}: it has ended")
    target, called = app.definitions.resolve_calls(work.session, target)
    try:
        with runtime.clock_at(op.now):
            move(workflow, target)
    except MoveFailed as exc:
        raise Conflict(f"instance {instance.id} cannot be moved: {exc}") from exc
    instance.definition_id = target.definition_id
    instance.called = called
    data = {
        "from_version": source.version,
        "to_version": target.version,
        "added": list(plan.added),
        "removed": list(plan.removed),
        "changed": list(plan.changed),
        "moved": [list(pair) for pair in plan.moved],
    }
    op.events.append(instance_event(target, "instance_migrated", op, data=data))
    open_rows = work.open_rows(instance.id)
    _relabel(work, target, workflow, open_rows, op)
    if instance.status in _HELD:
        _write_held(app, op, target, instance, workflow)
    else:
        advance(app, op, target, instance, workflow)


def _relabel(
    work: Work,
    target: runtime.LoadedDefinition,
    workflow: runtime.Workflow,
    open_rows: dict[str, HumanTask],
    op: Operation,
) -> None:
    """Open task rows whose task is still open take the new version's name, lane and form; a row whose
    task is gone is cancelled (a held instance's rows are otherwise left to `advance`)."""
    for spiff_id, row in open_rows.items():
        task = workflow.tasks.get(UUID(spiff_id))
        if task is None:
            repo.set_task(work.session, row, state="cancelled", completed_at=op.now)
            op.events.append(row_event(row, "task_cancelled", target, op.now))
            continue
        element = runtime.element_of(target.model, task)
        row.element_id, row.name, row.type, row.lane = element.id, element.name, element.type, element.lane
        row.form = target.form_json(element)


def _write_held(
    app: App,
    op: Operation,
    target: runtime.LoadedDefinition,
    instance: ProcessInstance,
    workflow: runtime.Workflow,
) -> None:
    """A held instance (in error, or suspended) is moved without running: state, row, waits, history."""
    instance.state = runtime.dump_workflow(target, workflow)
    instance.updated_at = op.now
    for event in op.events:
        event.instance_id = instance.id
    op.work.changed(instance)
    record(app, op.work, target.model, op.events)
    waits.write(op.work.session, instance, workflow, app.clock(), new=False)

"""Process definitions: validate BPMN/DMN files (no database needed), deploy them as versions, list them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

import bpmn
from storage import leases
from storage import repository as repo
from storage import subscriptions as subs
from storage.models import TimerSchedule

from . import handlers, input_limits, runtime
from .errors import DefinitionInvalid, NotFound
from .kernel.app import App
from .kernel.definitions import not_deployed
from .kernel.units import Units
from .runtime import messaging, sandbox
from .views import Deployment, ProcessSummary


def validate(paths: Sequence[str | Path], *, trusted_scripts: bool = False) -> bpmn.ValidationReport:
    """Parse and lint files without storing anything: every problem as `file:line: message`, in line order.
    Every script and expression is compiled as it will run: in the sandbox, or as full Python for a
    version deployed with trusted scripts. A file that does not exist is NotFound (nothing to validate),
    not a problem of the BPMN."""
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise NotFound(f"no such file: {', '.join(missing)}")

    def check(source: str, mode: str) -> tuple[int, str] | None:
        return sandbox.check_compiles(source, mode, trusted=trusted_scripts)

    return bpmn.validate_files(paths, max_bytes=input_limits.upload_limit(), check_code=check)


def deploy(
    app: App, units: Units, paths: Sequence[str | Path], *, actor: str | None, trusted_scripts: bool = False
) -> list[Deployment]:
    """Validate, then store each process as a new version unless identical content is deployed.

    `trusted_scripts` (admins only) lets the versions' scripts run as full Python instead of in the
    sandbox (docs/security.md). The setting is part of a version: identical content deployed with
    the other setting makes a new version, so trust is never granted or kept silently.
    """
    app.ready()
    app.permissions.authorize(actor, "deploy_trusted" if trusted_scripts else "deploy")
    report = validate(paths, trusted_scripts=trusted_scripts)
    if not report.ok:
        first = report.errors[0]
        more = (
            f" (and {len(report.errors) - 1} more: see 'handoff validate')" if len(report.errors) > 1 else ""
        )
        raise DefinitionInvalid(f"{first}{more}", report.problems)
    warnings = tuple(str(w) for w in report.warnings) + _handler_warnings(app, report)
    now = app.clock()
    results: list[Deployment] = []
    with units.operation() as work:
        work.memo.refs.clear()  # a batch's later starts must see the versions deployed now
        for parsed in report.processes:  # this process's next starts look the latest up again
            app.definitions.forget_latest(parsed.model.process_id)
        session = work.session
        app.definitions.check_calls(session, report.processes)
        for parsed in report.processes:
            model = parsed.model
            latest = repo.latest_definition(session, model.process_id)
            unchanged = (
                latest is not None
                and latest.checksum == parsed.checksum
                and bool(latest.trusted_scripts) == trusted_scripts
            )
            version = (
                latest.version if latest is not None and unchanged else (latest.version + 1 if latest else 1)
            )
            if not unchanged:
                stored = repo.add_definition(
                    session,
                    process_id=model.process_id,
                    version=version,
                    name=model.name,
                    dialect=model.dialect,
                    checksum=parsed.checksum,
                    spec=json.dumps(parsed.spec, separators=(",", ":")),
                    model=model.to_json(),
                    deployed_at=now,
                    deployed_by=actor,
                    files=[(f.name, f.kind, f.checksum, f.content) for f in parsed.files],
                    trusted_scripts=trusted_scripts,
                )
                _schedule_timer_starts(session, model.process_id, stored.id, parsed.spec, now)
                definition = app.definitions.get(session, stored.id)
                subs.add_starts(session, stored.id, model.process_id, messaging.start_events(definition.spec))
            results.append(
                Deployment(
                    model.process_id,
                    version,
                    not unchanged,
                    model.name,
                    model.lanes,
                    warnings,
                    trusted_scripts,
                )
            )
    return results


def processes(app: App, *, actor: str | None = None) -> list[ProcessSummary]:
    """Deployed processes: the latest version of each, its lanes, its instances by status."""
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.reader() as session:
        return [
            ProcessSummary(
                process=row["process"],
                name=row["name"],
                version=row["version"],
                lanes=tuple(row["lanes"]),
                instances=row["instances"],
                deployed_at=row["deployed_at"],
                deployed_by=row["deployed_by"],
                trusted_scripts=row["trusted_scripts"],
            )
            for row in repo.definitions_summary(session)
        ]


def process_model(app: App, process_id: str, version: int | None = None) -> bpmn.ProcessModel:
    """What Handoff knows of a deployed process (lanes, elements, properties, forms)."""
    app.ready()
    with app.db.reader() as session:
        ref = repo.latest_definition_ref(session, process_id, version)
        if ref is None:
            raise not_deployed(process_id, version)
        return app.definitions.get(session, ref[0]).model


def element_properties(app: App, process_id: str) -> dict[str, dict[str, str]]:
    """Extension properties by element id: the process's latest version first, then those of every other
    deployed process (the processes its call activities may call)."""
    app.ready()
    out: dict[str, dict[str, str]] = {}
    with app.db.reader() as session:
        others = [p["process"] for p in repo.definitions_summary(session) if p["process"] != process_id]
        for pid in [process_id, *others]:
            ref = repo.latest_definition_ref(session, pid, None)
            if ref is None:
                continue
            for eid, element in app.definitions.get(session, ref[0]).model.elements.items():
                out.setdefault(eid, dict(element.properties))
    return out


def _handler_warnings(app: App, report: bpmn.ValidationReport) -> tuple[str, ...]:
    """Service tasks whose handler is not installed here, as `file:line: warning: ...`: said at deploy,
    not refused, since the workers that run the process may have it (docs/services.md)."""
    found = []
    for parsed in report.processes:
        file_name = next((f.name for f in parsed.files if f.kind == "bpmn"), parsed.model.process_id)
        for element in parsed.model.elements.values():
            binding = element.service
            if binding is None or binding.handler in app.handlers:
                continue
            then = (
                "it will fail as an incident until one is"
                if binding.strict
                else "it will wait as open work for an outside worker"
            )
            message = (
                f"service task {element.label} ({element.id}): no handler '{binding.handler}' is "
                f"installed here; {then} (entry-point group {handlers.ENTRY_POINT_GROUP})"
            )
            found.append(str(bpmn.Problem(file_name, element.line, message, "warning")))
    return tuple(found)


def _schedule_timer_starts(
    session: Session, process_id: str, definition_id: int, spec: dict[str, Any], now: datetime
) -> None:
    """Point the process's timer start schedules at its newly deployed version.

    An unchanged timer keeps its schedule (a redeploy does not restart a cycle); a new or changed one
    is counted from now; the schedule of a timer the new version no longer has is dropped.
    """
    try:
        starts = runtime.timer_starts(spec)
    except ValueError as exc:
        raise DefinitionInvalid(f"process '{process_id}': {exc}") from None
    existing = leases.schedules_of(session, process_id)
    for start in starts:
        row = existing.pop(start.element_id, None)
        expression = f"{start.kind}:{start.expression}"
        if row is None:
            row = TimerSchedule(process_id=process_id, element_id=start.element_id, fired=0)
            session.add(row)
        if row.expression != expression:
            row.expression = expression
            row.next_due_at = runtime.first_due(start.kind, start.expression, now)
            row.fired = 0
        row.definition_id = definition_id
    for row in existing.values():
        session.delete(row)

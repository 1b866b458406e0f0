"""Retiring finished instances past their time to live (issue 16 item 5; Camunda's history time to live).

`cleanup` selects the completed and terminated instances that ended before their version's cutoff:
now minus `older_than` if given, else minus the process's `camunda:historyTimeToLive` (a version
without one is kept). It can first write the XES event log of exactly those instances (the export of
docs/export.md), then deletes them with every row recorded about them (tasks, events, handoffs,
crossings, delays, subscriptions), a bounded batch per transaction, so memory and lock time stay bounded
however many there are and an interrupted run leaves whole instances, deleted or kept. What it deletes
is gone from reports and exports: the report afterwards is the report of the instances kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import bpmn.retention
from storage import repository as repo
from storage import retention

from .errors import InvalidInput
from .export import export_events
from .files import atomic_file
from .kernel.app import App
from .kernel.definitions import not_deployed

BATCH = 500


@dataclass(frozen=True)
class CleanupReport:
    dry_run: bool
    cutoffs: dict[str, str]  # "process vN" -> ISO time before which its finished instances go
    counts: dict[str, int] = field(default_factory=dict)  # table -> rows deleted (or to delete)
    exported: int | None = None  # events written to the export file
    batches: int = 0

    @property
    def instances(self) -> int:
        return self.counts.get("process_instance", 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "cutoffs": self.cutoffs,
            "instances": self.instances,
            "rows": self.counts,
            "exported_events": self.exported,
            "batches": self.batches,
        }


def cleanup(
    app: App,
    *,
    older_than: str | timedelta | None = None,
    process_id: str | None = None,
    dry_run: bool = False,
    export_to: str | Path | None = None,
    actor: str | None,
    batch: int = BATCH,
    progress: Callable[[int, int], None] | None = None,
) -> CleanupReport:
    """Delete (or with `dry_run`, count) the finished instances past their time to live."""
    app.ready()
    app.permissions.authorize(actor, "cleanup")
    if isinstance(older_than, str):
        parsed = bpmn.retention.parse_time_to_live(older_than)
        if parsed is None:
            raise InvalidInput(
                f"--older-than {older_than!r} is not a duration: write e.g. P180D (or 180, days)"
            )
        older_than = parsed
    if older_than is not None and older_than <= timedelta(0):
        raise InvalidInput("--older-than must be a positive duration, e.g. P180D")
    now = app.clock()
    with app.db.reader() as session:
        versions = retention.definitions(session, process_id)
        if process_id is not None and not versions:
            raise not_deployed(process_id, None)
        cutoffs: dict[int, datetime] = {}
        shown: dict[str, str] = {}
        for definition_id, pid, version in versions:
            ttl = older_than or _time_to_live(session, definition_id, pid)
            if ttl is None:
                continue
            cutoffs[definition_id] = now - ttl
            shown[f"{pid} v{version}"] = cutoffs[definition_id].isoformat()
        ids = retention.retirable(cutoffs)
        counts = retention.count(session, ids)
    exported = None
    if export_to is not None and counts["process_instance"]:
        with atomic_file(export_to, binary=True) as out:
            exported = export_events(app.db, out, "xes", instances=ids)
    if dry_run:
        return CleanupReport(True, shown, counts, exported)
    total, done, batches = counts["process_instance"], 0, 0
    deleted: dict[str, int] = dict.fromkeys(counts, 0)
    while True:
        with app.db.unit_of_work() as session:
            chosen, rows = retention.delete_batch(session, ids, batch)
        if not chosen:
            break
        batches += 1
        done += len(chosen)
        for table, n in rows.items():
            deleted[table] = deleted.get(table, 0) + n
        if progress is not None:
            progress(done, max(total, done))
    return CleanupReport(False, shown, deleted, exported, batches)


def _time_to_live(session: Any, definition_id: int, process_id: str) -> timedelta | None:
    files = [(f.name, f.content) for f in repo.definition_files(session, definition_id) if f.kind == "bpmn"]
    return bpmn.retention.history_time_to_live(files, process_id)

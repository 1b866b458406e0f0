"""The CPO report (text, JSON or one HTML page) and the event log for process-mining tools."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import IO, Any

from bpmn.diagram import Diagram, diagram_for_process
from bpmn.xml import XmlError
from storage import repository as repo

from .export import export_events
from .kernel.app import App
from .report import Report, build_report
from .report_html import render_html


def report(
    app: App,
    *,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
) -> Report:
    """The CPO report for instances of `process_id` (or all) started in [since, until); docs/report.md."""
    app.ready()
    app.permissions.authorize(actor, "report")
    with app.db.reader() as session:
        return build_report(session, process_id=process_id, since=since, until=until)


def report_html(
    app: App,
    *,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    actor: str | None = None,
) -> str:
    """The CPO report as one self-contained HTML page (docs/report.md "HTML"): the report, plus the
    BPMNDI of the latest deployed version of each process in it (or of `process_id`)."""
    app.ready()
    app.permissions.authorize(actor, "report")
    with app.db.reader() as session:
        found = build_report(session, process_id=process_id, since=since, until=until)
        wanted = {p["process"] for p in found.processes} | ({process_id} if process_id else set())
        diagrams: dict[str, Diagram | None] = {}
        for pid in sorted(wanted):
            definition = repo.latest_definition(session, pid)
            if definition is None:
                continue
            files = [(f.name, f.content) for f in repo.definition_files(session, definition.id)]
            try:
                diagrams[pid] = diagram_for_process(files, pid)
            except XmlError:  # validated at deploy; never let a layout stop the report
                diagrams[pid] = None
    return render_html(found, diagrams)


def export(
    app: App,
    out: IO[bytes] | IO[str],
    fmt: str,
    *,
    process_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    schedule: bool = False,
    actor: str | None = None,
    progress: Callable[[int, int], Any] | None = None,
) -> int:
    """The activity events as an XES or CSV event log, streamed to `out`; returns how many were written.

    See docs/export.md. Filters: process_id, since <= event time < until; schedule adds task_ready.
    `progress(done, total)` is told how far it got, now and then.
    """
    app.ready()
    app.permissions.authorize(actor, "export")
    return export_events(
        app.db,
        out,
        fmt,
        process_id=process_id,
        since=since,
        until=until,
        schedule=schedule,
        progress=progress,
    )

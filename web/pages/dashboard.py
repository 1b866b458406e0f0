"""`/dashboard` (CPO staff): the report live, with process and period filters, where every figure links to
what is behind it; open work per lane now with its ageing; exports. The drill-downs:
`/dashboard/tasks` (a lane's waiting tasks), `/dashboard/handoffs`, `/dashboard/crossings`,
`/dashboard/delays` (the records behind a cell or a row)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from engine import diagrams as diagram_reads
from engine.report_html import render_report_body
from engine.worklists import AGE_BUCKETS, authorize, lane_ageing, open_work

from .common import PageUser, Viewer, app_of, parse_day, query_link, render

router = APIRouter(include_in_schema=False)
LIMIT = 1000


class Filters:
    """The dashboard's filters, carried into every link it makes."""

    def __init__(self, process: str | None, since: str | None, until: str | None) -> None:
        self.process = process or None
        self.since_text = since if parse_day(since) else None
        self.until_text = until if parse_day(until) else None
        self.since: datetime | None = parse_day(since)
        self.until: datetime | None = parse_day(until, end=True)

    def params(self) -> dict[str, Any]:
        return {"process": self.process, "since": self.since_text, "until": self.until_text}


LINKS = {
    "lane_tasks": "/dashboard/tasks",
    "handoffs": "/dashboard/handoffs",
    "crossings": "/dashboard/crossings",
    "delays": "/dashboard/delays",
}


def linker(filters: Filters) -> Callable[..., str]:
    """`link(kind, **params) -> href` for the report's renderer (docs/report.md's link kinds): every
    figure to what is behind it, within the dashboard's filters. A lane of None (work outside any lane)
    is asked for with an empty value."""

    def link(kind: str, **params: Any) -> str:
        if kind == "instance":
            return f"/instances/{int(params['id'] if 'id' in params else params['instance'])}"
        if kind not in LINKS:
            raise ValueError(f"unknown link kind {kind!r}")
        query = {k: v for k, v in filters.params().items() if v}
        if kind == "lane_tasks":  # open work now: the period does not apply
            query.pop("since", None)
            query.pop("until", None)
        query.update({k: "" if v is None else str(v) for k, v in params.items()})
        return LINKS[kind] + (f"?{urlencode(query)}" if query else "")

    return link


def _require_report(request: Request, viewer: Viewer) -> None:
    authorize(app_of(request).db, viewer.name, "report")


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(
    request: Request,
    viewer: PageUser,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    app = app_of(request)
    filters = Filters(process, since, until)
    report = app.report(
        process_id=filters.process, since=filters.since, until=filters.until, actor=viewer.name
    )
    wanted = {p["process"] for p in report.processes} | ({filters.process} if filters.process else set())
    diagrams = {}
    for pid in sorted(wanted):
        try:
            diagrams[pid] = diagram_reads.process_diagram(app.db, pid)
        except Exception:  # noqa: BLE001 - a process without a layout is drawn as its tables only
            diagrams[pid] = None
    link = linker(filters)
    now = app.clock()
    work = open_work(app.db, process_id=filters.process, limit=20_000)
    ageing = lane_ageing(work, now)
    processes = [p.process for p in app.processes(actor=viewer.name)]
    exports = {fmt: query_link("/api/export", format=fmt, **filters.params()) for fmt in ("xes", "csv")}
    return render(
        request,
        "dashboard.html",
        viewer,
        body=Markup(render_report_body(report, diagrams, link)),  # noqa: S704 - the renderer escapes
        filters=filters,
        processes=processes,
        ageing=ageing,
        buckets=[label for label, _ in AGE_BUCKETS],
        most=max((max(a.buckets) for a in ageing), default=0),
        link=link,
        exports=exports,
        report_json=query_link("/api/report", **filters.params()),
    )


@router.get("/dashboard/tasks", response_class=HTMLResponse)
def lane_tasks(
    request: Request, viewer: PageUser, lane: str | None = None, process: str | None = None
) -> Response:
    _require_report(request, viewer)
    app = app_of(request)
    items = open_work(app.db, lane=lane, process_id=process or None, limit=LIMIT)
    now = app.clock()
    return render(
        request,
        "lane_tasks.html",
        viewer,
        items=items,
        lane=lane,
        process=process or "",
        limit=LIMIT,
        waited=sum(i.waiting_seconds(now) for i in items),
    )


def _records_page(request: Request, viewer: Viewer, kind: str, **params: Any) -> Response:
    app = app_of(request)
    filters = Filters(params.pop("process"), params.pop("since"), params.pop("until"))
    lanes = [v for k, v in params.items() if k.endswith("lane") and v]
    call: Callable[..., Any] = {
        "handoffs": app.handoffs,
        "crossings": app.crossings,
        "delays": app.delays,
    }[kind]
    records = call(
        process_id=filters.process,
        since=filters.since,
        until=filters.until,
        lanes=lanes[:1],
        limit=LIMIT,
        actor=viewer.name,
    )
    wanted = {k: v for k, v in params.items() if v is not None}

    def keep(record: Any) -> bool:
        for key, value in wanted.items():
            have = getattr(record, key, None)
            if (have or "") != value:
                return False
        return True

    records = [r for r in records if keep(r)]
    return render(
        request,
        "records.html",
        viewer,
        kind=kind,
        records=records,
        wanted=wanted,
        filters=filters,
        limit=LIMIT,
    )


@router.get("/dashboard/handoffs", response_class=HTMLResponse)
def handoffs(
    request: Request,
    viewer: PageUser,
    from_lane: str | None = None,
    to_lane: str | None = None,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    return _records_page(
        request,
        viewer,
        "handoffs",
        from_lane=from_lane,
        to_lane=to_lane,
        process=process,
        since=since,
        until=until,
    )


@router.get("/dashboard/crossings", response_class=HTMLResponse)
def crossings(
    request: Request,
    viewer: PageUser,
    from_lane: str | None = None,
    to_lane: str | None = None,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    return _records_page(
        request,
        viewer,
        "crossings",
        from_lane=from_lane,
        to_lane=to_lane,
        process=process,
        since=since,
        until=until,
    )


@router.get("/dashboard/delays", response_class=HTMLResponse)
def delays(
    request: Request,
    viewer: PageUser,
    lane: str | None = None,
    element: str | None = None,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Response:
    return _records_page(
        request, viewer, "delays", lane=lane, element=element, process=process, since=since, until=until
    )

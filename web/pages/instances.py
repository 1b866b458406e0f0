"""`/instances` (a list with filters) and `/instances/{id}`: the diagram with the path taken and where it
waits now, the timeline with handoffs, crossings and delays, the open tasks, and for admins the incident
with retry (with corrected data), suspend, resume and terminate."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from engine import INSTANCE_STATUSES, Forbidden, InvalidInput, ScriptFailed
from engine import diagrams as diagram_reads

from .common import PageUser, Viewer, app_of, back, render
from .drawing import instance_svg

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 100


@router.get("/instances", response_class=HTMLResponse)
def instance_list(
    request: Request,
    viewer: PageUser,
    process: str | None = None,
    status: str | None = None,
    key: str | None = None,
    var: Annotated[list[str] | None, Query()] = None,
) -> Response:
    app = app_of(request)
    status = status if status in INSTANCE_STATUSES or status == "incident" else None
    conditions = [v.strip() for v in var or () if v.strip()]
    found = app.instances(
        process_id=process or None,
        status="error" if status == "incident" else status,
        business_key=key or None,
        limit=PAGE_SIZE,
        variables=conditions,
        actor=viewer.name,
    )
    if status == "incident":
        found = [i for i in found if i.incident]
    processes = [p.process for p in app.processes(actor=viewer.name)]
    return render(
        request,
        "instances.html",
        viewer,
        instances=found,
        processes=processes,
        statuses=(*INSTANCE_STATUSES, "incident"),
        process=process or "",
        status_filter=status or "",
        key=key or "",
        conditions=(conditions + ["", ""])[: max(2, len(conditions))],
        page_size=PAGE_SIZE,
    )


def _records(call: Any, **filters: Any) -> list[Any] | None:
    """Hook records if the viewer's role may read them (analysts, admins), else None (not shown)."""
    try:
        return list(call(**filters))
    except Forbidden:
        return None


def _instance_page(
    request: Request,
    viewer: Viewer,
    instance_id: int,
    *,
    retry_data: str = "",
    problem: str | None = None,
    status: int = 200,
) -> Response:
    app = app_of(request)
    instance = app.show(instance_id, actor=viewer.name)
    waits = app.waits_of(instance_id, actor=viewer.name)
    diagram = diagram_reads.process_diagram(app.db, instance.process, instance.version)
    svg = (
        instance_svg(diagram, instance, waits=[w.element_id for w in waits]) if diagram is not None else None
    )
    handoffs = _records(app.handoffs, instance_id=instance_id, actor=viewer.name)
    crossings = _records(app.crossings, instance_id=instance_id, actor=viewer.name)
    delays = _records(app.delays, instance_id=instance_id, actor=viewer.name)
    # Which timeline event each record belongs to, to show them in place.
    notes: dict[int, list[tuple[str, str]]] = {}
    for h in handoffs or ():
        notes.setdefault(h.to_event, []).append(
            (
                "handoff",
                f"handoff {h.from_actor or '?'} → {h.to_actor or '?'} after {_span(h.latency_seconds)}",
            )
        )
    for c in crossings or ():
        text = f"crossed {c.from_lane or '(no lane)'} → {c.to_lane or '(no lane)'}"
        notes.setdefault(c.to_event, []).append(("crossing", text + (" (ping-pong)" if c.ping_pong else "")))
    return render(
        request,
        "instance.html",
        viewer,
        status=status,
        instance=instance,
        waits=waits,
        svg=svg,
        handoffs=handoffs,
        crossings=crossings,
        delays=delays,
        notes=notes,
        retry_data=retry_data or json.dumps(instance.data, indent=2, sort_keys=True, default=str),
        problem=problem,
        may_act=viewer.may("retry"),
        may_comment=viewer.may("comment"),
    )


def _span(seconds: float) -> str:
    from .common import span

    return span(seconds)


@router.get("/instances/{instance_id}", response_class=HTMLResponse)
def instance_page(request: Request, instance_id: int, viewer: PageUser) -> Response:
    return _instance_page(request, viewer, instance_id)


async def _form(request: Request) -> dict[str, Any]:
    return dict((await request.form()).items())


@router.post("/instances/{instance_id}/retry", response_class=HTMLResponse)
async def retry(request: Request, instance_id: int, viewer: PageUser) -> Response:
    posted = await _form(request)
    return await run_in_threadpool(_retry, request, viewer, instance_id, posted)


def _retry(request: Request, viewer: Viewer, instance_id: int, posted: dict[str, Any]) -> Response:
    raw = posted.get("data")
    text = raw if isinstance(raw, str) else ""
    data: dict[str, Any] = {}
    if text and text.strip():
        try:
            loaded = json.loads(text)
        except ValueError as exc:
            return _instance_page(
                request,
                viewer,
                instance_id,
                retry_data=text,
                problem=f"the data is not JSON: {exc}",
                status=422,
            )
        if not isinstance(loaded, dict):
            return _instance_page(
                request,
                viewer,
                instance_id,
                retry_data=text,
                problem="the data must be a JSON object",
                status=422,
            )
        data = loaded
    try:
        app_of(request).retry(instance_id, data=data, actor=viewer.name)
    except (ScriptFailed, InvalidInput) as exc:
        return _instance_page(request, viewer, instance_id, retry_data=text, problem=str(exc), status=422)
    return back(f"/instances/{instance_id}", "retried", instance_id)


@router.post("/instances/{instance_id}/comment")
async def comment(request: Request, instance_id: int, viewer: PageUser) -> Response:
    text = (await _form(request)).get("text")
    await run_in_threadpool(
        app_of(request).comment,
        text if isinstance(text, str) else "",
        instance_id=instance_id,
        actor=viewer.name,
    )
    return back(f"/instances/{instance_id}", "commented", instance_id)


@router.post("/instances/{instance_id}/suspend")
async def suspend(request: Request, instance_id: int, viewer: PageUser) -> Response:
    reason = (await _form(request)).get("reason")
    await run_in_threadpool(
        app_of(request).suspend,
        instance_id,
        reason=reason if isinstance(reason, str) and reason else None,
        actor=viewer.name,
    )
    return back(f"/instances/{instance_id}", "suspended", instance_id)


@router.post("/instances/{instance_id}/resume")
async def resume(request: Request, instance_id: int, viewer: PageUser) -> Response:
    await run_in_threadpool(app_of(request).resume, instance_id, actor=viewer.name)
    return back(f"/instances/{instance_id}", "resumed", instance_id)


@router.post("/instances/{instance_id}/terminate", response_class=HTMLResponse)
async def terminate(request: Request, instance_id: int, viewer: PageUser) -> Response:
    posted = await _form(request)
    reason = posted.get("reason")
    if posted.get("confirm") != "yes":  # it cannot be undone: the form asks to tick a box first
        return await run_in_threadpool(
            _instance_page,
            request,
            viewer,
            instance_id,
            problem="tick 'cannot be undone' to terminate this instance",
            status=422,
        )
    await run_in_threadpool(
        app_of(request).terminate,
        instance_id,
        reason=reason if isinstance(reason, str) and reason else None,
        actor=viewer.name,
    )
    return back(f"/instances/{instance_id}", "terminated", instance_id)

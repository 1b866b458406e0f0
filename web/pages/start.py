"""`/start`: start a process with its start form (the start event's `camunda:formData` or JSON Schema),
for the roles that may start instances."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from engine import Forbidden, InvalidInput

from .. import forms
from .common import PageUser, Viewer, app_of, back, render
from .instructions import documentation_html, instructions_html

router = APIRouter(include_in_schema=False)
MAX_KEY_CHARS = 255


def _require_start(viewer: Viewer) -> None:
    if not viewer.may("start"):
        raise Forbidden(
            f"{viewer.name} ({viewer.role}) may not start instances: that needs role operator, designer or admin"
        )


def _start_form(request: Request, process_id: str) -> tuple[list[dict[str, Any]], Any]:
    """The latest version's start form (the first start event that has one) and that start event."""
    model = app_of(request).process_model(process_id)
    starts = [e for e in model.elements.values() if e.type == "startEvent"]
    with_form = next((e for e in starts if e.form), None)
    chosen = with_form or (starts[0] if starts else None)
    return ([f.to_json() for f in with_form.form] if with_form else []), chosen


@router.get("/start", response_class=HTMLResponse)
def start_list(request: Request, viewer: PageUser) -> Response:
    _require_start(viewer)
    processes = app_of(request).processes(actor=viewer.name)
    return render(request, "start.html", viewer, processes=processes)


def _form_page(
    request: Request,
    viewer: Viewer,
    process_id: str,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    key: str = "",
    status: int = 200,
) -> Response:
    app = app_of(request)
    model = app.process_model(process_id)
    form, start_event = _start_form(request, process_id)
    return render(
        request,
        "start_form.html",
        viewer,
        status=status,
        model=model,
        fields=forms.fields(form, values or {}, errors or {}),
        problem=problem,
        key=key,
        instructions=instructions_html(start_event.instructions if start_event else None, {}),
        documentation=documentation_html(start_event.documentation if start_event else None),
    )


@router.get("/start/{process_id}", response_class=HTMLResponse)
def start_form(request: Request, process_id: str, viewer: PageUser) -> Response:
    _require_start(viewer)
    return _form_page(request, viewer, process_id)


@router.post("/start/{process_id}", response_class=HTMLResponse)
async def start(request: Request, process_id: str, viewer: PageUser) -> Response:
    posted = dict((await request.form()).items())
    return await run_in_threadpool(_start, request, viewer, process_id, posted)


def _start(request: Request, viewer: Viewer, process_id: str, posted: dict[str, Any]) -> Response:
    _require_start(viewer)
    form, _ = _start_form(request, process_id)
    data = forms.submitted(form, posted)
    raw_key = posted.get("business_key")
    key = raw_key.strip()[:MAX_KEY_CHARS] if isinstance(raw_key, str) else ""
    label = f"the start form of {process_id}"
    errors = forms.field_errors(form, data, label)
    if errors:
        return _form_page(request, viewer, process_id, values=data, errors=errors, key=key, status=422)
    try:
        checked = forms.checked(form, data, label)
        instance = app_of(request).start(
            process_id, data=checked, business_key=key or None, actor=viewer.name
        )
    except InvalidInput as exc:
        errors, problem = forms.errors_of(exc, form)
        return _form_page(
            request, viewer, process_id, values=data, errors=errors, problem=problem, key=key, status=422
        )
    return back(f"/instances/{instance.id}", "started", instance.id)

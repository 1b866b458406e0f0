"""*My work* (`/`) and the task page (`/tasks/{id}`): an operator's open tasks, claim, release, and the
form that completes a task, with the engine's refusals shown beside the fields they concern."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from engine import InvalidInput, ScriptFailed, TaskView, lookups
from engine import diagrams as diagram_reads
from engine.worklists import work_items

from .. import forms
from .common import PageUser, Viewer, app_of, back, render
from .drawing import instance_svg
from .instructions import documentation_html, instructions_html

router = APIRouter(include_in_schema=False)


def _landing(viewer: Viewer) -> str:
    """Where someone who does no tasks starts: the page of their role."""
    if viewer.may("report"):
        return "/dashboard"
    return "/processes" if viewer.role == "designer" else "/instances"


@router.get("/", response_class=HTMLResponse)
def my_work(request: Request, viewer: PageUser, lane: str | None = None) -> Response:
    if not viewer.may("tasks"):
        return RedirectResponse(_landing(viewer), status_code=303)
    app = app_of(request)
    lane = lane or None
    tasks = app.tasks(lane=lane, actor=viewer.name)
    items = work_items(app.db, [t.id for t in tasks])
    lanes = sorted(viewer.lanes) if viewer.role != "admin" else sorted({t.lane for t in tasks if t.lane})
    return render(
        request,
        "work.html",
        viewer,
        items=items,
        lanes=lanes,
        lane=lane,
        mine=[i for i in items if i.assignee == viewer.name],
    )


def _task_for(request: Request, viewer: Viewer, task_id: int) -> TaskView:
    """The task if `viewer` may work on it: 404 when there is none, 403 for another lane's (the same
    check as claiming it)."""
    return lookups.task(app_of(request), task_id, actor=viewer.name)


def _task_page(
    request: Request,
    viewer: Viewer,
    task: TaskView,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Response:
    app = app_of(request)
    instance = app.show(task.instance, actor=viewer.name)
    model = app.process_model(instance.process, instance.version)
    element = model.elements.get(task.element)
    form_values = values if values is not None else {**instance.data}
    diagram = diagram_reads.process_diagram(app.db, instance.process, instance.version)
    svg = instance_svg(diagram, instance, here=task.element) if diagram is not None else None
    return render(
        request,
        "task.html",
        viewer,
        status=status,
        task=task,
        instance=instance,
        fields=forms.fields(task.form, form_values, errors or {}),
        problem=problem,
        instructions=instructions_html(element.instructions if element else None, instance.data),
        documentation=documentation_html(element.documentation if element else None),
        svg=svg,
        editable=task.state == "ready" or (task.state == "claimed" and task.assignee == viewer.name),
        may_comment=task.state in ("ready", "claimed") and viewer.may("comment"),
    )


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
def task_page(request: Request, task_id: int, viewer: PageUser) -> Response:
    return _task_page(request, viewer, _task_for(request, viewer, task_id))


@router.post("/tasks/{task_id}/claim")
async def claim(request: Request, task_id: int, viewer: PageUser) -> Response:
    await run_in_threadpool(app_of(request).claim, task_id, actor=viewer.name)
    return back(await _return_to(request, f"/tasks/{task_id}"), "claimed", task_id)


@router.post("/tasks/{task_id}/release")
async def release(request: Request, task_id: int, viewer: PageUser) -> Response:
    await run_in_threadpool(app_of(request).unclaim, task_id, actor=viewer.name)
    return back(await _return_to(request, "/"), "released", task_id)


@router.post("/tasks/{task_id}/comment")
async def comment(request: Request, task_id: int, viewer: PageUser) -> Response:
    text = (await request.form()).get("text")
    await run_in_threadpool(
        app_of(request).comment, text if isinstance(text, str) else "", task_id=task_id, actor=viewer.name
    )
    return back(f"/tasks/{task_id}", "commented", task_id)


async def _return_to(request: Request, default: str) -> str:
    """The page a list's button came from ("/" or the task), never another site."""
    form = await request.form()
    target = form.get("back")
    return target if target in ("/", f"/tasks/{request.path_params['task_id']}") else default


@router.post("/tasks/{task_id}/complete", response_class=HTMLResponse)
async def complete(request: Request, task_id: int, viewer: PageUser) -> Response:
    posted = dict((await request.form()).items())
    return await run_in_threadpool(_complete, request, viewer, task_id, posted)


def _complete(request: Request, viewer: Viewer, task_id: int, posted: dict[str, Any]) -> Response:
    task = _task_for(request, viewer, task_id)
    data = forms.submitted(task.form, posted)
    label = f"task {task.id} ({task.label})"
    errors = forms.field_errors(task.form, data, label)
    if errors:
        return _task_page(request, viewer, task, values=data, errors=errors, status=422)
    try:
        app_of(request).complete(task_id, data=data, actor=viewer.name)
    except InvalidInput as exc:
        errors, problem = forms.errors_of(exc, task.form)
        return _task_page(request, viewer, task, values=data, errors=errors, problem=problem, status=422)
    except ScriptFailed:
        # The task is done; what came after it failed: the instance page shows the incident.
        return back(f"/instances/{task.instance}", "completed_failed", task_id)
    return back("/", "completed", task_id)

"""`/processes` (designers): deployed processes and their versions, upload with validation problems as
`file:line`, deploy; `/processes/{id}`: one process's versions and diagram."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from engine import DefinitionInvalid, Forbidden
from engine import diagrams as diagram_reads
from engine.input_limits import human_size, upload_limit
from engine.lookups import process_versions
from engine.report_html import render_svg

from ..errors import HttpError
from .common import PageUser, Viewer, app_of, render

router = APIRouter(include_in_schema=False)
MAX_FILES = 50
CHUNK = 64 * 1024


@router.get("/processes", response_class=HTMLResponse)
def process_list(request: Request, viewer: PageUser) -> Response:
    return _list_page(request, viewer)


def _list_page(request: Request, viewer: Viewer, status: int = 200, **result: Any) -> Response:
    processes = app_of(request).processes(actor=viewer.name)
    return render(request, "processes.html", viewer, status=status, processes=processes, **result)


@router.get("/processes/{process_id}", response_class=HTMLResponse)
def process_page(request: Request, process_id: str, viewer: PageUser, version: int | None = None) -> Response:
    return _process_page(request, viewer, process_id, version)


@router.post("/processes/{process_id}/migrations", response_class=HTMLResponse)
async def migrate(request: Request, process_id: str, viewer: PageUser) -> Response:
    """Admins: move the process's instances to another version; "Check" is a dry run."""
    form = await request.form()
    to_version = _number(form.get("to_version"))
    from_version = _number(form.get("from_version"))
    dry_run = form.get("action") != "migrate"
    if to_version is None:
        return await run_in_threadpool(
            _process_page, request, viewer, process_id, None, 422, migration_error="Choose a version."
        )
    report = await run_in_threadpool(
        lambda: app_of(request).migrate(
            process_id, to_version=to_version, from_version=from_version, dry_run=dry_run, actor=viewer.name
        )
    )
    return await run_in_threadpool(_process_page, request, viewer, process_id, None, 200, migration=report)


def _number(value: Any) -> int | None:
    return int(value) if isinstance(value, str) and value.isdigit() and int(value) > 0 else None


def _process_page(
    request: Request,
    viewer: Viewer,
    process_id: str,
    version: int | None,
    status: int = 200,
    **extra: Any,
) -> Response:
    app = app_of(request)
    versions = process_versions(app, process_id, actor=viewer.name)
    shown = version if version is not None and any(v["version"] == version for v in versions) else None
    model = app.process_model(process_id, shown)
    diagram = diagram_reads.process_diagram(app.db, process_id, shown)
    svg = render_svg(diagram, {}, "p") if diagram is not None and not diagram.empty else None
    humans = [e for e in model.elements.values() if e.type in ("userTask", "manualTask")]
    return render(
        request,
        "process.html",
        viewer,
        model=model,
        versions=versions,
        shown=shown or versions[0]["version"],
        svg=svg,
        humans=humans,
        status=status,
        **extra,
    )


@router.post("/processes", response_class=HTMLResponse)
async def upload(request: Request, viewer: PageUser) -> Response:
    form = await request.form()
    files = [f for f in form.getlist("files") if isinstance(f, UploadFile) and (f.filename or f.size)]
    action = form.get("action")
    trusted = form.get("trusted_scripts") == "true"
    return await run_in_threadpool(_upload, request, viewer, files, action == "deploy", trusted)


def _upload(
    request: Request, viewer: Viewer, files: list[UploadFile], deploy: bool, trusted: bool
) -> Response:
    if deploy and not viewer.may("deploy"):
        raise Forbidden(
            f"{viewer.name} ({viewer.role}) may not deploy processes: that needs role designer or admin"
        )
    if not files:
        return _list_page(
            request, viewer, status=422, upload_error="Choose one or more BPMN, DMN or JSON form files."
        )
    if len(files) > MAX_FILES:
        raise HttpError(413, f"too many files: at most {MAX_FILES} in one upload")
    folder = tempfile.mkdtemp(prefix="handoff-page-upload-")
    try:
        paths, names = _save(files, folder)
        app = app_of(request)
        if not deploy:
            report = app.validate(paths)
            problems = [_problem(p, names) for p in report.problems]
            return _list_page(
                request,
                viewer,
                status=200 if report.ok else 422,
                checked=sorted(names.values()),
                problems=problems,
                valid=[p.model.process_id for p in report.processes] if report.ok else [],
            )
        try:
            deployed = app.deploy(paths, actor=viewer.name, trusted_scripts=trusted)
        except DefinitionInvalid as exc:
            return _list_page(
                request,
                viewer,
                status=422,
                checked=sorted(names.values()),
                problems=[_problem(p, names) for p in exc.problems],
                valid=[],
            )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return _list_page(request, viewer, deployed=deployed, checked=sorted(names.values()))


def _save(files: list[UploadFile], folder: str) -> tuple[list[str], dict[str, str]]:
    """Each upload in its own subfolder under its own (cleaned) name, at most HANDOFF_MAX_UPLOAD each."""
    limit = upload_limit()
    paths: list[str] = []
    names: dict[str, str] = {}
    for index, upload in enumerate(files):
        base = os.path.basename((upload.filename or "").replace("\\", "/")).strip()
        name = re.sub(r"[^\w.\- ]", "_", base)[:200].lstrip(".") or f"upload-{index + 1}.bpmn"
        target = Path(folder) / str(index) / name
        target.parent.mkdir()
        size = 0
        with target.open("wb") as out:
            while chunk := upload.file.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise HttpError(413, f"{name}: file is more than the limit of {human_size(limit)}")
                out.write(chunk)
        paths.append(str(target))
        names[str(target)] = name
    return paths, names


def _problem(problem: Any, names: dict[str, str]) -> dict[str, Any]:
    """A validation problem as `file:line: message`, with the uploaded name instead of the server's path."""
    file = str(getattr(problem, "file", "") or "")
    message = str(getattr(problem, "message", problem))
    for path, name in names.items():
        message = message.replace(path, name)
    return {
        "file": names.get(file, file),
        "line": getattr(problem, "line", None),
        "message": message,
        "severity": getattr(problem, "severity", "error"),
    }

"""Processes and deployments: list, versions, validate and deploy uploads, start instances."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile

from engine import DefinitionInvalid, lookups
from engine.input_limits import human_size, upload_limit

from ..auth import User, handoff
from ..errors import HttpError
from .common import JsonRoute, StartBody

router = APIRouter(tags=["processes"], route_class=JsonRoute)

CHUNK = 64 * 1024
MAX_FILES = 50


@router.get("/processes")
def list_processes(request: Request, user: User) -> list[dict[str, Any]]:
    """Deployed processes: latest version, lanes, instance counts (as `handoff processes --json`)."""
    return [p.to_json() for p in handoff(request).processes(actor=user.name)]


@router.get("/processes/{process}/versions")
def list_versions(request: Request, user: User, process: str) -> list[dict[str, Any]]:
    """Every deployed version of a process, newest first, with its instance counts."""
    return lookups.process_versions(handoff(request), process, actor=user.name)


@router.post("/validate")
def validate(request: Request, user: User, files: Annotated[list[UploadFile], File()]) -> dict[str, Any]:
    """Parse and lint uploaded BPMN/DMN files without storing them (as `handoff validate --json`)."""
    with _uploaded(files) as (paths, names):
        report = handoff(request).validate(paths)
    problems = [_problem(p, names) for p in report.problems]
    return {
        "ok": report.ok,
        "processes": [p.model.process_id for p in report.processes],
        "problems": [p for p in problems if p["severity"] == "error"],
        "warnings": [p for p in problems if p["severity"] == "warning"],
    }


@router.post("/deployments", status_code=201)
def deploy(
    request: Request,
    user: User,
    files: Annotated[list[UploadFile], File()],
    trusted_scripts: Annotated[bool, Form()] = False,
) -> list[dict[str, Any]]:
    """Validate, then store each process as a new version (as `handoff deploy --json`); 422 with every
    problem as `{"file", "line", "message"}` when the files do not validate."""
    with _uploaded(files) as (paths, names):
        try:
            results = handoff(request).deploy(paths, actor=user.name, trusted_scripts=trusted_scripts)
        except DefinitionInvalid as exc:
            raise DefinitionInvalid(
                _rename(str(exc), names), tuple(_ProblemView(**_problem(p, names)) for p in exc.problems)
            ) from None
    return [r.to_json() for r in results]


@router.post("/processes/{process}/instances", status_code=201)
def start(request: Request, user: User, process: str, body: StartBody) -> dict[str, Any]:
    """Start an instance and run it until it waits (as `handoff start --json`)."""
    view = handoff(request).start(
        process, data=body.data, business_key=body.business_key, version=body.version, actor=user.name
    )
    return view.to_json()


# --- uploads -----------------------------------------------------------------------------------------


class _ProblemView:
    """A validation problem with the uploaded file's name instead of the server's temporary path."""

    def __init__(self, file: str, line: int | None, message: str, severity: str) -> None:
        self.file, self.line, self.message, self.severity = file, line, message, severity

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class UploadPath(os.PathLike[str]):
    """An uploaded file's temporary copy: opening it opens the copy, but `str()` gives the uploaded
    name, which is what validation problems and the stored version show, and part of a version's
    checksum (so that uploading identical files again makes no new version).

    For the lead: a deploy use case taking (name, bytes) pairs would make this unnecessary."""

    def __init__(self, path: str, display: str) -> None:
        self.path, self.display = path, display

    def __fspath__(self) -> str:
        return self.path

    def __str__(self) -> str:
        return self.display


@contextmanager
def _uploaded(files: list[UploadFile]) -> Iterator[tuple[list[Any], dict[str, str]]]:
    """The uploads as files in a private temporary folder (each at most HANDOFF_MAX_UPLOAD, else 413),
    named as uploaded; yields their paths and a map from path to uploaded name. Removed afterwards."""
    if not files:
        raise HttpError(400, "malformed request: send one or more files as multipart field 'files'")
    if len(files) > MAX_FILES:
        raise HttpError(413, f"too many files: at most {MAX_FILES} in one upload")
    limit = upload_limit()
    folder = tempfile.mkdtemp(prefix="handoff-upload-")
    try:
        paths: list[Any] = []
        names: dict[str, str] = {}
        for index, upload in enumerate(files):
            name = _safe_name(upload.filename, index)
            target = Path(folder) / str(index) / name
            target.parent.mkdir()
            size = 0
            with target.open("wb") as out:
                while chunk := upload.file.read(CHUNK):
                    size += len(chunk)
                    if size > limit:
                        raise HttpError(
                            413,
                            f"{name}: file is more than the limit of {human_size(limit)} (HANDOFF_MAX_UPLOAD)",
                        )
                    out.write(chunk)
            paths.append(UploadPath(str(target), name))
            names[str(target)] = name
        yield paths, names
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _safe_name(filename: str | None, index: int) -> str:
    """The uploaded file's own name, without any folder, printable; `upload-N.bpmn` if it has none."""
    base = os.path.basename((filename or "").replace("\\", "/")).strip()
    base = re.sub(r"[^\w.\- ]", "_", base)[:200].lstrip(".")
    return base or f"upload-{index + 1}.bpmn"


def _rename(text: str, names: dict[str, str]) -> str:
    for path, name in names.items():
        text = text.replace(path, name)
    return text


def _problem(problem: Any, names: dict[str, str]) -> dict[str, Any]:
    file = getattr(problem, "file", "") or ""
    return {
        "file": names.get(file, _rename(file, names)),
        "line": getattr(problem, "line", None),
        "message": _rename(getattr(problem, "message", str(problem)), names),
        "severity": getattr(problem, "severity", "error"),
    }

"""One table from errors to HTTP status codes (DESIGN §8), and the handlers that answer with them.

Every error is `{"error": "one line"}` (plus `problems` for invalid BPMN, `fields` for form data,
`instance` for an incident); never a traceback. Pages (paths outside /api/, asked for as HTML) may be
answered by a renderer the pages register as `app.state.render_html_error(request, status, message)`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import (
    Conflict,
    DefinitionInvalid,
    Forbidden,
    HandoffError,
    HookError,
    InvalidInput,
    NotFound,
    ScriptFailed,
    SetupRequired,
)
from engine.signin import SignInFailed, SignInRefused

from .security import SafeJSONResponse

log = logging.getLogger("handoff.web")

# Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[HandoffError], int], ...] = (
    (SignInRefused, 429),  # too many failed sign-ins: Retry-After says when to try again
    (SignInFailed, 401),
    (Forbidden, 403),  # role, lane (CSRF is refused by web/security.py with the same code)
    (NotFound, 404),
    (Conflict, 409),  # changed by someone else, not ready, already completed, suspended
    (DefinitionInvalid, 422),  # BPMN/DMN that does not validate: `problems`
    (InvalidInput, 422),  # form data, values
    (ScriptFailed, 422),  # the process's own script failed on this data: the instance is an incident
    (SetupRequired, 503),  # schema missing or outdated, database unreachable
    (HookError, 500),  # an installed record hook raised: everything was rolled back
)


class HttpError(Exception):
    """An error of the door itself (no credentials, too large, malformed), with its status."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def status_of(exc: HandoffError) -> int:
    for kind, status in STATUS:
        if isinstance(exc, kind):
            return status
    return 400


def one_line(text: str) -> str:
    return " ".join(str(text).split()) or "error"


def error_body(exc: HandoffError) -> dict[str, Any]:
    body: dict[str, Any] = {"error": one_line(str(exc))}
    if isinstance(exc, DefinitionInvalid):
        body["problems"] = [
            {
                "file": getattr(p, "file", None),
                "line": getattr(p, "line", None),
                "message": getattr(p, "message", str(p)),
                "severity": getattr(p, "severity", "error"),
            }
            for p in exc.problems
        ]
    fields = getattr(exc, "fields", None) if isinstance(exc, InvalidInput) else None
    if fields:
        body["fields"] = list(fields)
    if isinstance(exc, ScriptFailed) and exc.instance_id is not None:
        body["instance"] = exc.instance_id
        body["incident"] = True
    return body


def error_response(
    request: Request, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Response:
    renderer: Callable[[Request, int, str], Response | None] | None = getattr(
        request.app.state, "render_html_error", None
    )
    if renderer is not None and wants_html(request):
        page = renderer(request, status, body["error"])
        if page is not None:
            for name, value in (headers or {}).items():
                page.headers[name] = value
            return page
    return SafeJSONResponse(body, status_code=status, headers=headers)


def wants_html(request: Request) -> bool:
    """A person's browser asking for a page (not the API, not a script)."""
    if request.url.path.startswith("/api/") or request.url.path == "/api":
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept


async def _handoff_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HandoffError)
    status = status_of(exc)
    headers = {}
    if isinstance(exc, SignInRefused):
        headers["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="handoff"'
    if status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, one_line(str(exc)))
    return error_response(request, status, error_body(exc), headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpError)
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="handoff"')
    return error_response(request, exc.status, {"error": one_line(str(exc))}, headers)


async def _starlette_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else "error"
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such page or route: {request.method} {request.url.path}"
    elif exc.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}"
    return error_response(request, exc.status_code, {"error": one_line(message)}, dict(exc.headers or {}))


async def _malformed(request: Request, exc: Exception) -> Response:
    """FastAPI's request validation: a malformed request (400), said in one line."""
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    parts = []
    for error in errors[:3]:
        where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "request"
        parts.append(f"{where}: {error.get('msg', 'invalid')}")
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    return error_response(request, 400, {"error": one_line("malformed request: " + "; ".join(parts) + more)})


async def _unexpected(request: Request, exc: Exception) -> Response:
    # The traceback goes to the server's log (never to the caller): it holds no secret, since requests'
    # credentials are never in local variables that a traceback prints, only in headers.
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, {"error": "internal error: the server's log has the details"}, None)


def install(app: FastAPI) -> None:
    app.add_exception_handler(HandoffError, _handoff_error)
    app.add_exception_handler(HttpError, _http_error)
    app.add_exception_handler(StarletteHTTPException, _starlette_error)
    app.add_exception_handler(RequestValidationError, _malformed)
    app.add_exception_handler(Exception, _unexpected)

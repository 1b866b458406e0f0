"""The ASGI application of `handoff serve`: `create_app(db_url)` builds it (one per server process).

The web is a door like the CLI: routes convert the request, call one engine use case with the signed-in
user as the actor, and answer with the CLI's --json shapes. Engine calls are synchronous (SQLAlchemy):
routes that make them are plain `def`, which FastAPI runs in its threadpool; one `Handoff` per process is
shared by those threads (its caches are locked). docs/web-api.md describes the routes; the pages live in
web/pages/ (templates in web/templates/, files in web/static/) and are included when present.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from engine import Clock, Handoff, SetupRequired, utc_now
from engine.input_limits import MAX_PAYLOAD_BYTES, upload_limit
from engine.signin import SigninPolicy
from storage import Database, StorageError

from . import auth, errors
from .security import BodyLimit, SafeJSONResponse, SecurityHeaders

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"  # the pages' (Jinja2, autoescaped .html files)
STATIC_DIR = HERE / "static"  # the pages' scripts, styles and images, served at /static
MAX_UPLOAD_FILES = 50


@dataclass(frozen=True)
class WebSettings:
    """How this server runs; `handoff serve` fills it from its options and the environment."""

    # A header a trusted reverse proxy sets to say the browser used HTTPS (e.g. "X-Forwarded-Proto");
    # then cookies are Secure and HSTS is sent. Without a proxy, the connection's own scheme decides.
    proxy_header: str | None = None
    secure_cookies: bool | None = None  # force Secure cookies on or off; None: HTTPS decides
    policy: SigninPolicy = field(default_factory=SigninPolicy)
    # A JSON body: the engine's payload limit (1 MiB of data) with room for the wrapper around it.
    max_body_bytes: int = MAX_PAYLOAD_BYTES + 64 * 1024

    @classmethod
    def from_environment(cls) -> WebSettings:
        """HANDOFF_PROXY_HEADER, HANDOFF_SECURE_COOKIES (1/0): for server processes started by uvicorn."""
        secure = os.environ.get("HANDOFF_SECURE_COOKIES", "").strip().lower()
        return cls(
            proxy_header=os.environ.get("HANDOFF_PROXY_HEADER") or None,
            secure_cookies=None if not secure else secure in ("1", "true", "yes", "on"),
        )


def create_app(
    db_url: str,
    *,
    settings: WebSettings | None = None,
    clock: Clock = utc_now,
    handoff: Handoff | None = None,
    with_pages: bool = True,
) -> FastAPI:
    """The web application over the database at `db_url` (or over `handoff`, an application already
    built, e.g. with plugins). Nothing is connected until the first request. `with_pages=False` serves
    the API alone."""
    settings = settings or WebSettings()
    if handoff is None:
        try:
            database = Database(db_url)
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc
        handoff = Handoff(database, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        handoff.db.dispose()

    app = FastAPI(
        title="Handoff",
        summary="Run BPMN processes; see where work waits and crosses departments.",
        version=_version(),
        openapi_url="/api/openapi.json",
        docs_url=None,  # FastAPI's own pages load Swagger UI from a CDN: ours is shipped (web/api/docs.py)
        redoc_url=None,
        lifespan=lifespan,
        default_response_class=SafeJSONResponse,
    )
    app.state.handoff = handoff
    app.state.settings = settings
    app.state.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    app.state.identities = auth.IdentityCache()
    app.state.render_html_error = None  # the pages may set (request, status, message) -> Response
    errors.install(app)
    _describe_sign_in(app)

    from . import api

    app.include_router(auth.router)
    api.install(app)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR), check_dir=False), name="static")
    if with_pages and importlib.util.find_spec("web.pages") is not None:
        from . import pages  # type: ignore[attr-defined]

        pages.install(app)

    # Outermost last: the headers go on every answer, refusals by BodyLimit included.
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        max_upload_bytes=upload_limit() * MAX_UPLOAD_FILES + 1024 * 1024,
    )
    app.add_middleware(
        SecurityHeaders, proxy_header=settings.proxy_header, cacheable=("/static/", "/api/docs/assets/")
    )
    return app


def _describe_sign_in(app: FastAPI) -> None:
    """The OpenAPI description says how to sign in (so the browsable docs offer 'Authorize'): a Bearer
    token, or the session cookie of the pages."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = plain()
            schema.setdefault("components", {})["securitySchemes"] = {
                "token": {"type": "http", "scheme": "bearer", "description": "handoff users token NAME"},
                "session": {"type": "apiKey", "in": "cookie", "name": auth.SESSION_COOKIE},
            }
            schema["security"] = [{"token": []}, {"session": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def app_from_environment() -> FastAPI:
    """The factory `handoff serve` gives uvicorn (`--factory`), for each worker process: HANDOFF_DB."""
    url = os.environ.get("HANDOFF_DB")
    if not url:
        raise SetupRequired("HANDOFF_DB is not set: start the server with 'handoff serve'")
    return create_app(url, settings=WebSettings.from_environment())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("handoff")
    except PackageNotFoundError:
        return "0"

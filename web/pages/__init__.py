"""The web pages of `handoff serve` (DESIGN §8, docs/web.md): server-rendered HTML over the same engine
use cases as the API, usable without JavaScript, under a Content-Security-Policy without inline script
or style. `install(app)` adds them to the application of web/app.py."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from .admin import router as admin_pages
from .common import SignInNeeded, error_page, query_link
from .dashboard import router as dashboard_pages
from .instances import router as instance_pages
from .login import router as login_page
from .processes import router as process_pages
from .start import router as start_pages
from .styles import router as styles_router
from .work import router as work_pages

ROUTERS = (login_page, work_pages, start_pages, instance_pages, process_pages, dashboard_pages, admin_pages)


async def _sign_in_needed(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SignInNeeded)
    return RedirectResponse(
        query_link("/login", next=exc.target if exc.target != "/" else None), status_code=303
    )


def install(app: FastAPI) -> None:
    """Add the pages, their error page and their sign-in redirect to the application."""
    app.state.render_html_error = error_page
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.include_router(styles_router)
    for router in ROUTERS:
        app.include_router(router)


__all__ = ["install"]

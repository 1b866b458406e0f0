"""`/admin` (admins): users with their roles and lanes, passwords, API tokens, the lanes and who works in
them, SLA settings, and the audit log of these changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from engine import ROLES, HandoffError
from engine import signin as signin_cases
from engine.access import RULES
from engine.worklists import authorize, lanes_in_use

from ..auth import forget_identities
from .common import PageUser, Viewer, app_of, back, render

router = APIRouter(include_in_schema=False)


def _admin_page(request: Request, viewer: Viewer, *, status: int = 200, **extra: Any) -> Response:
    app = app_of(request)
    authorize(app.db, viewer.name, "users")
    users = app.users(actor=viewer.name)
    lanes = lanes_in_use(app.db)
    members = {lane: [u.name for u in users if lane in u.lanes] for lane in lanes}
    selected = request.query_params.get("tokens")
    tokens = None
    if selected and any(u.name == selected for u in users):
        tokens = signin_cases.tokens(app, selected, actor=viewer.name)
    return render(
        request,
        "admin.html",
        viewer,
        status=status,
        users=users,
        roles=ROLES,
        rights={role: [rule.phrase for rule in RULES.values() if role in rule.roles] for role in ROLES},
        lanes=lanes,
        members=members,
        slas=app.sla_settings(actor=viewer.name),
        audit=list(reversed(app.audit_log(limit=20, actor=viewer.name))),
        token_user=selected if tokens is not None else None,
        tokens=tokens,
        **extra,
    )


@router.get("/admin", response_class=HTMLResponse)
def admin(request: Request, viewer: PageUser) -> Response:
    return _admin_page(request, viewer)


async def _posted(request: Request) -> dict[str, Any]:
    form = await request.form()
    out: dict[str, Any] = {}
    for key in form:
        values = [v for v in form.getlist(key) if isinstance(v, str)]
        out[key] = values if key == "lanes" else (values[0] if values else "")
    return out


def _act(request: Request, viewer: Viewer, posted: dict[str, Any], action: Any) -> Response:
    """Run one admin action; a refusal is shown on the page beside the forms, nothing changed. Who may
    sign in and as what may have changed: identities are proven afresh (web/auth.py's cache)."""
    try:
        answer: Response = action()
    except HandoffError as exc:
        from ..errors import status_of

        return _admin_page(request, viewer, status=status_of(exc), problem=str(exc), posted=posted)
    forget_identities(request)
    return answer


@router.post("/admin/users", response_class=HTMLResponse)
async def save_user(request: Request, viewer: PageUser) -> Response:
    posted = await _posted(request)

    def run() -> Response:
        lanes = [ln.strip() for ln in posted.get("lanes", []) if ln.strip()]
        extra = [ln.strip() for ln in str(posted.get("new_lanes", "")).split(",") if ln.strip()]
        app_of(request).add_user(
            str(posted.get("name", "")),
            role=str(posted.get("role") or "operator"),
            lanes=lanes + extra,
            actor=viewer.name,
            tz=str(posted.get("tz") or "").strip() or None,
            email=str(posted.get("email") or "").strip() or None,
        )
        return back("/admin", "user_saved")

    return await run_in_threadpool(_act, request, viewer, posted, run)


@router.post("/admin/users/{name}/remove", response_class=HTMLResponse)
async def remove_user(request: Request, name: str, viewer: PageUser) -> Response:
    posted = await _posted(request)

    def run() -> Response:
        app_of(request).remove_user(name, actor=viewer.name)
        return back("/admin", "user_removed")

    return await run_in_threadpool(_act, request, viewer, posted, run)


@router.post("/admin/users/{name}/password", response_class=HTMLResponse)
async def set_password(request: Request, name: str, viewer: PageUser) -> Response:
    posted = await _posted(request)
    password = str(posted.pop("password", ""))

    def run() -> Response:
        signin_cases.set_password(app_of(request), name, password, actor=viewer.name)
        return back("/admin", "password_set")

    return await run_in_threadpool(_act, request, viewer, posted, run)


@router.post("/admin/users/{name}/tokens", response_class=HTMLResponse)
async def new_token(request: Request, name: str, viewer: PageUser) -> Response:
    posted = await _posted(request)

    def run() -> Response:
        app = app_of(request)
        expires = signin_cases.parse_expiry(str(posted.get("expires") or "") or None)
        made = signin_cases.create_token(app, name, expires=expires, actor=viewer.name)
        # Shown this once, on this answer only (never in a URL).
        return _admin_page(request, viewer, new_token=made)

    return await run_in_threadpool(_act, request, viewer, posted, run)


@router.post("/admin/tokens/{token_id}/revoke", response_class=HTMLResponse)
async def revoke(request: Request, token_id: int, viewer: PageUser) -> Response:
    posted = await _posted(request)

    def run() -> Response:
        view = signin_cases.revoke_token(app_of(request), token_id, actor=viewer.name)
        return back("/admin", "token_revoked", token_id, tokens=view.name)

    return await run_in_threadpool(_act, request, viewer, posted, run)


@router.post("/admin/sla", response_class=HTMLResponse)
async def set_sla(request: Request, viewer: PageUser) -> Response:
    posted = await _posted(request)

    def run() -> Response:
        lane = str(posted.get("lane") or "").strip() or None
        app_of(request).set_sla(str(posted.get("duration") or ""), lane=lane, actor=viewer.name)
        return back("/admin", "sla_saved")

    return await run_in_threadpool(_act, request, viewer, posted, run)

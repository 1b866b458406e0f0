"""Administration: users, SLAs, the audit log; passwords and API tokens; who am I."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from engine import signin

from ..auth import User, forget_identities, handoff
from ..errors import HttpError
from ..security import SafeJSONResponse
from .common import JsonRoute

router = APIRouter(tags=["administration"], route_class=JsonRoute)


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    role: str | None = None  # a new user: operator unless given
    lanes: list[str] | None = None  # replaces all their lanes when given
    tz: str | None = None  # the time zone their times are shown in (IANA name), kept when not given
    email: str | None = None  # where their notifications go ("" removes it), kept when not given


class SlaBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    duration: str  # ISO 8601, e.g. PT4H
    lane: str | None = None  # None: the global default


class PasswordBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: str = Field(max_length=4096)
    current_password: str | None = Field(default=None, max_length=4096)  # needed for one's own


class TokenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires: str | None = None  # ISO 8601 duration, e.g. P90D; none: never


@router.get("/me")
def me(request: Request, user: User) -> dict[str, Any]:
    """Who is calling, how they signed in, and (signed in by cookie) the CSRF token for their forms."""
    return {"name": user.name, "role": user.role, "via": user.via, "csrf_token": user.csrf}


@router.get("/users")
def list_users(request: Request, user: User) -> list[dict[str, Any]]:
    """Registered users with role and lanes (as `handoff users list --json`)."""
    return [u.to_json() for u in handoff(request).users(actor=user.name)]


@router.post("/users")
def add_user(request: Request, user: User, body: UserBody) -> SafeJSONResponse:
    """Register a user (201) or update one (200), as `handoff users add --json` (admins)."""
    result = handoff(request).add_user(
        body.name, lanes=body.lanes, role=body.role, actor=user.name, tz=body.tz
    )
    forget_identities(request)  # a changed role shows at once
    return SafeJSONResponse(result.to_json(), status_code=201 if result.action == "added" else 200)


@router.delete("/users/{name}")
def remove_user(request: Request, user: User, name: str) -> dict[str, Any]:
    """Unregister a user: their tokens and sessions end with them (admins)."""
    removed = handoff(request).remove_user(name, actor=user.name)
    forget_identities(request)  # their tokens and sessions are gone
    return removed.to_json() | {"action": "removed"}


@router.get("/audit")
def audit(
    request: Request,
    user: User,
    name: str | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[dict[str, Any]]:
    """Who added, changed or removed whom, and sign-ins (as `handoff users log --json`)."""
    return [e.to_json() for e in handoff(request).audit_log(subject=name, limit=limit, actor=user.name)]


@router.get("/sla")
def list_sla(request: Request, user: User) -> list[dict[str, Any]]:
    """Lane defaults and the global default (as `handoff sla list --json`)."""
    return [s.to_json() for s in handoff(request).sla_settings(actor=user.name)]


@router.put("/sla")
def set_sla(request: Request, user: User, body: SlaBody) -> dict[str, Any]:
    """Set a lane's default SLA, or the global default without `lane` (admins)."""
    return handoff(request).set_sla(body.duration, lane=body.lane or None, actor=user.name).to_json()


@router.put("/users/{name}/password")
def set_password(request: Request, user: User, name: str, body: PasswordBody) -> dict[str, Any]:
    """Set a password (admins for anyone; anyone their own, with `current_password`). The user's web
    sessions end."""
    app = handoff(request)
    if name == user.name and user.role != "admin":
        if body.current_password is None:
            raise HttpError(422, "changing your own password needs current_password")
        if not signin.password_matches(app, name, body.current_password):
            raise HttpError(403, "current_password is wrong")
    result = signin.set_password(app, name, body.password, actor=user.name)
    forget_identities(request)  # their sessions ended
    return result.to_json()


@router.get("/users/{name}/tokens")
def list_tokens(request: Request, user: User, name: str) -> list[dict[str, Any]]:
    """A user's API tokens (never the tokens themselves), as `handoff users tokens --json`."""
    app = handoff(request)
    now = app.clock()
    return [t.to_json(now) for t in signin.tokens(app, name, actor=user.name)]


@router.post("/users/{name}/tokens", status_code=201)
def create_token(request: Request, user: User, name: str, body: TokenBody | None = None) -> dict[str, Any]:
    """A new API token, shown in this answer only (as `handoff users token --json`)."""
    expires = signin.parse_expiry(body.expires if body is not None else None)
    return signin.create_token(handoff(request), name, expires=expires, actor=user.name).to_json()


@router.delete("/tokens/{token_id}")
def revoke_token(request: Request, user: User, token_id: int) -> dict[str, Any]:
    """Revoke a token at once (admins any, anyone their own)."""
    app = handoff(request)
    view = signin.revoke_token(app, token_id, actor=user.name)
    forget_identities(request)
    return view.to_json(app.clock())

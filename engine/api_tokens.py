"""API tokens (`Authorization: Bearer`, DESIGN §8; docs/security.md): made for a user by themself or an
admin, shown once, kept as their SHA-256 only, with an optional expiry; revocable at once.

Use cases taking the `Handoff` application and plain values; each change is one transaction."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bpmn.durations import parse_duration
from storage import signin as store
from storage import users as user_repo

from .credentials import TOUCH_EVERY, Identity, digest, holder_or_admin, read, write
from .errors import Conflict, InvalidInput, NotFound
from .views import NewToken, TokenView, iso

if TYPE_CHECKING:
    from .facade import Handoff

TOKEN_PREFIX = "hnd_"


def parse_expiry(text: str | None) -> timedelta | None:
    """`P90D`, `PT12H`: an ISO 8601 duration, more than nothing; None for no expiry."""
    if text is None or not text.strip():
        return None
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise InvalidInput(f"--expires: {exc}") from None
    if duration <= timedelta(0):
        raise InvalidInput(f"--expires: {text!r} must be longer than nothing")
    if duration > timedelta(days=3660):
        raise InvalidInput(f"--expires: {text!r} is more than ten years")
    return duration


def create_token(app: Handoff, name: str, *, expires: timedelta | None, actor: str | None) -> NewToken:
    """A new API token for NAME (admins for anyone, anyone for themselves), shown once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = app.clock()
    expires_at = now + expires if expires is not None else None
    with write(app) as session:
        user = holder_or_admin(session, actor, name, "make API tokens for")
        row = store.add_token(
            session,
            user_id=user.user_id,
            digest=digest(token),
            hint=token[:12],
            at=now,
            by=actor,
            expires_at=expires_at,
        )
        user_repo.add_audit(
            session,
            at=now,
            actor=actor,
            action="token_created",
            subject=name,
            data={"token": row.id, "expires_at": iso(expires_at)},
        )
        view = token_view(row, user.name)
    return NewToken(view, token)


def tokens(app: Handoff, name: str, *, actor: str | None) -> list[TokenView]:
    """NAME's tokens, oldest first, revoked and expired ones included (never the tokens themselves)."""
    with read(app) as session:
        user = holder_or_admin(session, actor, name, "list the API tokens of")
        return [token_view(t, user.name) for t in store.tokens_of(session, user.user_id)]


def revoke_token(app: Handoff, token_id: int, *, actor: str | None) -> TokenView:
    """Revoke a token at once (admins any, anyone their own): from now on it signs nobody in."""
    now = app.clock()
    with write(app) as session:
        found = store.get_token(session, token_id)
        if found is None:
            raise NotFound(f"API token {token_id} does not exist (see 'handoff users tokens NAME')")
        row, holder = found
        holder_or_admin(session, actor, holder, "revoke the API tokens of")
        if row.revoked_at is not None:
            raise Conflict(f"API token {token_id} of {holder} was already revoked at {iso(row.revoked_at)}")
        row.revoked_at, row.revoked_by = now, actor
        user_repo.add_audit(
            session, at=now, actor=actor, action="token_revoked", subject=holder, data={"token": token_id}
        )
        return token_view(row, holder)


def token_identity(app: Handoff, token: str) -> Identity | None:
    """The holder of a live token (not revoked, not expired), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        return None
    now = app.clock()
    with read(app) as session:
        found = store.token_holder(session, digest(token), now)
    if found is None:
        return None
    holder, token_id, last_used = found
    if last_used is None or now - last_used >= TOUCH_EVERY:
        with write(app) as session:
            store.mark_token_used(session, token_id, now)
    return Identity(holder.name, holder.role, "token", token_id=token_id)


def token_view(row: Any, name: str) -> TokenView:
    return TokenView(
        row.id,
        name,
        row.hint,
        row.created_at,
        row.created_by,
        row.expires_at,
        row.revoked_at,
        row.revoked_by,
        row.last_used_at,
    )

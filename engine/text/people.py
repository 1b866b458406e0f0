"""Users as text: a change, the list, the audit log, API tokens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from ..views import AuditView, NewToken, TokenView, UserChange, UserView
from . import table, when

SINGLE_USER = (
    "no users yet: single-user mode, anyone may do anything; "
    "add the first admin with 'handoff users add NAME --role admin'"
)


def schema(url: str, before: str | None, after: str, *, single_user: bool) -> str:
    """What `handoff init` did to the schema, and whether roles and lanes are checked."""
    if before == after:
        done = f"{url}: schema is up to date (revision {after})"
    elif before is None:
        done = f"{url}: schema created (revision {after})"
    else:
        done = f"{url}: schema upgraded from {before} to {after}"
    users = (
        SINGLE_USER
        if single_user
        else "users are registered: roles and lanes are checked (handoff users list)"
    )
    return f"{done}\n{users}"


def change(result: UserChange) -> str:
    user = result.user
    lanes = ", ".join(user.lanes) or "no lane"
    if result.action == "added":
        return f"{user.name} added: {user.role}, lanes: {lanes}"
    if result.action == "changed":
        return f"{user.name} already existed and was updated: {'; '.join(result.changes)}"
    return f"{user.name} already exists, unchanged: {user.role}, lanes: {lanes}"


def removed(view: UserView) -> str:
    return f"{view.name} removed ({view.role}, lanes: {', '.join(view.lanes) or 'no lane'})"


def users(items: Sequence[UserView]) -> str:
    if not items:
        return SINGLE_USER
    rows = [
        (u.name, u.role, ", ".join(u.lanes), when(u.created_at), u.created_by or "", when(u.updated_at))
        for u in items
    ]
    return table(["NAME", "ROLE", "LANES", "ADDED", "BY", "CHANGED"], rows)


def audit(items: Sequence[AuditView]) -> str:
    if not items:
        return "no user changes recorded"
    rows = []
    for e in items:
        data = e.data or {}
        if not e.action.startswith("user_"):  # sign-ins, passwords, tokens (engine/signin.py)
            what = ", ".join(f"{k} {v}" for k, v in data.items())
            rows.append((when(e.at), e.actor or "", e.action.replace("_", " "), e.subject, what))
            continue
        what = f"{data.get('role', '')}; lanes: {', '.join(data.get('lanes') or []) or '-'}"
        before = data.get("before")
        if before:
            what += f" (was {before.get('role')}; lanes: {', '.join(before.get('lanes') or []) or '-'})"
        rows.append((when(e.at), e.actor or "", e.action.replace("_", " "), e.subject, what))
    return table(["WHEN", "WHO", "WHAT", "USER", "DETAILS"], rows)


def token_made(new: NewToken, name: str) -> str:
    """The line before a new token (on stderr: the token alone goes to stdout, for a script to keep)."""
    until = f", expires {when(new.view.expires_at)}" if new.view.expires_at else ", no expiry"
    return f"token {new.view.id} for {name}{until} (shown once, keep it secret):"


def tokens(name: str, items: Sequence[TokenView], now: datetime) -> str:
    if not items:
        return f"{name} has no API tokens (handoff users token {name})"
    rows = [
        (t.id, t.hint + "…", t.state(now), when(t.created_at), when(t.expires_at), when(t.last_used_at),
         when(t.revoked_at))
        for t in items
    ]  # fmt: skip
    return table(["ID", "TOKEN", "STATE", "MADE", "EXPIRES", "LAST USED", "REVOKED"], rows)

"""Users as text: a change, the list, the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from ..views import AuditView, UserChange, UserView
from . import table, when

SINGLE_USER = (
    "no users yet: single-user mode, anyone may do anything; "
    "add the first admin with 'handoff users add NAME --role admin'"
)


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

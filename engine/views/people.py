"""Views of users, user changes, the audit log and API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import iso


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    lanes: tuple[str, ...]
    created_at: datetime
    created_by: str | None
    updated_at: datetime | None = None
    updated_by: str | None = None
    tz: str | None = None  # the zone their times are shown in; None: HANDOFF_TZ, else the machine's
    email: str | None = None  # where notifications go (docs/notifications.md)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "lanes": list(self.lanes),
            "tz": self.tz,
            "email": self.email,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class UserChange:
    """What `add_user` did: `added`, `changed` (an existing user's role or lanes) or `unchanged`."""

    user: UserView
    action: str
    changes: tuple[str, ...] = ()  # e.g. "role operator -> admin", "lanes Sales -> Finance, Sales"
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return self.user.to_json() | {
            "action": self.action,
            "changes": list(self.changes),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class AuditView:
    """One administrative action (a user added, changed or removed): who did what to whom, when."""

    id: int
    at: datetime
    actor: str | None
    action: str
    subject: str
    data: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "data": self.data,
        }


@dataclass(frozen=True)
class TokenView:
    id: int
    name: str  # whose token
    hint: str
    created_at: datetime
    created_by: str | None
    expires_at: datetime | None
    revoked_at: datetime | None
    revoked_by: str | None
    last_used_at: datetime | None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    def to_json(self, now: datetime | None = None) -> dict[str, Any]:
        out = {
            "id": self.id,
            "name": self.name,
            "hint": self.hint,
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "expires_at": iso(self.expires_at),
            "revoked_at": iso(self.revoked_at),
            "revoked_by": self.revoked_by,
            "last_used_at": iso(self.last_used_at),
        }
        if now is not None:
            out["state"] = self.state(now)
        return out


@dataclass(frozen=True)
class NewToken:
    """A token just made: `token` is shown this once and never stored."""

    view: TokenView
    token: str

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.view.name,
            "id": self.view.id,
            "token": self.token,
            "expires_at": iso(self.view.expires_at),
            "created_at": iso(self.view.created_at),
        }

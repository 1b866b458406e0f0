"""Views of users, user changes and the audit log."""

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

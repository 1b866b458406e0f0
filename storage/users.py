"""Queries and writes over users, the lanes they work in, and the audit of administrative actions.

Each function works on a session the caller owns (one unit of work), as in `repository`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .database import ConcurrentUpdate
from .models import AuditEntry, User, UserLane
from .reads import user_table as user_table  # the same read as a command's (storage/reads.py)


def count_users(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(User)) or 0)


def get_user(session: Session, name: str) -> User | None:
    return session.scalars(select(User).where(User.name == name)).first()


def lanes_of(session: Session, user_id: int) -> list[str]:
    return list(
        session.scalars(select(UserLane.lane).where(UserLane.user_id == user_id).order_by(UserLane.lane))
    )


def list_users(session: Session) -> list[tuple[User, list[str]]]:
    users = list(session.scalars(select(User).order_by(User.name)))
    lanes: dict[int, list[str]] = {}
    for user_id, lane in session.execute(select(UserLane.user_id, UserLane.lane).order_by(UserLane.lane)):
        lanes.setdefault(user_id, []).append(lane)
    return [(u, lanes.get(u.id, [])) for u in users]


def admin_names(session: Session) -> list[str]:
    """The admins, their rows locked until the transaction ends (PostgreSQL; SQLite writers are serial):
    two admins removing each other at once cannot leave nobody to manage users."""
    return list(session.scalars(select(User.name).where(User.role == "admin").with_for_update()))


def add_user(
    session: Session, *, name: str, role: str, lanes: Iterable[str], at: datetime, by: str | None
) -> User:
    user = User(name=name, role=role, created_at=at, created_by=by, updated_at=None, updated_by=None)
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # the same name added by someone else since we looked
        raise ConcurrentUpdate(f"user {name} was added by someone else just now") from exc
    set_lanes(session, user.id, lanes)
    return user


def set_lanes(session: Session, user_id: int, lanes: Iterable[str]) -> None:
    session.execute(delete(UserLane).where(UserLane.user_id == user_id))
    rows = [{"user_id": user_id, "lane": lane} for lane in sorted(set(lanes))]
    if rows:
        session.execute(UserLane.__table__.insert(), rows)  # type: ignore[attr-defined]


def remove_user(session: Session, user: User) -> None:
    session.execute(delete(UserLane).where(UserLane.user_id == user.id))
    session.execute(delete(User).where(User.id == user.id))


def add_audit(
    session: Session,
    *,
    at: datetime,
    actor: str | None,
    action: str,
    subject: str,
    data: dict[str, Any] | None,
) -> None:
    session.add(AuditEntry(at=at, actor=actor, action=action, subject=subject, data=data))


def audit_entries(session: Session, *, subject: str | None = None, limit: int = 100) -> Sequence[AuditEntry]:
    """The newest `limit` entries (of one subject, if given), oldest first."""
    query = select(AuditEntry)
    if subject is not None:
        query = query.where(AuditEntry.subject == subject)
    newest = list(session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))
    return newest[::-1]

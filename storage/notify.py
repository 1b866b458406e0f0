"""What the mail notifications read and keep (docs/notifications.md): settings, people's addresses,
and the lines waiting for a digest."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from .models import User, UserLane
from .models_notify import NotifyDigest, NotifySetting


def settings(session: Session) -> dict[str, str]:
    return {row.key: row.value for row in session.scalars(select(NotifySetting))}


def set_settings(session: Session, values: dict[str, str | None]) -> None:
    """Set (or, for None, remove) each setting."""
    for key, value in values.items():
        row = session.get(NotifySetting, key)
        if value is None:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(NotifySetting(key=key, value=value))
        else:
            row.value = value
    session.flush()


def addresses(session: Session, names: Iterable[str]) -> dict[str, str]:
    """name -> e-mail address of those of `names` who have one."""
    wanted = sorted(set(names))
    if not wanted:
        return {}
    query = select(User.name, User.email).where(User.name.in_(wanted), User.email.is_not(None))
    return {name: email for name, email in session.execute(query) if email}


def members_of(session: Session, lanes: Iterable[str]) -> dict[str, set[str]]:
    """lane -> the names of the people who work in it."""
    wanted = sorted(set(lanes))
    found: dict[str, set[str]] = {lane: set() for lane in wanted}
    if not wanted:
        return found
    query = (
        select(UserLane.lane, User.name)
        .join(User, User.id == UserLane.user_id)
        .where(UserLane.lane.in_(wanted))
    )
    for lane, name in session.execute(query):
        found[lane].add(name)
    return found


def admins(session: Session) -> set[str]:
    return set(session.scalars(select(User.name).where(User.role == "admin")))


def add_digest_lines(session: Session, rows: list[tuple[str, datetime, str]]) -> None:
    session.add_all(NotifyDigest(recipient=r, at=at, line=line) for r, at, line in rows)
    session.flush()


def take_digests(session: Session, older_than: datetime | None) -> dict[str, list[tuple[datetime, str]]]:
    """Remove and return the waiting lines, by recipient: every recipient's (`older_than` None) or those
    of recipients whose oldest line is older than `older_than`."""
    rows = list(session.scalars(select(NotifyDigest).order_by(NotifyDigest.id)))
    by_recipient: dict[str, list[NotifyDigest]] = {}
    for row in rows:
        by_recipient.setdefault(row.recipient, []).append(row)
    due = {r: lines for r, lines in by_recipient.items() if older_than is None or lines[0].at <= older_than}
    ids = [row.id for lines in due.values() for row in lines]
    if ids:
        session.execute(delete(NotifyDigest).where(NotifyDigest.id.in_(ids)))
    return {r: [(row.at, row.line) for row in lines] for r, lines in due.items()}


__all__ = [
    "add_digest_lines",
    "addresses",
    "admins",
    "members_of",
    "set_settings",
    "settings",
    "take_digests",
]

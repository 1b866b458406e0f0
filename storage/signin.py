"""Queries and writes over sign-in secrets: password hashes, API tokens, web sessions, failed sign-ins.

Each function works on a session the caller owns (one unit of work), as in `repository`. Secrets arrive
here already hashed: this module never sees a password, a token or a session id.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from .models import ApiToken, Password, SigninFailure, User, WebSession


@dataclass(frozen=True)
class Holder:
    """Who a token or session belongs to, as the web's identity check needs it."""

    user_id: int
    name: str
    role: str


# --- passwords ---------------------------------------------------------------------------------------


def password_hash(session: Session, user_id: int) -> str | None:
    return session.scalar(select(Password.hash).where(Password.user_id == user_id))


def set_password(session: Session, user_id: int, hashed: str, *, at: datetime, by: str | None) -> None:
    row = session.get(Password, user_id)
    if row is None:
        session.add(Password(user_id=user_id, hash=hashed, set_at=at, set_by=by))
    else:
        row.hash, row.set_at, row.set_by = hashed, at, by


def admins_with_password(session: Session) -> tuple[list[str], list[str]]:
    """(every admin's name, the names of those who have a password)."""
    admins = list(session.scalars(select(User.name).where(User.role == "admin").order_by(User.name)))
    with_password = list(
        session.scalars(
            select(User.name)
            .join(Password, Password.user_id == User.id)
            .where(User.role == "admin")
            .order_by(User.name)
        )
    )
    return admins, with_password


# --- API tokens --------------------------------------------------------------------------------------


def add_token(
    session: Session,
    *,
    user_id: int,
    digest: str,
    hint: str,
    at: datetime,
    by: str | None,
    expires_at: datetime | None,
) -> ApiToken:
    token = ApiToken(
        user_id=user_id,
        digest=digest,
        hint=hint,
        created_at=at,
        created_by=by,
        expires_at=expires_at,
        revoked_at=None,
        revoked_by=None,
        last_used_at=None,
    )
    session.add(token)
    session.flush()
    return token


def tokens_of(session: Session, user_id: int) -> Sequence[ApiToken]:
    return session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id)).all()


def get_token(session: Session, token_id: int) -> tuple[ApiToken, str] | None:
    """The token and its holder's name."""
    row = session.execute(
        select(ApiToken, User.name).join(User, User.id == ApiToken.user_id).where(ApiToken.id == token_id)
    ).first()
    return (row[0], row[1]) if row is not None else None


def token_holder(session: Session, digest: str, now: datetime) -> tuple[Holder, int, datetime | None] | None:
    """The holder of a live token (not revoked, not expired), its id and when it was last used."""
    row = session.execute(
        select(User.id, User.name, User.role, ApiToken.id, ApiToken.last_used_at)
        .join(User, User.id == ApiToken.user_id)
        .where(
            ApiToken.digest == digest,
            ApiToken.revoked_at.is_(None),
            or_(ApiToken.expires_at.is_(None), ApiToken.expires_at > now),
        )
    ).first()
    if row is None:
        return None
    return Holder(row[0], row[1], row[2]), row[3], row[4]


def mark_token_used(session: Session, token_id: int, at: datetime) -> None:
    session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


# --- web sessions ------------------------------------------------------------------------------------


def add_session(
    session: Session,
    *,
    digest: str,
    user_id: int,
    csrf: str,
    at: datetime,
    expires_at: datetime,
    address: str | None,
) -> None:
    session.add(
        WebSession(
            digest=digest,
            user_id=user_id,
            csrf=csrf,
            created_at=at,
            seen_at=at,
            expires_at=expires_at,
            address=address,
        )
    )


def session_holder(
    session: Session, digest: str, now: datetime, idle_since: datetime
) -> tuple[Holder, str, datetime] | None:
    """The holder of a live web session (within its absolute expiry, seen after `idle_since`), its CSRF
    token and when it was last seen."""
    row = session.execute(
        select(User.id, User.name, User.role, WebSession.csrf, WebSession.seen_at)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.digest == digest, WebSession.expires_at > now, WebSession.seen_at > idle_since)
    ).first()
    if row is None:
        return None
    return Holder(row[0], row[1], row[2]), row[3], row[4]


def touch_session(session: Session, digest: str, at: datetime) -> None:
    session.execute(update(WebSession).where(WebSession.digest == digest).values(seen_at=at))


def end_session(session: Session, digest: str) -> str | None:
    """Delete the session; the name of whom it belonged to, or None if it did not exist."""
    name = session.scalar(
        select(User.name).join(WebSession, WebSession.user_id == User.id).where(WebSession.digest == digest)
    )
    session.execute(delete(WebSession).where(WebSession.digest == digest))
    return name


def end_sessions_of(session: Session, user_id: int) -> int:
    """Sign a user out everywhere (their password changed): how many sessions ended."""
    result = session.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_sessions(session: Session, now: datetime, idle_since: datetime) -> None:
    session.execute(
        delete(WebSession).where(or_(WebSession.expires_at <= now, WebSession.seen_at <= idle_since))
    )


# --- failed sign-ins ---------------------------------------------------------------------------------


def failure_times(
    session: Session, *, name: str, address: str, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The times of the counted failures (oldest first) of this name and of this address. Refused
    attempts are not recorded, so these lists stay as short as the limits."""
    by_name = session.scalars(
        select(SigninFailure.at)
        .where(SigninFailure.name == name, SigninFailure.at > since)
        .order_by(SigninFailure.at)
    ).all()
    by_address = session.scalars(
        select(SigninFailure.at)
        .where(SigninFailure.address == address, SigninFailure.at > since)
        .order_by(SigninFailure.at)
    ).all()
    return list(by_name), list(by_address)


def add_failure(session: Session, *, name: str, address: str, at: datetime, prune_before: datetime) -> None:
    session.execute(delete(SigninFailure).where(SigninFailure.at <= prune_before))
    session.add(SigninFailure(at=at, name=name, address=address))


def clear_failures(session: Session, name: str) -> None:
    """A successful sign-in forgives the name's earlier typos (the address's count stays)."""
    session.execute(delete(SigninFailure).where(SigninFailure.name == name))


def user_ref(session: Session, name: str) -> Holder | None:
    row = session.execute(select(User.id, User.name, User.role).where(User.name == name)).first()
    return Holder(row[0], row[1], row[2]) if row is not None else None

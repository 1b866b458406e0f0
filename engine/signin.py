"""Sign-in that proves identity (the web door, DESIGN §8; docs/security.md): passwords, web sessions, and
the limits on guessing; API tokens are in engine/api_tokens.py (re-exported here).

Use cases taking the `Handoff` application (its database, clock and public methods) and plain values;
each state change is one transaction. Passwords are kept as Argon2id hashes (argon2-cffi); tokens and
session ids are long random strings, kept as their SHA-256 only. Failed sign-ins are counted per name
and per address in the database, so that every `handoff serve` process shares the limits (DESIGN §6);
each failure is audited, and the caller is told how long to wait before it answers (the web sleeps
without holding a thread).
"""

from __future__ import annotations

import secrets
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from storage import signin as store
from storage import users as user_repo

from .api_tokens import NewToken, TokenView, create_token, parse_expiry, revoke_token, token_identity, tokens
from .credentials import TOUCH_EVERY, Identity, digest, holder_or_admin, read, write
from .errors import HandoffError, InvalidInput, SetupRequired
from .input_limits import MAX_NAME_CHARS
from .views import iso

if TYPE_CHECKING:
    from .facade import Handoff

MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024  # hashing is deliberately slow: a bound on what one request may make it do
MAX_ADDRESS_CHARS = 64

_hasher = PasswordHasher()  # argon2-cffi's defaults: Argon2id, RFC 9106's low-memory profile
_dummy_hash: str | None = None


class SignInFailed(HandoffError, exit_code=10):
    """Wrong name or password (which one is not said). `delay` is how long to wait before answering."""

    def __init__(self, message: str, delay: float) -> None:
        super().__init__(message)
        self.delay = delay


class SignInRefused(HandoffError, exit_code=10):
    """Too many failed sign-ins for this name or from this address: refused without checking."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SigninPolicy:
    """How sign-in is limited and how long a web session lasts (docs/security.md)."""

    window: timedelta = timedelta(minutes=15)  # failures count for this long
    max_failures_per_name: int = 5  # then the name is refused until its failures age out
    max_failures_per_address: int = 20  # then the address is refused likewise
    base_delay: float = 0.5  # seconds before answering the first failure; doubles with each one
    max_delay: float = 8.0
    session_idle: timedelta = timedelta(hours=2)  # a session unused this long ends
    session_lifetime: timedelta = timedelta(hours=12)  # and any session ends this long after sign-in

    def delay_after(self, failures: int) -> float:
        if failures <= 0:
            return 0.0
        return float(min(self.base_delay * 2 ** (failures - 1), self.max_delay))


@dataclass(frozen=True)
class NewSession:
    """A session just made: its id goes into the cookie and is never stored."""

    session_id: str
    csrf: str
    identity: Identity
    expires_at: datetime


@dataclass(frozen=True)
class PasswordSet:
    name: str
    set_at: datetime
    set_by: str | None
    sessions_ended: int

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "set_at": iso(self.set_at),
            "set_by": self.set_by,
            "sessions_ended": self.sessions_ended,
        }


# --- passwords ---------------------------------------------------------------------------------------


def set_password(app: Handoff, name: str, password: str, *, actor: str | None) -> PasswordSet:
    """Set NAME's password (admins for anyone, anyone for themselves); their web sessions end."""
    _check_password(name, password)
    hashed = _hasher.hash(password)  # slow on purpose: outside the transaction
    now = app.clock()
    with write(app) as session:
        user = holder_or_admin(session, actor, name, "set the password of")
        store.set_password(session, user.user_id, hashed, at=now, by=actor)
        ended = store.end_sessions_of(session, user.user_id)
        user_repo.add_audit(
            session, at=now, actor=actor, action="password_set", subject=name, data={"sessions_ended": ended}
        )
    return PasswordSet(name, now, actor, ended)


def _check_password(name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidInput(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise InvalidInput(f"a password may have at most {MAX_PASSWORD_CHARS} characters")
    if not password.strip():
        raise InvalidInput("a password may not be only spaces")
    if password.strip().casefold() == name.strip().casefold():
        raise InvalidInput("a password may not be the user's name")
    if any(c in password for c in "\r\n\x00"):
        raise InvalidInput("a password may not contain line breaks or NUL characters")


def password_matches(app: Handoff, name: str, password: str) -> bool:
    """Whether NAME's password is `password` (for a change of one's own password)."""
    with read(app) as session:
        user = store.user_ref(session, name)
        hashed = store.password_hash(session, user.user_id) if user is not None else None
    return user is not None and _verify(hashed, password) is None


# --- sign-in and sessions ----------------------------------------------------------------------------


def sign_in(
    app: Handoff,
    name: str,
    password: str,
    *,
    address: str,
    policy: SigninPolicy,
    replaces: str | None = None,
) -> NewSession:
    """Check NAME's password and open a web session (a new id every time; `replaces`, the caller's
    previous session id, ends). SignInRefused when the name or address has failed too often within the
    policy's window; SignInFailed (with the delay to wait) when the name or password is wrong."""
    address = (address or "unknown")[:MAX_ADDRESS_CHARS]
    name = (name or "").strip()[:MAX_NAME_CHARS]
    now = app.clock()
    since = now - policy.window
    with read(app) as session:
        by_name, by_address = store.failure_times(session, name=name, address=address, since=since)
        user = store.user_ref(session, name) if name else None
        hashed = store.password_hash(session, user.user_id) if user is not None else None
    refusal = _refusal(policy, now, by_name, by_address)
    if refusal is not None:
        with write(app) as session:
            user_repo.add_audit(
                session,
                at=now,
                actor=None,
                action="signin_refused",
                subject=name or "(no name)",
                data={"address": address, "failures": {"name": len(by_name), "address": len(by_address)}},
            )
        raise SignInRefused(refusal[0], refusal[1])
    reason = _verify(hashed, password)
    if user is None:
        reason = "unknown user"
    if user is None or reason is not None:
        with write(app) as session:
            store.add_failure(session, name=name, address=address, at=now, prune_before=since)
            user_repo.add_audit(
                session,
                at=now,
                actor=None,
                action="signin_failed",
                subject=name or "(no name)",
                data={"address": address, "reason": reason},
            )
        failures = max(len(by_name), len(by_address)) + 1
        raise SignInFailed("wrong user name or password", policy.delay_after(failures))
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + policy.session_lifetime
    with write(app) as session:
        if replaces:
            store.end_session(session, digest(replaces))
        store.prune_sessions(session, now, now - policy.session_idle)
        store.clear_failures(session, name)
        if hashed is not None and _hasher.check_needs_rehash(hashed):
            store.set_password(session, user.user_id, _hasher.hash(password), at=now, by=name)
        store.add_session(
            session,
            digest=digest(session_id),
            user_id=user.user_id,
            csrf=csrf,
            at=now,
            expires_at=expires_at,
            address=address,
        )
        user_repo.add_audit(
            session, at=now, actor=name, action="signed_in", subject=name, data={"address": address}
        )
    return NewSession(session_id, csrf, Identity(user.name, user.role, "session", csrf=csrf), expires_at)


def _refusal(
    policy: SigninPolicy, now: datetime, by_name: list[datetime], by_address: list[datetime]
) -> tuple[str, float] | None:
    """(message, seconds until a slot frees) when the name or address is over its limit."""
    waits = []
    if len(by_name) >= policy.max_failures_per_name:
        # The lock lifts when enough of the counted failures leave the window.
        oldest = by_name[len(by_name) - policy.max_failures_per_name]
        waits.append((oldest + policy.window - now).total_seconds())
    if len(by_address) >= policy.max_failures_per_address:
        oldest = by_address[len(by_address) - policy.max_failures_per_address]
        waits.append((oldest + policy.window - now).total_seconds())
    if not waits:
        return None
    wait = max(1.0, max(waits))
    minutes = max(1, round(wait / 60))
    return (
        f"too many failed sign-ins: try again in {minutes} minute{'s' if minutes != 1 else ''}",
        wait,
    )


def _verify(hashed: str | None, password: str) -> str | None:
    """None when `password` matches; else why not. Without a hash the work is done anyway, on a dummy,
    so that the answer's timing does not tell which names exist."""
    global _dummy_hash
    if len(password) > MAX_PASSWORD_CHARS:
        return "password too long"
    if hashed is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(16))
        with suppress(VerificationError):
            _hasher.verify(_dummy_hash, password)
        return "no password set"
    try:
        _hasher.verify(hashed, password)
    except VerificationError:
        return "wrong password"
    except InvalidHashError:
        return "stored hash unreadable"
    return None


def session_identity(app: Handoff, session_id: str, *, policy: SigninPolicy) -> Identity | None:
    """The signed-in user of a live session, or None (unknown, ended, idle too long, or too old)."""
    if not session_id or len(session_id) > 128:
        return None
    now = app.clock()
    key = digest(session_id)
    with read(app) as session:
        found = store.session_holder(session, key, now, now - policy.session_idle)
    if found is None:
        return None
    holder, csrf, seen_at = found
    if now - seen_at >= TOUCH_EVERY:
        with write(app) as session:
            store.touch_session(session, key, now)
    return Identity(holder.name, holder.role, "session", csrf=csrf)


def sign_out(app: Handoff, session_id: str) -> str | None:
    """End a session everywhere; the name of whom it belonged to (None: there was no such session)."""
    if not session_id or len(session_id) > 128:
        return None
    now = app.clock()
    with write(app) as session:
        name = store.end_session(session, digest(session_id))
        if name is not None:
            user_repo.add_audit(session, at=now, actor=name, action="signed_out", subject=name, data=None)
    return name


# --- serving -----------------------------------------------------------------------------------------


def check_can_serve(app: Handoff) -> list[str]:
    """SetupRequired unless the schema is current and an admin can sign in; else the admins who can."""
    with read(app) as session:
        admins, with_password = store.admins_with_password(session)
    if not admins:
        raise SetupRequired(
            "no admin can sign in: add one with 'handoff users add NAME --role admin', "
            "then give them a password with 'handoff users passwd NAME'"
        )
    if not with_password:
        first = admins[0]
        raise SetupRequired(
            f"no admin has a password, so nobody could sign in: 'handoff users passwd {first}' "
            f"(admins: {', '.join(admins)})"
        )
    return with_password


__all__ = [
    "Identity",
    "NewSession",
    "NewToken",
    "PasswordSet",
    "SignInFailed",
    "SignInRefused",
    "SigninPolicy",
    "TokenView",
    "check_can_serve",
    "create_token",
    "digest",
    "parse_expiry",
    "password_matches",
    "revoke_token",
    "session_identity",
    "set_password",
    "sign_in",
    "sign_out",
    "token_identity",
    "tokens",
]

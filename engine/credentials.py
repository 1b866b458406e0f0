"""What sign-in's use cases share (engine/signin.py, engine/api_tokens.py): who a proven caller is, the
digest that is all the database keeps of a token or session id, the transactions, and the rule that a
user's secrets are managed by the user or an admin."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from storage import ConcurrentUpdate
from storage import signin as store
from storage import users as user_repo

from . import access
from .access import Member
from .errors import Conflict, Forbidden, NotFound
from .readiness import require_schema

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .facade import Handoff

TOUCH_EVERY = timedelta(minutes=1)  # a session's idle clock and a token's last use: one write a minute


@dataclass(frozen=True)
class Identity:
    """Who is calling, proven by a token or a web session."""

    name: str
    role: str
    via: str  # "token" or "session"
    csrf: str | None = None  # the session's form token (sessions only)
    token_id: int | None = None


def digest(secret: str) -> str:
    """What is stored of a token or session id."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def holder_or_admin(session: Session, actor: str | None, name: str, phrase: str) -> store.Holder:
    """NAME's row, if `actor` is NAME or an admin (read in this transaction, never from a cache)."""
    table = user_repo.user_table(session)
    user = store.user_ref(session, (name or "").strip())
    if user is None:
        if not table:
            raise NotFound(f"user {name} does not exist: no users yet (add the first admin first)")
        raise NotFound(f"user {name} does not exist (see 'handoff users list')")
    if actor is not None and actor == user.name:
        return user
    members = {n: Member(n, role, frozenset(lanes)) for n, (role, lanes) in table.items()}
    try:
        access.check(members, actor, "users")
    except Forbidden:
        raise Forbidden(f"{actor} may not {phrase} {name}: only admins, or {name} themself") from None
    return user


@contextmanager
def write(app: Handoff) -> Iterator[Session]:
    """One unit of work; a lost race becomes the engine's Conflict, an outdated schema SetupRequired."""
    require_schema(app)
    try:
        with app.db.unit_of_work() as session:
            yield session
    except ConcurrentUpdate as exc:
        raise Conflict(f"changed by someone else at the same time; try again ({exc})") from exc


@contextmanager
def read(app: Handoff) -> Iterator[Session]:
    require_schema(app)
    with app.db.reader() as session:
        yield session

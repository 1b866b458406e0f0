"""People, lanes and roles (docs/users.md): add, change and remove users, list them, the audit log.

Until the first user is added Handoff is in single-user mode (no checks). The first user must be an
admin (else nobody could add the next one). User management always checks its actor against the table
as it is in its own transaction, and makes the application's cached table (engine/kernel/permissions.py)
be read again at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage import repository as repo
from storage import users as user_repo
from storage.models import User

from . import access, zones
from .access import ROLES
from .errors import Conflict, InvalidInput, NotFound
from .input_limits import whole
from .kernel.app import App
from .kernel.permissions import NAME_LIMIT, check_fresh
from .kernel.units import Units
from .views import AuditView, UserChange, UserView


def single_user_mode(app: App) -> bool:
    """True while no user is registered: anyone may do anything (read afresh, not cached)."""
    app.ready()
    with app.db.reader() as session:
        return user_repo.count_users(session) == 0


def add_user(
    app: App,
    units: Units,
    name: str,
    *,
    lanes: Sequence[str] | None = None,
    role: str | None = None,
    actor: str | None,
    tz: str | None = None,
    email: str | None = None,
) -> UserChange:
    """Register a user, or update an existing one (`tz`: the IANA time zone their times are shown in).

    A new user gets `role` (default operator) and `lanes`. For an existing name, a given `role`
    replaces the role and given `lanes` replace the lanes (None keeps them); the result says
    `changed` and what changed, or `unchanged`. The first user must be an admin; after that only
    admins manage users, and the last admin cannot stop being one.
    """
    app.ready()
    name = _clean_name(name)
    role = _clean_role(role)
    wanted_lanes = _clean_lanes(lanes)
    if tz is not None:
        tz = zones.check_zone(tz)
    if email is not None:
        email = _clean_email(email)
    now = app.clock()
    with units.operation() as work:
        session = work.session
        first = user_repo.count_users(session) == 0
        if first:
            if (role or "operator") != "admin":
                raise InvalidInput(
                    f"the first user must be an admin, or nobody could add the next one: "
                    f"handoff users add {name} --role admin"
                )
        else:
            check_fresh(session, actor)
        user = user_repo.get_user(session, name)
        if user is None:
            new_role = role or "operator"
            new_lanes = wanted_lanes or ()
            added = user_repo.add_user(session, name=name, role=new_role, lanes=new_lanes, at=now, by=actor)
            added.tz, added.email = tz, email
            user_repo.add_audit(
                session,
                at=now,
                actor=actor,
                action="user_added",
                subject=name,
                data={
                    "role": new_role,
                    "lanes": list(new_lanes),
                    **({"tz": tz} if tz else {}),
                    **({"email": email} if email else {}),
                },
            )
            result = UserChange(
                UserView(name, new_role, new_lanes, now, actor, tz=tz, email=email),
                "added",
                warnings=_lane_warnings(session, name, new_role, new_lanes),
            )
        else:
            result = _change_user(session, user, role, wanted_lanes, actor, now, tz, email)
    app.permissions.forget()
    return result


def _change_user(
    session: Any,
    user: User,
    role: str | None,
    lanes: tuple[str, ...] | None,
    actor: str | None,
    now: Any,
    tz: str | None = None,
    email: str | None = None,
) -> UserChange:
    old_lanes = tuple(user_repo.lanes_of(session, user.id))
    new_role = role or user.role
    new_lanes = old_lanes if lanes is None else lanes
    changes = []
    if new_role != user.role:
        if user.role == "admin" and user_repo.admin_names(session) == [user.name]:
            raise Conflict(
                f"{user.name} is the last admin and must stay one, or nobody could manage users: "
                f"make another admin first"
            )
        changes.append(f"role {user.role} -> {new_role}")
    if new_lanes != old_lanes:
        changes.append(f"lanes {', '.join(old_lanes) or '(none)'} -> {', '.join(new_lanes) or '(none)'}")
    new_tz = user.tz if tz is None else tz
    if new_tz != user.tz:
        changes.append(f"time zone {user.tz or '(default)'} -> {new_tz}")
    new_email = user.email if email is None else (email or None)
    if new_email != user.email:
        changes.append(f"e-mail {user.email or '(none)'} -> {new_email or '(none)'}")
    if not changes:
        view = UserView(
            user.name,
            user.role,
            old_lanes,
            user.created_at,
            user.created_by,
            user.updated_at,
            user.updated_by,
            user.tz,
            user.email,
        )
        return UserChange(view, "unchanged")
    user_repo.add_audit(
        session,
        at=now,
        actor=actor,
        action="user_changed",
        subject=user.name,
        data={
            "role": new_role,
            "lanes": list(new_lanes),
            "before": {"role": user.role, "lanes": list(old_lanes)},
            **({"tz": new_tz} if new_tz != user.tz else {}),
            **({"email": new_email} if new_email != user.email else {}),
        },
    )
    user.role, user.updated_at, user.updated_by, user.tz = new_role, now, actor, new_tz
    user.email = new_email
    if new_lanes != old_lanes:
        user_repo.set_lanes(session, user.id, new_lanes)
    view = UserView(
        user.name, new_role, new_lanes, user.created_at, user.created_by, now, actor, new_tz, new_email
    )
    return UserChange(
        view, "changed", tuple(changes), _lane_warnings(session, user.name, new_role, new_lanes)
    )


def remove_user(app: App, units: Units, name: str, *, actor: str | None) -> UserView:
    """Unregister a user: from now on they may do nothing. Their history keeps their name. The last
    admin cannot be removed (nobody could manage users, and there is no way back to single-user mode)."""
    app.ready()
    name = name.strip()
    now = app.clock()
    with units.operation() as work:
        session = work.session
        if user_repo.count_users(session) == 0:
            raise NotFound(f"user {name} does not exist: no users yet (single-user mode)")
        check_fresh(session, actor)
        user = user_repo.get_user(session, name)
        if user is None:
            raise NotFound(f"user {name} does not exist (see 'handoff users list')")
        if user.role == "admin" and user_repo.admin_names(session) == [user.name]:
            raise Conflict(
                f"{name} is the last admin and cannot be removed, or nobody could manage users: "
                f"make another admin first"
            )
        lanes = tuple(user_repo.lanes_of(session, user.id))
        view = UserView(
            user.name,
            user.role,
            lanes,
            user.created_at,
            user.created_by,
            user.updated_at,
            user.updated_by,
        )
        user_repo.remove_user(session, user)
        user_repo.add_audit(
            session,
            at=now,
            actor=actor,
            action="user_removed",
            subject=name,
            data={"role": view.role, "lanes": list(lanes)},
        )
    app.permissions.forget()
    return view


def users(app: App, *, actor: str | None = None) -> list[UserView]:
    """Every registered user, by name, with lanes and who added them when."""
    app.ready()
    app.permissions.authorize(actor, "read")
    with app.db.reader() as session:
        return [
            UserView(
                u.name,
                u.role,
                tuple(lanes),
                u.created_at,
                u.created_by,
                u.updated_at,
                u.updated_by,
                u.tz,
                u.email,
            )
            for u, lanes in user_repo.list_users(session)
        ]


def _clean_email(email: str) -> str:
    """An e-mail address for notifications ("" removes it): one line, an @, no spaces, at most 254."""
    text = email.strip()
    if text and (len(text) > 254 or text.count("@") != 1 or not text.isprintable() or " " in text):
        raise InvalidInput(f"{email!r} is not an e-mail address (name@example.org)")
    return text


def lane_members(app: App, lane: str) -> list[str]:
    """The registered users who may work the tasks of `lane` (its operators, and admins given the
    lane), sorted: the simulator's default staff. Empty in single-user mode."""
    return sorted(
        m.name for m in app.permissions.members().values() if lane in m.lanes and m.role in access.WORKERS
    )


def audit_log(
    app: App, *, subject: str | None = None, limit: int = 100, actor: str | None = None
) -> list[AuditView]:
    """Users added, changed and removed: who did it and when, oldest first (the newest `limit`)."""
    app.ready()
    app.permissions.authorize(actor, "audit")
    whole(limit, "limit")
    with app.db.reader() as session:
        return [
            AuditView(e.id, e.at, e.actor, e.action, e.subject, e.data)
            for e in user_repo.audit_entries(session, subject=subject, limit=limit)
        ]


def _lane_warnings(session: Any, name: str, role: str, lanes: Sequence[str]) -> tuple[str, ...]:
    """Likely mistakes, said but not refused: a lane no deployed process has, an operator with no lane."""
    warnings = []
    if role == "operator" and not lanes:
        warnings.append(f"{name} is an operator in no lane: they will see no tasks (add --lane LANE)")
    if lanes:
        known = {lane for p in repo.definitions_summary(session) for lane in p["lanes"]}
        for lane in lanes:
            if lane not in known:
                warnings.append(f"no deployed process has a lane {lane!r} (yet)")
    return tuple(warnings)


def _clean_name(name: str) -> str:
    cleaned = (name or "").strip()
    if not cleaned:
        raise InvalidInput("a user needs a name")
    if len(cleaned) > NAME_LIMIT:
        raise InvalidInput(f"user names are at most {NAME_LIMIT} characters")
    if any(c.isspace() or not c.isprintable() for c in cleaned):
        raise InvalidInput(f"user name {cleaned!r} may not contain spaces or control characters")
    return cleaned


def _clean_role(role: str | None) -> str | None:
    if role is None:
        return None
    cleaned = role.strip().lower()
    if cleaned not in ROLES:
        raise InvalidInput(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    return cleaned


def _clean_lanes(lanes: Sequence[str] | None) -> tuple[str, ...] | None:
    if lanes is None:
        return None
    if isinstance(lanes, str):  # one lane given where a list was meant
        lanes = [lanes]
    cleaned = []
    for lane in lanes:
        text = (lane or "").strip()
        if not text:
            raise InvalidInput("a lane needs a name")
        if len(text) > NAME_LIMIT:
            raise InvalidInput(f"lane names are at most {NAME_LIMIT} characters")
        if not text.isprintable():
            raise InvalidInput(f"lane name {text!r} may not contain control characters")
        cleaned.append(text)
    return tuple(sorted(set(cleaned)))

"""People, lanes and roles: the user services of `Handoff`, and the access checks the other services call.

Until the first user is added Handoff is in single-user mode: no checks at all. The first user must be
an admin (else nobody could add the next one). From then on every service checks its actor against the
user table (engine/access.py; docs/users.md), which each `Handoff` object caches for a few seconds and
re-reads at once after its own changes. User management itself always reads the table afresh, in its
own transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from storage import repository as repo
from storage import users as user_repo

from . import access
from .access import ROLES, Member
from .core import ServicesCore
from .errors import Conflict, InvalidInput, NotFound
from .views import AuditView, UserChange, UserView

if TYPE_CHECKING:
    from storage.models import HumanTask, User


NAME_LIMIT = 255


class UserServices(ServicesCore):
    """Mixed into `Handoff`, which provides what `ServicesCore` declares (engine/core.py)."""

    USERS_CACHE_SECONDS = 5.0
    _users_cache: tuple[float, dict[str, Member]] | None = None

    # --- the checks the services call ------------------------------------------------------------------

    def _members(self) -> dict[str, Member]:
        """The user table, re-read every few seconds: a check on every start or completion must cost
        next to nothing. Empty means single-user mode."""
        now = time.monotonic()
        cached = self._users_cache
        if cached is not None and cached[0] >= now:
            return cached[1]
        self._ready()
        with self.db.reader() as session:
            table = user_repo.user_table(session)
        members = {name: Member(name, role, frozenset(lanes)) for name, (role, lanes) in table.items()}
        self._users_cache = (now + self.USERS_CACHE_SECONDS, members)
        return members

    def _authorize(self, actor: str | None, action: str) -> Member | None:
        """Forbidden unless `actor` may do `action` (a key of access.RULES); None in single-user mode."""
        _check_actor(actor)
        members = self._members()
        if not members:
            return None
        return access.check(members, actor, action)

    def _authorize_task(self, actor: str | None, task: HumanTask, action: str) -> None:
        """Operators act on the tasks of their own lanes only: checked on the task row's lane."""
        _check_actor(actor)
        members = self._members()
        if not members:
            return
        member = access.check(members, actor, action)
        access.check_lane(member, action, f"task {task.id} ({task.name or task.element_id})", task.lane)

    # --- services ------------------------------------------------------------------------------------

    def single_user_mode(self) -> bool:
        """True while no user is registered: anyone may do anything (read afresh, not cached)."""
        self._ready()
        with self.db.reader() as session:
            return user_repo.count_users(session) == 0

    def add_user(
        self,
        name: str,
        *,
        lanes: Sequence[str] | None = None,
        role: str | None = None,
        actor: str | None,
    ) -> UserChange:
        """Register a user, or update an existing one.

        A new user gets `role` (default operator) and `lanes`. For an existing name, a given `role`
        replaces the role and given `lanes` replace the lanes (None keeps them); the result says
        `changed` and what changed, or `unchanged`. The first user must be an admin; after that only
        admins manage users, and the last admin cannot stop being one.
        """
        self._ready()
        name = _clean_name(name)
        role = _clean_role(role)
        wanted_lanes = _clean_lanes(lanes)
        now = self.clock()
        with self._uow() as session:
            first = user_repo.count_users(session) == 0
            if first:
                if (role or "operator") != "admin":
                    raise InvalidInput(
                        f"the first user must be an admin, or nobody could add the next one: "
                        f"handoff users add {name} --role admin"
                    )
            else:
                self._check_fresh(session, actor)
            user = user_repo.get_user(session, name)
            if user is None:
                new_role = role or "operator"
                new_lanes = wanted_lanes or ()
                user_repo.add_user(session, name=name, role=new_role, lanes=new_lanes, at=now, by=actor)
                user_repo.add_audit(
                    session,
                    at=now,
                    actor=actor,
                    action="user_added",
                    subject=name,
                    data={"role": new_role, "lanes": list(new_lanes)},
                )
                result = UserChange(
                    UserView(name, new_role, new_lanes, now, actor),
                    "added",
                    warnings=self._lane_warnings(session, name, new_role, new_lanes),
                )
            else:
                result = self._change_user(session, user, role, wanted_lanes, actor, now)
        self._users_cache = None
        return result

    def _change_user(
        self,
        session: Any,
        user: User,
        role: str | None,
        lanes: tuple[str, ...] | None,
        actor: str | None,
        now: Any,
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
        if not changes:
            view = UserView(
                user.name,
                user.role,
                old_lanes,
                user.created_at,
                user.created_by,
                user.updated_at,
                user.updated_by,
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
            },
        )
        user.role, user.updated_at, user.updated_by = new_role, now, actor
        if new_lanes != old_lanes:
            user_repo.set_lanes(session, user.id, new_lanes)
        view = UserView(user.name, new_role, new_lanes, user.created_at, user.created_by, now, actor)
        return UserChange(
            view, "changed", tuple(changes), self._lane_warnings(session, user.name, new_role, new_lanes)
        )

    def remove_user(self, name: str, *, actor: str | None) -> UserView:
        """Unregister a user: from now on they may do nothing. Their history keeps their name. The last
        admin cannot be removed (nobody could manage users, and there is no way back to single-user mode)."""
        self._ready()
        name = name.strip()
        now = self.clock()
        with self._uow() as session:
            if user_repo.count_users(session) == 0:
                raise NotFound(f"user {name} does not exist: no users yet (single-user mode)")
            self._check_fresh(session, actor)
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
        self._users_cache = None
        return view

    def users(self, *, actor: str | None = None) -> list[UserView]:
        """Every registered user, by name, with lanes and who added them when."""
        self._ready()
        self._authorize(actor, "read")
        with self.db.reader() as session:
            return [
                UserView(
                    u.name,
                    u.role,
                    tuple(lanes),
                    u.created_at,
                    u.created_by,
                    u.updated_at,
                    u.updated_by,
                )
                for u, lanes in user_repo.list_users(session)
            ]

    def lane_members(self, lane: str) -> list[str]:
        """The registered users who may work the tasks of `lane` (its operators, and admins given the
        lane), sorted: the simulator's default staff. Empty in single-user mode."""
        return sorted(
            m.name for m in self._members().values() if lane in m.lanes and m.role in access.WORKERS
        )

    def audit_log(
        self, *, subject: str | None = None, limit: int = 100, actor: str | None = None
    ) -> list[AuditView]:
        """Users added, changed and removed: who did it and when, oldest first (the newest `limit`)."""
        self._ready()
        self._authorize(actor, "audit")
        with self.db.reader() as session:
            return [
                AuditView(e.id, e.at, e.actor, e.action, e.subject, e.data)
                for e in user_repo.audit_entries(session, subject=subject, limit=limit)
            ]

    # --- internals -----------------------------------------------------------------------------------

    @staticmethod
    def _check_fresh(session: Any, actor: str | None) -> None:
        """Managing users is checked on the table as it is now, in this transaction, never on the cache."""
        table = user_repo.user_table(session)
        members = {n: Member(n, role, frozenset(lanes)) for n, (role, lanes) in table.items()}
        access.check(members, actor, "users")

    @staticmethod
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


def _check_actor(actor: str | None) -> None:
    # In single-user mode anyone acts under any name, and the name is stored with what they do.
    if actor is not None and (len(actor) > NAME_LIMIT or not actor.isprintable()):
        raise InvalidInput(
            f"the acting user's name must be at most {NAME_LIMIT} printable characters "
            f"(got {len(actor)} characters)"
        )


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

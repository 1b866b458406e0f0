"""The access checks every use case makes: its actor against the user table (engine/access.py has the rules).

Until the first user is added Handoff is in single-user mode: no checks at all. The table is cached
for a few seconds per application (a check on every start or completion must cost next to nothing)
and read again at once after this application's own changes to it; user management itself checks
against the table as it is in its own transaction (`check_fresh`).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from storage import Database, reads

from .. import access
from ..access import Member
from ..errors import InvalidInput
from .assignment import split
from .schema import Schema

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from .rows import TaskRow

NAME_LIMIT = 255


class Permissions:
    CACHE_SECONDS = 5.0

    def __init__(self, db: Database, schema: Schema) -> None:
        self._db = db
        self._schema = schema
        self._cached: tuple[float, dict[str, Member]] | None = None

    def members(self) -> dict[str, Member]:
        """The registered users by name (cached briefly); empty means single-user mode."""
        now = time.monotonic()
        cached = self._cached
        if cached is not None and cached[0] >= now:
            return cached[1]
        self._schema.ready()
        with self._db.connection() as conn:  # no ORM: every command, reads included, checks its actor
            members = _members(reads.user_table(conn))
        self._cached = (now + self.CACHE_SECONDS, members)
        return members

    def forget(self) -> None:
        """Read the table again next time: this application just changed it."""
        self._cached = None

    def authorize(self, actor: str | None, action: str) -> Member | None:
        """Forbidden unless `actor` may do `action` (a key of access.RULES); None in single-user mode."""
        check_actor(actor)
        members = self.members()
        if not members:
            return None
        return access.check(members, actor, action)

    def may(self, actor: str | None, action: str) -> bool:
        """Whether `actor` may do `action`, without refusing anything (everyone may in single-user mode)."""
        members = self.members()
        if not members:
            return True
        member = members.get(actor or "")
        return member is not None and member.role in access.RULES[action].roles

    def authorize_task(self, actor: str | None, task: TaskRow, action: str) -> None:
        """Operators act on the tasks of their own lanes, and on those the model assigns to them or makes
        them a candidate for (a candidate user, or a member of a candidate group): docs/assignment.md."""
        check_actor(actor)
        members = self.members()
        if not members:
            return
        member = access.check(members, actor, action)
        if may_work_on(member, task):
            return
        access.check_lane(member, action, f"task {task.id} ({task.name or task.element_id})", task.lane)


def may_work_on(member: Member, task: TaskRow) -> bool:
    """Beyond the lane: the task's assignee, a candidate user, or a member of a candidate group."""
    if task.assignee is not None and task.assignee == member.name:
        return True
    if member.name in split(task.candidate_users):
        return True
    return any(group in member.lanes for group in split(task.candidate_groups))


def check_fresh(session: Session, actor: str | None) -> None:
    """Managing users is checked on the table as it is now, in this transaction, never on the cache."""
    access.check(_members(reads.user_table(session)), actor, "users")


def _members(table: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, Member]:
    return {name: Member(name, role, frozenset(lanes)) for name, (role, lanes) in table.items()}


def check_actor(actor: str | None) -> None:
    """The acting user's name must be storable: in single-user mode anyone acts under any name, and the
    name is stored with what they do."""
    if actor is not None and (len(actor) > NAME_LIMIT or not actor.isprintable()):
        raise InvalidInput(
            f"the acting user's name must be at most {NAME_LIMIT} printable characters "
            f"(got {len(actor)} characters)"
        )

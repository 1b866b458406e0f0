"""Who may do what: roles, the actions each allows, and the one-line refusals (docs/users.md).

Pure rules over a snapshot of the user table; the services hold the snapshot (cached briefly) and call
`check` at the top of each use case. With no users at all Handoff is in single-user mode and the
services never get here.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Forbidden

ROLES = ("designer", "operator", "analyst", "admin")
EVERYONE = frozenset(ROLES)
WORKERS = frozenset({"operator", "admin"})  # who may act on tasks (operators: of their lanes only)


@dataclass(frozen=True)
class Rule:
    phrase: str  # completes "NAME may not ..."
    roles: frozenset[str]


# Admins may do everything, the work of any lane included (to unstick it); each action keeps its actor.
RULES: dict[str, Rule] = {
    "read": Rule("read processes, instances and settings", EVERYONE),
    "deploy": Rule("deploy processes", frozenset({"designer", "admin"})),
    # Trusted scripts run as full Python with the engine's own rights (files, network, the database).
    "deploy_trusted": Rule("deploy processes with trusted scripts (full Python)", frozenset({"admin"})),
    "start": Rule("start instances", frozenset({"operator", "designer", "admin"})),
    "tasks": Rule("list tasks", WORKERS),
    "claim": Rule("claim tasks", WORKERS),
    "unclaim": Rule("release tasks", WORKERS),
    "complete": Rule("complete tasks", WORKERS),
    "comment": Rule("comment on tasks and instances", WORKERS),
    "history": Rule("read history records (handoffs, crossings, delays)", frozenset({"analyst", "admin"})),
    "report": Rule("read the report", frozenset({"analyst", "admin"})),
    "export": Rule("export the history", frozenset({"analyst", "admin"})),
    "audit": Rule("read the audit log", frozenset({"analyst", "admin"})),
    "message": Rule("send messages and signals", frozenset({"operator", "designer", "admin"})),
    "retry": Rule("retry incidents", frozenset({"admin"})),
    "suspend": Rule("suspend or resume instances", frozenset({"admin"})),
    "terminate": Rule("terminate instances", frozenset({"admin"})),
    "migrate": Rule("migrate or modify running instances", frozenset({"admin"})),
    "cleanup": Rule("delete finished instances", frozenset({"admin"})),
    "sla": Rule("set SLAs", frozenset({"admin"})),
    "notify": Rule("manage mail notifications", frozenset({"admin"})),
    "users": Rule("manage users", frozenset({"admin"})),
}


@dataclass(frozen=True)
class Member:
    """One registered user, as the checks see them."""

    name: str
    role: str
    lanes: frozenset[str]

    def works_in(self, lane: str | None) -> bool:
        """May act on a task of this lane: admins on any; operators on their lanes' (a task in no lane
        belongs to no operator)."""
        if self.role == "admin":
            return True
        return self.role == "operator" and lane is not None and lane in self.lanes

    def lanes_text(self) -> str:
        return ", ".join(sorted(self.lanes)) if self.lanes else "no lane"


def _roles_text(roles: frozenset[str]) -> str:
    ordered = [r for r in ROLES if r in roles]
    return ordered[0] if len(ordered) == 1 else ", ".join(ordered[:-1]) + " or " + ordered[-1]


def check(users: dict[str, Member], actor: str | None, action: str) -> Member:
    """The acting member if their role allows `action`; Forbidden (one line) if not, or if unknown."""
    rule = RULES[action]
    if actor is None or not actor.strip():
        raise Forbidden(
            f"nobody may {rule.phrase} without a name: users are registered here, so give one "
            f"(--user NAME or HANDOFF_USER)"
        )
    member = users.get(actor)
    if member is None:
        raise Forbidden(
            f"{actor} may not {rule.phrase}: {actor} is not a registered user "
            f"(an admin adds people with 'handoff users add NAME --role ROLE --lane LANE')"
        )
    if member.role not in rule.roles:
        raise Forbidden(
            f"{actor} ({member.role}) may not {rule.phrase}: that needs role {_roles_text(rule.roles)}"
        )
    return member


def check_lane(member: Member, action: str, task_label: str, lane: str | None) -> None:
    """Operators act only on tasks of their own lanes; the check is on the task's lane."""
    if member.works_in(lane):
        return
    verb = {"claim": "claim", "unclaim": "release", "complete": "complete", "comment": "comment on"}.get(
        action, action
    )
    where = f"it is in lane {lane}" if lane else "it is in no lane, so only an admin may"
    raise Forbidden(
        f"{member.name} ({member.role}) may not {verb} {task_label}: {where}; "
        f"{member.name} works in {member.lanes_text()}"
    )


def check_lane_filter(member: Member, lane: str | None) -> None:
    """An operator asking for another lane's tasks is told so, not shown an empty list."""
    if lane is not None and not member.works_in(lane):
        raise Forbidden(
            f"{member.name} ({member.role}) may not list the tasks of lane {lane}: "
            f"{member.name} works in {member.lanes_text()}"
        )

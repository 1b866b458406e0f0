"""The task list (`handoff tasks`, the web's work lists): a read that needs the database and the views,
not the workflow runtime nor the ORM (Core rows on a Connection: storage/reads.py), so that listing work
starts fast (engine/lazy_modules.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import reads

from . import access
from .input_limits import whole
from .kernel import rows
from .views import TaskView

if TYPE_CHECKING:
    from .kernel.app import App


def list_tasks(
    app: App,
    *,
    lane: str | None = None,
    assignee: str | None = None,
    instance_id: int | None = None,
    include_closed: bool = False,
    actor: str | None = None,
    candidate: str | None = None,
    mine: bool = False,
    overdue: bool = False,
) -> list[TaskView]:
    """Human tasks, by priority then age; an operator sees those of their own lanes and those the model
    assigns to them or makes them a candidate for (admins see all). `mine`: assigned to the actor or
    claimable by them; `candidate`: naming that user, or a group (lane) of theirs, as candidates;
    `overdue`: open and past due (the model's due date, else the SLA from ready; docs/assignment.md)."""
    app.ready()
    member = app.permissions.authorize(actor, "tasks")
    if instance_id is not None:
        whole(instance_id, "instance")
    lanes = None
    if member is not None and member.role != "admin":
        access.check_lane_filter(member, lane)
        lanes = sorted(member.lanes)
    members = app.permissions.members()
    now = app.clock()
    with app.db.connection() as conn:
        sla = app.sla.get(conn)
        found = reads.list_tasks(
            conn,
            lane=lane,
            assignee=assignee,
            instance_id=instance_id,
            include_closed=include_closed,
            lanes=lanes,
            viewer=actor,
            candidate=(candidate, _groups(members, candidate) or ()) if candidate else None,
            mine=(actor or "", _groups(members, actor)) if mine else None,
            overdue=(now, sla) if overdue else None,
        )
        return [rows.task_view(row, row.process_id, row.instance_status, sla=sla, now=now) for row in found]


def _groups(members: dict[str, access.Member], name: str | None) -> list[str] | None:
    """The groups (lanes) a user works in; None when they may claim any task (single-user mode, admins)."""
    member = members.get(name or "")
    if not members or (member is not None and member.role == "admin"):
        return None
    return sorted(member.lanes) if member is not None else []

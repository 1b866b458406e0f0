"""The task list (`handoff tasks`, the web's work lists): a read that needs the database and the views,
not the workflow runtime, so that listing work starts fast (engine/lazy_modules.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import repository as repo

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
) -> list[TaskView]:
    """Human tasks; an operator sees those of their own lanes only (admins see all)."""
    app.ready()
    member = app.permissions.authorize(actor, "tasks")
    if instance_id is not None:
        whole(instance_id, "instance")
    lanes = None
    if member is not None and member.role != "admin":
        access.check_lane_filter(member, lane)
        lanes = sorted(member.lanes)
    with app.db.reader() as session:
        return [
            rows.task_view(task, process, instance_status)
            for task, process, instance_status in repo.list_tasks(
                session,
                lane=lane,
                assignee=assignee,
                instance_id=instance_id,
                include_closed=include_closed,
                lanes=lanes,
            )
        ]

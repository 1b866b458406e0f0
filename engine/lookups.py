"""Reads the web door needs that the `Handoff` use cases do not offer yet: a process's versions and one
task. Each takes the `Handoff` application and plain values, and checks the actor's role (and lane) with
the rules the use cases use."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import access, worklists
from .errors import NotFound
from .readiness import require_schema
from .views import TaskView, iso

if TYPE_CHECKING:
    from .facade import Handoff


def process_versions(app: Handoff, process_id: str, *, actor: str | None) -> list[dict[str, Any]]:
    """Every deployed version of a process, newest first, as JSON; NotFound if none is."""
    require_schema(app)
    worklists.authorize(app.db, actor, "read")
    found = worklists.versions(app.db, process_id)
    if not found:
        raise NotFound(f"process '{process_id}' is not deployed (see 'handoff processes')")
    return [
        {
            "process": v.process,
            "version": v.version,
            "name": v.name,
            "deployed_at": iso(v.deployed_at),
            "deployed_by": v.deployed_by,
            "trusted_scripts": v.trusted_scripts,
            "instances": v.instances,
            "files": list(v.files),
        }
        for v in found
    ]


def task(app: Handoff, task_id: int, *, actor: str | None) -> TaskView:
    """One human task (open or closed) with its form: 404 if there is none, 403 for an operator
    outside its lane who is neither its assignee nor a candidate (as claiming it would be)."""
    require_schema(app)
    place = worklists.task_lane(app.db, task_id)
    if place is None:
        raise NotFound(f"task {task_id} does not exist (see 'handoff tasks')")
    instance_id, lane = place
    member = worklists.authorize(app.db, actor, "tasks")
    # The list shows an operator their lanes' tasks and those assigned to them or naming them as candidates
    for view in app.tasks(instance_id=instance_id, include_closed=True, actor=actor):
        if view.id == task_id:
            return view
    if member is not None:
        access.check_lane(member, "open", f"task {task_id}", lane)
    raise NotFound(f"task {task_id} does not exist (see 'handoff tasks')")

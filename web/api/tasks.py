"""Human tasks: list, one with its form, claim, unclaim, complete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from engine import lookups

from ..auth import User, handoff
from .common import CommentBody, DataBody, JsonRoute, parse_flag

router = APIRouter(prefix="/tasks", tags=["tasks"], route_class=JsonRoute)


@router.get("")
def list_tasks(
    request: Request,
    user: User,
    lane: str | None = None,
    mine: str | None = None,
    assignee: str | None = None,
    candidate: str | None = None,
    overdue: str | None = None,
    instance: int | None = None,
    all: str | None = None,
) -> list[dict[str, Any]]:
    """Open human tasks (ready and claimed; `all` adds closed ones) of the caller's lanes and those
    assigned to them or naming them as candidates, by priority then age (as `handoff tasks --json`);
    `mine`: assigned to the caller or claimable by them; `assignee`, `candidate`: that user's;
    `overdue`: past due."""
    items = handoff(request).tasks(
        lane=lane or None,
        mine=parse_flag(mine, "mine"),
        assignee=assignee or None,
        candidate=candidate or None,
        overdue=parse_flag(overdue, "overdue"),
        instance_id=instance,
        include_closed=parse_flag(all, "all"),
        actor=user.name,
    )
    return [t.to_json() for t in items]


@router.get("/{task_id}")
def show_task(request: Request, user: User, task_id: int) -> dict[str, Any]:
    """One task with its form; 403 for an operator outside its lane."""
    return lookups.task(handoff(request), task_id, actor=user.name).to_json()


@router.post("/{task_id}/comments", status_code=201)
def comment(request: Request, user: User, task_id: int, body: CommentBody) -> dict[str, Any]:
    """A comment on the task, by someone who may work on it (as `handoff comment TASK TEXT --json`)."""
    return handoff(request).comment(body.text, task_id=task_id, actor=user.name).to_json()


@router.post("/{task_id}/claim")
def claim(request: Request, user: User, task_id: int) -> dict[str, Any]:
    """Take a task; 409 if someone else holds it or it is no longer open."""
    return handoff(request).claim(task_id, actor=user.name).to_json()


@router.post("/{task_id}/unclaim")
def unclaim(request: Request, user: User, task_id: int) -> dict[str, Any]:
    """Release a claimed task back to its lane."""
    return handoff(request).unclaim(task_id, actor=user.name).to_json()


@router.post("/{task_id}/complete")
def complete(request: Request, user: User, task_id: int, body: DataBody | None = None) -> dict[str, Any]:
    """Complete a task with form data (checked against its form, 422 naming the fields at fault), then
    run the instance on; answers the instance (as `handoff complete --json`)."""
    data = body.data if body is not None else {}
    return handoff(request).complete(task_id, data=data, actor=user.name).to_json()

"""Instances: list, show, history; incidents and lifecycle (retry, suspend, resume, terminate)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from ..auth import User, handoff
from .common import CommentBody, DataBody, JsonRoute, ReasonBody

router = APIRouter(prefix="/instances", tags=["instances"], route_class=JsonRoute)

MAX_LIMIT = 1000


@router.get("")
def list_instances(
    request: Request,
    user: User,
    process: str | None = None,
    status: str | None = None,
    key: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    var: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Instances, newest first (as `handoff instances --json`); `offset` skips the newest ones; `var`
    (repeatable) filters by data as `--var` does: `amount>1000`, `region=EU`, `note~late`."""
    items = handoff(request).instances(
        process_id=process or None,
        status=status or None,
        business_key=key or None,
        variables=[v for v in var or () if v],
        limit=limit + offset,  # the engine has no offset yet: the page is cut here
        actor=user.name,
    )
    return [i.to_json() for i in items[offset : offset + limit]]


@router.get("/{instance_id}")
def show(request: Request, user: User, instance_id: int) -> dict[str, Any]:
    """One instance: status, data, open tasks, timeline, what it waits for (as `handoff show --json`)."""
    app = handoff(request)
    view = app.show(instance_id, actor=user.name)
    waits = app.waits_of(instance_id, actor=user.name)
    return view.to_json(with_timeline=True) | {"waits_for": [w.to_json() for w in waits]}


@router.get("/{instance_id}/history")
def history(request: Request, user: User, instance_id: int) -> dict[str, Any]:
    """The timeline with handoffs, crossings and delays (as `handoff history --json`)."""
    return handoff(request).history(instance_id, actor=user.name).to_json()


@router.post("/{instance_id}/comments", status_code=201)
def comment(request: Request, user: User, instance_id: int, body: CommentBody) -> dict[str, Any]:
    """A comment on the instance (as `handoff comment --instance I TEXT --json`)."""
    return handoff(request).comment(body.text, instance_id=instance_id, actor=user.name).to_json()


@router.post("/{instance_id}/retry")
def retry(request: Request, user: User, instance_id: int, body: DataBody | None = None) -> dict[str, Any]:
    """Run the failed task again, with corrected data if given (as `handoff retry --json`)."""
    data = body.data if body is not None else {}
    return handoff(request).retry(instance_id, data=data, actor=user.name).to_json()


@router.post("/{instance_id}/suspend")
def suspend(request: Request, user: User, instance_id: int, body: ReasonBody | None = None) -> dict[str, Any]:
    """Put an instance on hold (admins)."""
    reason = body.reason if body is not None else None
    return handoff(request).suspend(instance_id, reason=reason, actor=user.name).to_json()


@router.post("/{instance_id}/resume")
def resume(request: Request, user: User, instance_id: int) -> dict[str, Any]:
    """Take a suspended instance off hold (admins)."""
    return handoff(request).resume(instance_id, actor=user.name).to_json()


@router.post("/{instance_id}/terminate")
def terminate(
    request: Request, user: User, instance_id: int, body: ReasonBody | None = None
) -> dict[str, Any]:
    """End an instance for good; its open tasks are cancelled (admins)."""
    reason = body.reason if body is not None else None
    return handoff(request).terminate(instance_id, reason=reason, actor=user.name).to_json()

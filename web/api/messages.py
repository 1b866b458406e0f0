"""Messages and signals from outside: resume waiting instances or start processes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from ..auth import User, handoff
from .common import JsonRoute, MessageBody, SignalBody

router = APIRouter(tags=["messages"], route_class=JsonRoute)


@router.post("/messages/{name}")
def message(request: Request, user: User, name: str, body: MessageBody | None = None) -> list[dict[str, Any]]:
    """Deliver message NAME (correlated by `key`); answers the instances it reached or started (as
    `handoff message --json`); 404 when nothing waits for it."""
    body = body or MessageBody()
    views = handoff(request).message(
        name, key=body.key, data=body.data, instance_id=body.instance, every=body.all, actor=user.name
    )
    return [v.to_json() for v in views]


@router.post("/signals/{name}")
def signal(request: Request, user: User, name: str, body: SignalBody | None = None) -> list[dict[str, Any]]:
    """Broadcast signal NAME to every instance that waits for it (as `handoff signal --json`)."""
    body = body or SignalBody()
    views = handoff(request).signal(name, data=body.data, instance_id=body.instance, actor=user.name)
    return [v.to_json() for v in views]

"""Repairing running work: migrate instances to another version, restart an instance from an activity,
cancel one of its activities (issue 16). Admins only, as on the command line."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from ..auth import User, handoff
from .common import JsonRoute

router = APIRouter(tags=["repair"], route_class=JsonRoute)


class MigrationBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to_version: int = Field(ge=1)
    from_version: int | None = Field(default=None, ge=1)
    instances: list[int] = Field(default_factory=list, max_length=10_000)
    dry_run: bool = False


@router.post("/processes/{process}/migrations")
def migrate(request: Request, user: User, process: str, body: MigrationBody) -> dict[str, Any]:
    """Move the process's unfinished instances (all not on `to_version`, those on `from_version`, or
    those listed) to `to_version`; with `dry_run`, only say per instance what would change (as
    `handoff migrate --json`)."""
    report = handoff(request).migrate(
        process,
        to_version=body.to_version,
        from_version=body.from_version,
        instance_ids=body.instances,
        dry_run=body.dry_run,
        actor=user.name,
    )
    return report.to_json()


class RestartBody(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    element: str = Field(alias="from", min_length=1, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict)


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    task: int = Field(ge=1)


@router.post("/instances/{instance_id}/restart")
def restart(request: Request, user: User, instance_id: int, body: RestartBody) -> dict[str, Any]:
    """Restart an instance from an activity it completed, with corrected data if given (as
    `handoff restart --json`)."""
    view = handoff(request).restart(
        instance_id, element=body.element, data=body.data or None, actor=user.name
    )
    return view.to_json()


@router.post("/instances/{instance_id}/cancel")
def cancel(request: Request, user: User, instance_id: int, body: CancelBody) -> dict[str, Any]:
    """Cancel one open task of an instance where the model allows it (as `handoff cancel --json`)."""
    return handoff(request).cancel(instance_id, task_id=body.task, actor=user.name).to_json()

"""What the services return: plain frozen dataclasses, with the --json shapes of DESIGN §7."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


@dataclass(frozen=True)
class Deployment:
    process: str
    version: int
    new: bool
    name: str | None
    lanes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    trusted_scripts: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "version": self.version,
            "new": self.new,
            "name": self.name,
            "lanes": list(self.lanes),
            "warnings": list(self.warnings),
            "trusted_scripts": self.trusted_scripts,
        }


@dataclass(frozen=True)
class ProcessSummary:
    process: str
    name: str | None
    version: int
    lanes: tuple[str, ...]
    instances: dict[str, int]
    deployed_at: datetime
    deployed_by: str | None
    trusted_scripts: bool = False  # of the latest version: full Python instead of the script sandbox

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "name": self.name,
            "version": self.version,
            "lanes": list(self.lanes),
            "instances": dict(self.instances),
            "deployed_at": iso(self.deployed_at),
            "deployed_by": self.deployed_by,
            "trusted_scripts": self.trusted_scripts,
        }


@dataclass(frozen=True)
class TaskView:
    id: int
    instance: int
    process: str
    element: str
    name: str | None
    type: str
    lane: str | None
    state: str
    assignee: str | None
    created_at: datetime
    due_at: datetime | None
    form: tuple[dict[str, Any], ...]
    claimed_at: datetime | None = None
    completed_at: datetime | None = None
    completed_by: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.element

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance": self.instance,
            "process": self.process,
            "element": self.element,
            "name": self.name,
            "type": self.type,
            "lane": self.lane,
            "state": self.state,
            "assignee": self.assignee,
            "created_at": iso(self.created_at),
            "due_at": iso(self.due_at),
            "claimed_at": iso(self.claimed_at),
            "completed_at": iso(self.completed_at),
            "completed_by": self.completed_by,
            "form": [dict(f) for f in self.form],
        }


@dataclass(frozen=True)
class TimelineEntry:
    id: int
    at: datetime
    kind: str
    element: str | None
    name: str | None
    type: str | None
    lane: str | None
    actor: str | None
    task: int | None
    data: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "kind": self.kind,
            "element": self.element,
            "name": self.name,
            "type": self.type,
            "lane": self.lane,
            "actor": self.actor,
            "task": self.task,
            "data": self.data,
        }


@dataclass(frozen=True)
class InstanceView:
    id: int
    process: str
    version: int
    status: str
    business_key: str | None
    data: dict[str, Any]
    tasks: tuple[TaskView, ...]
    error: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    started_by: str | None
    next_due_at: datetime | None = None
    timeline: tuple[TimelineEntry, ...] = field(default=())
    attempts: int = 0  # automatic retries made for the current failure

    @property
    def incident(self) -> bool:
        """In error with no retry to come: a person must act."""
        return self.status == "error" and self.next_due_at is None

    def to_json(self, *, with_timeline: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "process": self.process,
            "version": self.version,
            "status": self.status,
            "business_key": self.business_key,
            "data": self.data,
            "tasks": [t.to_json() for t in self.tasks],
            "error": self.error,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
            "started_by": self.started_by,
            "next_due_at": iso(self.next_due_at),
            **failure_json(self.status, self.error, self.next_due_at, self.attempts),
        }
        if with_timeline:
            out["timeline"] = [e.to_json() for e in self.timeline]
        return out


@dataclass(frozen=True)
class InstanceSummary:
    id: int
    process: str
    version: int
    status: str
    business_key: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    error: dict[str, Any] | None
    next_due_at: datetime | None = None
    attempts: int = 0  # automatic retries made for the current failure

    @property
    def incident(self) -> bool:
        """In error with no retry to come: a person must act."""
        return self.status == "error" and self.next_due_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "process": self.process,
            "version": self.version,
            "status": self.status,
            "business_key": self.business_key,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "completed_at": iso(self.completed_at),
            "error": self.error,
            **failure_json(self.status, self.error, self.next_due_at, self.attempts),
        }


def failure_json(
    status: str, error: dict[str, Any] | None, next_due_at: datetime | None, attempts: int
) -> dict[str, Any]:
    """The retry state of an instance in error (docs/incidents.md): automatic retries made and allowed,
    the next one's time, or `incident` when none is to come."""
    if status != "error":
        return {"attempts": attempts, "retries": None, "next_retry_at": None, "incident": False}
    return {
        "attempts": attempts,
        "retries": (error or {}).get("retries"),
        "next_retry_at": iso(next_due_at),
        "incident": next_due_at is None,
    }


@dataclass(frozen=True)
class HandoffView:
    id: int
    instance: int
    process: str
    from_element: str
    from_name: str | None
    to_element: str
    to_name: str | None
    from_actor: str | None
    to_actor: str | None
    from_lane: str | None
    to_lane: str | None
    from_at: datetime
    to_at: datetime
    latency_seconds: float
    from_event: int
    to_event: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance": self.instance,
            "process": self.process,
            "from": {
                "element": self.from_element,
                "name": self.from_name,
                "actor": self.from_actor,
                "lane": self.from_lane,
                "at": iso(self.from_at),
                "event": self.from_event,
            },
            "to": {
                "element": self.to_element,
                "name": self.to_name,
                "actor": self.to_actor,
                "lane": self.to_lane,
                "at": iso(self.to_at),
                "event": self.to_event,
            },
            "from_actor": self.from_actor,
            "to_actor": self.to_actor,
            "from_lane": self.from_lane,
            "to_lane": self.to_lane,
            "latency_seconds": self.latency_seconds,
            "crosses_boundary": self.from_lane != self.to_lane,
        }


@dataclass(frozen=True)
class CrossingView:
    id: int
    instance: int
    process: str
    from_element: str
    from_name: str | None
    to_element: str
    to_name: str | None
    from_lane: str | None
    to_lane: str | None
    at: datetime
    ping_pong: bool
    from_event: int
    to_event: int

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance": self.instance,
            "process": self.process,
            "from": {
                "element": self.from_element,
                "name": self.from_name,
                "lane": self.from_lane,
                "event": self.from_event,
            },
            "to": {
                "element": self.to_element,
                "name": self.to_name,
                "lane": self.to_lane,
                "event": self.to_event,
            },
            "from_lane": self.from_lane,
            "to_lane": self.to_lane,
            "at": iso(self.at),
            "ping_pong": self.ping_pong,
        }


@dataclass(frozen=True)
class DelayView:
    id: int
    instance: int
    process: str
    kind: str
    task: int | None
    element: str | None
    name: str | None
    lane: str | None
    started_at: datetime
    waited_seconds: float
    threshold_seconds: float
    threshold_source: str
    still_open: bool
    detected_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "instance": self.instance,
            "process": self.process,
            "kind": self.kind,
            "task": self.task,
            "element": self.element,
            "name": self.name,
            "lane": self.lane,
            "started_at": iso(self.started_at),
            "waited_seconds": self.waited_seconds,
            "threshold_seconds": self.threshold_seconds,
            "threshold_source": self.threshold_source,
            "still_open": self.still_open,
            "detected_at": iso(self.detected_at),
        }


@dataclass(frozen=True)
class SlaView:
    scope: str
    lane: str | None
    duration: str
    seconds: float
    updated_at: datetime
    updated_by: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "lane": self.lane,
            "duration": self.duration,
            "seconds": self.seconds,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class UserView:
    name: str
    role: str
    lanes: tuple[str, ...]
    created_at: datetime
    created_by: str | None
    updated_at: datetime | None = None
    updated_by: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "lanes": list(self.lanes),
            "created_at": iso(self.created_at),
            "created_by": self.created_by,
            "updated_at": iso(self.updated_at),
            "updated_by": self.updated_by,
        }


@dataclass(frozen=True)
class UserChange:
    """What `add_user` did: `added`, `changed` (an existing user's role or lanes) or `unchanged`."""

    user: UserView
    action: str
    changes: tuple[str, ...] = ()  # e.g. "role operator -> admin", "lanes Sales -> Finance, Sales"
    warnings: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return self.user.to_json() | {
            "action": self.action,
            "changes": list(self.changes),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class AuditView:
    """One administrative action (a user added, changed or removed): who did what to whom, when."""

    id: int
    at: datetime
    actor: str | None
    action: str
    subject: str
    data: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": iso(self.at),
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "data": self.data,
        }

"""Views of instances, their tasks and their timelines (the --json shapes of DESIGN §7)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .base import iso
from .comments import CommentView


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
    on_hold: bool = False  # its instance is suspended: nobody may claim or complete it until resumed
    # From the model (docs/assignment.md); due_at is the model's due date, else the SLA from ready.
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()
    follow_up_at: datetime | None = None
    priority: int = 50
    overdue: bool = False  # open and past due_at when it was read

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
            "candidate_users": list(self.candidate_users),
            "candidate_groups": list(self.candidate_groups),
            "priority": self.priority,
            "created_at": iso(self.created_at),
            "due_at": iso(self.due_at),
            "follow_up_at": iso(self.follow_up_at),
            "overdue": self.overdue,
            "claimed_at": iso(self.claimed_at),
            "completed_at": iso(self.completed_at),
            "completed_by": self.completed_by,
            "on_hold": self.on_hold,
            # A field's extension properties (simulation hints such as p_true) are not part of the form.
            "form": [{k: v for k, v in f.items() if k != "properties"} for f in self.form],
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
    timeline: tuple[TimelineEntry, ...] | None = field(default=())  # None: the reader may not see history
    attempts: int = 0  # automatic retries made for the current failure
    comments: tuple[CommentView, ...] = ()  # on the instance and its tasks, oldest first (`show` reads them)

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
            "comments": [c.to_json() for c in self.comments],
        }
        if with_timeline and self.timeline is not None:
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


@dataclass(frozen=True, order=True)
class Wait:
    """One thing an instance waits for from outside: a row of the `subscription` table."""

    kind: str  # message or signal
    name: str
    correlation: str | None  # the value of the message's correlation property, once the instance has one
    element_id: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "key": self.correlation, "element": self.element_id}

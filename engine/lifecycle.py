"""Handoff's own lifecycle events: what history rows and every hook see (never SpiffWorkflow objects)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

HUMAN_TYPES = frozenset({"userTask", "manualTask", "task"})

KINDS = (
    "instance_started",
    "instance_completed",
    "instance_failed",
    "instance_terminated",
    "instance_retried",
    "instance_suspended",
    "instance_resumed",
    "incident_opened",
    "task_ready",
    "task_claimed",
    "task_released",
    "task_completed",
    "task_error",
    "task_cancelled",
    "timer_fired",
    "error_caught",
    "escalation_caught",
    "message_received",
    "message_sent",
    "signal_received",
    "signal_sent",
    "hook_failed",
)


# slots: a simulation holds every event of its batch for the notify hooks until the commit, and the
# cyclic GC walks them all at each full collection; without a __dict__ each costs one object less.
@dataclass(slots=True)
class LifecycleEvent:
    """One change of an instance, in the order it happened.

    `token` names the activity instance (it stays the same from ready to completed) and `cause` the
    activity instance whose completion made this one reachable (its causal predecessor, DESIGN §3).
    `opens` is true on an activity instance's first event: task_ready for work that waits in a queue,
    task_completed for automated work. `id` is set once the history recorder has written the event.
    """

    kind: str
    instance_id: int
    process_id: str
    version: int
    at: datetime
    actor: str | None = None
    element_id: str | None = None
    element_name: str | None = None
    element_type: str | None = None
    lane: str | None = None
    task_id: int | None = None
    data: dict[str, Any] | None = None
    token: str | None = None
    cause: str | None = None
    opens: bool = False
    id: int | None = field(default=None, compare=False)

    @property
    def is_human(self) -> bool:
        return self.element_type in HUMAN_TYPES

    def row(self) -> dict[str, Any]:
        """The history row this event is stored as."""
        return {
            "instance_id": self.instance_id,
            "process_id": self.process_id,
            "version": self.version,
            "task_id": self.task_id,
            "element_id": self.element_id,
            "element_name": self.element_name,
            "element_type": self.element_type,
            "lane": self.lane,
            "kind": self.kind,
            "actor": self.actor,
            "at": self.at,
            "data": self.data,
            "token": self.token,
            "cause": self.cause,
        }

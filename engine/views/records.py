"""Views of the hook records (handoffs, crossings, delays) and SLA settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import iso
from .instances import InstanceView, TimelineEntry


def _side(
    element: str,
    name: str | None,
    lane: str | None,
    event: int,
    actor: str | None | bool = False,
    at: datetime | None = None,
) -> dict[str, Any]:
    """One end of a handoff or crossing, as the JSON shows it (a handoff's ends also have actor and time)."""
    side: dict[str, Any] = {"element": element, "name": name}
    if actor is not False:
        side["actor"] = actor
    side["lane"] = lane
    if at is not None:
        side["at"] = iso(at)
    side["event"] = event
    return side


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
            "from": _side(
                self.from_element,
                self.from_name,
                self.from_lane,
                self.from_event,
                self.from_actor,
                self.from_at,
            ),
            "to": _side(
                self.to_element, self.to_name, self.to_lane, self.to_event, self.to_actor, self.to_at
            ),
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
            "from": _side(self.from_element, self.from_name, self.from_lane, self.from_event),
            "to": _side(self.to_element, self.to_name, self.to_lane, self.to_event),
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
class HistoryEntry:
    """One event of an instance's timeline with what happened at it: how long the task had waited (at
    its claim or completion), the boundary crossing or handoff it made, the delay it broke."""

    event: TimelineEntry
    waited_seconds: float | None = None
    crossing: CrossingView | None = None
    handoff: HandoffView | None = None
    delay: DelayView | None = None


@dataclass(frozen=True)
class InstanceHistory:
    """An instance's timeline with its handoffs, crossings and delays (`handoff history`)."""

    instance: InstanceView
    entries: tuple[HistoryEntry, ...]
    handoffs: tuple[HandoffView, ...]
    crossings: tuple[CrossingView, ...]
    delays: tuple[DelayView, ...]

    def to_json(self) -> dict[str, Any]:
        out = self.instance.to_json(with_timeline=True)
        out["handoffs"] = [h.to_json() for h in self.handoffs]
        out["crossings"] = [c.to_json() for c in self.crossings]
        out["delays"] = [d.to_json() for d in self.delays]
        return out

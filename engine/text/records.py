"""The hook records as text: handoffs, boundary crossings, delays, and the SLA settings."""

from __future__ import annotations

from collections.abc import Sequence

from ..views import CrossingView, DelayView, HandoffView, SlaView
from . import duration, table, when


def handoffs(items: Sequence[HandoffView]) -> str:
    if not items:
        return "no handoffs"
    rows = [
        (
            h.instance,
            f"{h.from_name or h.from_element} -> {h.to_name or h.to_element}",
            f"{h.from_actor} -> {h.to_actor}",
            f"{h.from_lane or '-'} -> {h.to_lane or '-'}",
            when(h.from_at),
            when(h.to_at),
            duration(h.latency_seconds),
        )
        for h in items
    ]
    return table(["INST", "FROM -> TO", "WHO", "LANES", "DONE", "TAKEN UP", "LATENCY"], rows)


def crossings(items: Sequence[CrossingView]) -> str:
    if not items:
        return "no boundary crossings"
    rows = [
        (
            c.instance,
            when(c.at),
            f"{c.from_lane} -> {c.to_lane}",
            f"{c.from_name or c.from_element} -> {c.to_name or c.to_element}",
            "ping-pong" if c.ping_pong else "",
        )
        for c in items
    ]
    return table(["INST", "AT", "LANES", "FROM -> TO", "NOTE"], rows)


def delays(items: Sequence[DelayView]) -> str:
    if not items:
        return "no delays"
    rows = [
        (
            d.instance,
            d.task or "",
            d.name or d.element or "(instance cycle time)",
            d.lane or "",
            duration(d.waited_seconds) + (" so far" if d.still_open else ""),
            f"{duration(d.threshold_seconds)} ({d.threshold_source})",
            when(d.detected_at),
        )
        for d in items
    ]
    return table(["INST", "TASK", "WHAT", "LANE", "WAITED", "SLA", "DETECTED"], rows)


def sla_set(view: SlaView) -> str:
    return f"SLA for {('lane ' + view.lane) if view.lane else 'everything else'}: {view.duration}"


def sla_list(items: Sequence[SlaView]) -> str:
    if not items:
        return "no SLA defaults set (BPMN `sla` properties still apply)"
    rows = [(i.lane or "(default)", i.duration, when(i.updated_at), i.updated_by or "") for i in items]
    return table(["LANE", "SLA", "SET", "BY"], rows)

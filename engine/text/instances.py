"""Instances as text: one instance (`show`, and after every change), the list, the history timeline."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..views import HistoryEntry, InstanceHistory, InstanceSummary, InstanceView, TimelineEntry, Wait
from . import comments, duration, table, when


def failure(error: dict[str, Any]) -> str:
    """Where and why an instance failed: `Charge card (charge) line 3: message`."""
    task = error.get("task")
    where = f"{error.get('task_name')} ({task})" if error.get("task_name") else (task or "the process")
    line = f" line {error['line']}" if error.get("line") else ""
    return f"{where}{line}: {error.get('message', '')}"


def next_step(instance_id: int, error: dict[str, Any], next_due_at: Any, attempts: int) -> str:
    """What comes next for an instance in error: the automatic retry, or an incident for people."""
    retries = error.get("retries") or 0
    if next_due_at is not None:
        return f"automatic retry {attempts + 1} of {retries} at {when(next_due_at)}"
    made = f"after {attempts} automatic retr{'y' if attempts == 1 else 'ies'}; " if attempts else ""
    return f"incident: {made}fix the cause, then 'handoff retry {instance_id}' (or terminate it)"


def message_note(kind: str, data: dict[str, Any] | None) -> str:
    """What a message or signal event of the history says: its name, key, and where it went or came from."""
    word = kind.split("_", 1)[0]
    if word not in ("message", "signal") or not data:
        return ""
    text = f"'{data.get(word, '')}'" + (f" key {data['key']}" if data.get("key") else "")
    if kind.endswith("_sent"):
        went = [f"to instance {i}" for i in data.get("to") or ()]
        went += [f"started instance {i}" for i in data.get("started") or ()]
        return f"{text} {', '.join(went) or '(nobody waited)'}"
    source = data.get("from")
    return f"{text} from instance {source['instance']}" if source else f"{text} from outside"


def instance(view: InstanceView, *, timeline: bool = False, waits: Sequence[Wait] = ()) -> str:
    """Status, data, open tasks, what it waits for and (for `show`) its timeline."""
    lines = [
        f"instance {view.id}  {view.process} v{view.version}  {view.status.upper()}"
        + (f"  key={view.business_key}" if view.business_key else ""),
        f"started {when(view.created_at)} by {view.started_by or '-'}"
        + (f", completed {when(view.completed_at)}" if view.completed_at else ""),
    ]
    if view.error and view.status == "error":
        lines.append(f"{'incident' if view.incident else 'failed'}: {failure(view.error)}")
        lines.append(f"  {next_step(view.id, view.error, view.next_due_at, view.attempts)}")
    if view.data:
        lines.append("data: " + ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in view.data.items()))
    if view.tasks:
        lines.append("open tasks:")
        for t in view.tasks:
            who = f" claimed by {t.assignee}" if t.assignee else ""
            lines.append(f"  [{t.id}] {t.label}  ({t.lane or 'no lane'}) {t.state}{who}")
    elif view.status in ("running", "waiting"):
        lines.append("open tasks: none (waiting for an event)")
    for w in waits:
        key = f" (key {w.correlation})" if w.correlation else ""
        lines.append(f"waits for {w.kind} '{w.name}'{key} at {w.element_id}")
    lines += comments.listed(view.comments)
    if timeline and view.timeline is None:
        lines.append(f"timeline: for analysts and admins ('handoff history {view.id}')")
    elif timeline and view.timeline:
        lines.append("timeline:")
        lines += [f"  {when(e.at)}  {_event_line(e)}" for e in view.timeline]
    return "\n".join(lines)


def _event_line(e: TimelineEntry) -> str:
    what = e.kind.replace("_", " ")
    subject = f" {e.name or e.element}" if e.element else ""
    lane = f" [{e.lane}]" if e.lane else ""
    actor = f" by {e.actor}" if e.actor else ""
    note = message_note(e.kind, e.data)
    return f"{what}{subject}{lane}{actor}{': ' + note if note else ''}"


def changed(kind: str, name: str, views: Sequence[InstanceView]) -> str:
    """The instances a message or signal reached."""
    parts = [f"{kind} '{name}' reached {len(views)} instance{'s' if len(views) != 1 else ''}"]
    parts += ["\n" + instance(view) for view in views]
    return "\n".join(parts)


def instances(items: Sequence[InstanceSummary]) -> str:
    """The list of instances; with any in error, each failure's retries, next retry and cause."""
    if not items:
        return "no instances"
    failed = any(i.status == "error" for i in items)
    rows = []
    for i in items:
        row: tuple[Any, ...] = (
            i.id,
            i.process,
            i.version,
            i.status,
            i.business_key or "",
            when(i.created_at),
            when(i.updated_at),
        )
        if failed:
            error = i.error or {}
            in_error = i.status == "error"
            retries = f"{i.attempts}/{error.get('retries') or 0}" if in_error else ""
            then = ("incident" if i.incident else when(i.next_due_at)) if in_error else ""
            cause = failure(error) if in_error else ""
            row += (retries, then, cause if len(cause) <= 100 else cause[:99] + "…")
        rows.append(row)
    headers = ["ID", "PROCESS", "VER", "STATUS", "KEY", "STARTED", "UPDATED"]
    if failed:
        headers += ["RETRIES", "NEXT RETRY", "CAUSE"]
    return table(headers, rows)


def history(found: InstanceHistory) -> str:
    """The timeline with what happened at each event: waits, crossings, handoffs, delays, failures."""
    view = found.instance
    head = f"instance {view.id}  {view.process} v{view.version}  {view.status.upper()}" + (
        f"  key={view.business_key}" if view.business_key else ""
    )
    rows = []
    for entry in found.entries:
        e = entry.event
        subject = e.name or e.element or ""
        what = f"{e.kind.replace('_', ' ')} {subject}".strip()
        rows.append((when(e.at), e.actor or "", e.lane or "", what, "; ".join(_notes(entry))))
    lines = [head, table(["WHEN", "WHO", "LANE", "WHAT", "NOTES"], rows)]
    for d in found.delays:
        if d.task is None:
            lines.append(
                f"cycle time {duration(d.waited_seconds)} exceeded its SLA of "
                f"{duration(d.threshold_seconds)} ({d.threshold_source})"
            )
    return "\n".join(lines)


def _notes(entry: HistoryEntry) -> list[str]:
    e = entry.event
    notes = []
    if entry.waited_seconds is not None:
        notes.append(f"waited {duration(entry.waited_seconds)}")
    if entry.crossing is not None:
        c = entry.crossing
        notes.append(f"crossed {c.from_lane} -> {c.to_lane}" + (" (ping-pong)" if c.ping_pong else ""))
    if entry.handoff is not None:
        h = entry.handoff
        notes.append(f"handoff {h.from_actor} -> {h.to_actor} after {duration(h.latency_seconds)}")
    if entry.delay is not None:
        notes.append(f"DELAYED: SLA {duration(entry.delay.threshold_seconds)}")
    data = e.data or {}
    if e.kind == "instance_failed" and data:
        notes.append(str(data.get("message", ""))[:100])
        if data.get("retry_at"):
            notes.append(f"retry at {when(datetime.fromisoformat(data['retry_at'].replace('Z', '+00:00')))}")
    if e.kind == "comment_added":
        notes.append(str(data.get("text", "")))
    if e.kind in ("instance_suspended", "instance_terminated") and data.get("reason"):
        notes.append(str(data["reason"]))
    if e.kind == "instance_migrated" and data:
        notes.append(f"v{data.get('from_version')} -> v{data.get('to_version')}")
    if e.kind == "instance_restarted" and data:
        notes.append(
            f"from {data.get('from')}"
            + (f", cancelled {', '.join(data['cancelled'])}" if data.get("cancelled") else "")
        )
    note = message_note(e.kind, data)
    if note:
        notes.append(note)
    return notes

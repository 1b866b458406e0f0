"""Human tasks as text: the task list with each form's fields."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..views import TaskView
from . import table, when

HEADERS = [
    "TASK",
    "INST",
    "PROCESS",
    "NAME",
    "LANE",
    "STATE",
    "ASSIGNEE",
    "PRI",
    "READY SINCE",
    "DUE",
    "FORM (* required)",
]


def tasks(items: Sequence[TaskView]) -> str:
    if not items:
        return "no open tasks"
    rows = []
    for t in items:
        rows.append(
            (
                t.id,
                t.instance,
                t.process,
                t.label,
                t.lane or "",
                f"{t.state} (on hold)" if t.on_hold and t.state in ("ready", "claimed") else t.state,
                t.assignee or t.completed_by or candidates(t),
                t.priority,
                when(t.created_at),
                f"{when(t.due_at)} OVERDUE" if t.overdue else when(t.due_at),
                ", ".join(form_field(f) for f in t.form),
            )
        )
    return table(HEADERS, rows)


def candidates(view: TaskView) -> str:
    """Who may claim an unassigned task beyond its lane: `candidates: bob, group Sales`."""
    names = [*view.candidate_users, *(f"group {g}" for g in view.candidate_groups)]
    return f"candidates: {', '.join(names)}" if names else ""


def form_field(field: dict[str, Any]) -> str:
    """`amount*:long "Order amount"`, `decision:enum(approve|reject)`: what to give with --data (* required),
    with the label a form shows when it says more than the id."""
    values = "|".join(v["id"] for v in field.get("values") or ())
    label = field.get("label")
    named = f' "{label}"' if label and label != field["id"] else ""
    kind = field.get("type", "string") + (f"({values})" if values else "")
    return f"{field['id']}{'*' if field.get('required') else ''}:{kind}{named}"


def claimed(view: TaskView) -> str:
    return f"task {view.id} ({view.label}) claimed by {view.assignee}"


def released(view: TaskView) -> str:
    return f"task {view.id} ({view.label}) released to {view.lane or 'its lane'}"

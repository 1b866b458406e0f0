"""Human tasks as text: the task list with each form's fields."""

from __future__ import annotations

from collections.abc import Sequence

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
    "READY SINCE",
    "DUE",
    "FORM (* required)",
]


def tasks(items: Sequence[TaskView]) -> str:
    if not items:
        return "no open tasks"
    rows = []
    for t in items:
        fields = ", ".join(
            f"{f['id']}{'*' if f.get('required') else ''}:{f.get('type', 'string')}" for f in t.form
        )
        rows.append(
            (
                t.id,
                t.instance,
                t.process,
                t.label,
                t.lane or "",
                t.state,
                t.assignee or "",
                when(t.created_at),
                when(t.due_at),
                fields,
            )
        )
    return table(HEADERS, rows)


def claimed(view: TaskView) -> str:
    return f"task {view.id} ({view.label}) claimed by {view.assignee}"


def released(view: TaskView) -> str:
    return f"task {view.id} ({view.label}) released to {view.lane or 'its lane'}"

"""The report's numbers, stored when they happen: a human task's waiting and processing seconds.

A record hook, registered with the built-in recorders (engine/hooks/recorders.py `BUILT_IN`): in the
transaction of each completion it writes the two durations onto the task's row, so that the CPO report
reads numbers through an index instead of subtracting timestamps over every task of the history
(storage/analytics.py, docs/report.md). A handoff's latency is stored by the handoff recorder the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..lazy_modules import lazy_module
from ..lifecycle import LifecycleEvent
from .specs import RecordContext, hookimpl

if TYPE_CHECKING:
    from storage import repository as repo
else:  # loaded on first use: a read command never runs this module's writes (issue 17)
    repo = lazy_module("storage.repository")


def task_numbers(ready: datetime, claimed: datetime | None, completed: datetime) -> dict[str, float]:
    """DESIGN §3: waiting = ready -> claimed (or -> completed if never claimed); processing = claimed ->
    completed, 0 when never claimed (taken up and finished at once)."""
    taken = claimed or completed
    return {
        "wait_seconds": (taken - ready).total_seconds(),
        "processing_seconds": (completed - taken).total_seconds(),
    }


class TaskTimesRecorder:
    """On `task_completed` of a task row: its waiting and processing seconds, on the row."""

    kinds = frozenset({"task_completed"})

    @hookimpl
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        rows: list[dict[str, Any]] = []
        for event in events:
            data = event.data or {}
            if event.kind != "task_completed" or event.task_id is None or not data.get("ready_at"):
                continue
            claimed = data.get("claimed_at")
            numbers = task_numbers(
                datetime.fromisoformat(data["ready_at"]),
                datetime.fromisoformat(claimed) if claimed else None,
                event.at,
            )
            rows.append({"id": event.task_id, **numbers})
        if rows:
            repo.set_task_values(context.session, rows)


__all__ = ["TaskTimesRecorder", "task_numbers"]

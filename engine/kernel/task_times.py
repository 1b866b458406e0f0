"""The report's numbers of a human task, written on its row by the completion itself.

A completion's own UPDATE (engine/tasks.py) stores the task's waiting and processing seconds beside its
state, so that the CPO report reads numbers through an index instead of subtracting timestamps over every
task of the history (storage/analytics.py, docs/report.md). They were once written by a record hook, a
second UPDATE of the same row in the same transaction (~4% of a completion, issue 17).
"""

from __future__ import annotations

from datetime import datetime


def task_numbers(ready: datetime, claimed: datetime | None, completed: datetime) -> dict[str, float]:
    """DESIGN §3: waiting = ready -> claimed (or -> completed if never claimed); processing = claimed ->
    completed, 0 when never claimed (taken up and finished at once)."""
    taken = claimed or completed
    return {
        "wait_seconds": (taken - ready).total_seconds(),
        "processing_seconds": (completed - taken).total_seconds(),
    }


__all__ = ["task_numbers"]

"""What each instance waits for from outside (messages, signals), kept in the `subscription` table at
every state change, so that delivery finds its receivers by an index lookup (docs/messages.md).

A workflow remembers what the table says for it, so that an operation that changes no wait writes no
subscription (a live workflow of a batch is not loaded again: it remembers across operations).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from storage import subscriptions as subs
from storage.models import ProcessInstance

from .. import runtime
from ..runtime import messaging
from ..views import Wait

_NOT_RECEIVING = ("completed", "terminated")  # statuses whose subscriptions are deleted


def _now_waiting(instance: ProcessInstance, workflow: runtime.Workflow) -> frozenset[Wait]:
    return frozenset() if instance.status in _NOT_RECEIVING else messaging.waits(workflow)


def write(
    session: Session, instance: ProcessInstance, workflow: runtime.Workflow, now: datetime, *, new: bool
) -> None:
    """Make the subscription table say what the instance waits for now."""
    waiting = _now_waiting(instance, workflow)
    before = messaging.remembered_waits(workflow)
    if before is None and new:
        before = frozenset()
    if before != waiting:
        subs.replace(
            session,
            instance.id,
            [(w.kind, w.name, w.correlation, w.element_id) for w in sorted(waiting)],
            now,
            had_rows=before is None or bool(before),
        )
    messaging.remember_waits(workflow, waiting)


def remember(instance: ProcessInstance, workflow: runtime.Workflow) -> None:
    """Note what a workflow just loaded waits for: the subscription table holds the same."""
    messaging.remember_waits(workflow, _now_waiting(instance, workflow))

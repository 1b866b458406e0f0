"""One operation (a start, a completion, a timer firing, a delivery...): what it changes, collected while it
runs and written at its end."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from storage import repository as repo
from storage.models import ProcessInstance

from .. import runtime
from ..lifecycle import LifecycleEvent
from .work import Work


class Outbox(Protocol):
    """Where an operation inside a delivery leaves what its instance threw (the transaction's router,
    engine/kernel/routing.py), instead of routing it itself."""

    def keep(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, workflow: runtime.Workflow
    ) -> None: ...

    def push(
        self, instance: ProcessInstance, definition: runtime.LoadedDefinition, outbox: list[Any]
    ) -> None: ...


@dataclass
class Operation:
    """What one operation did: its events, its failure, the instance it is about; written at its end."""

    work: Work
    now: datetime
    actor: str | None
    events: list[LifecycleEvent] = field(default_factory=list)
    failure: runtime.Failure | None = None
    instance_id: int | None = None
    router: Outbox | None = None  # inside a message or signal delivery: the transaction's router

    def completion_order(self, tokens: Iterable[str]) -> dict[str, int]:
        """Rank activity instances by completion: stored history first, then this operation's events."""
        wanted = set(tokens)
        memo = self.work.memo
        ranks: dict[str, int] = {}
        for token in wanted:
            step = memo.completed.get(token)
            if step is not None and step.id is not None:
                ranks[token] = step.id
        missing = wanted - set(ranks)
        if self.instance_id in memo.born:
            missing = set()  # started in this transaction: every completion it had is in the memo
        if missing and self.instance_id is not None:
            ranks.update(repo.completion_ranks(self.work.session, self.instance_id, sorted(missing)))
        for position, event in enumerate(self.events):
            if event.kind == "task_completed" and event.token in wanted:
                ranks[event.token] = 1 << 62 | position
        return ranks

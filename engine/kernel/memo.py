"""What a transaction learnt and may reuse while it lasts."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..hooks import CompletedStep
from ..lifecycle import LifecycleEvent


@dataclass
class Memo:
    """What a transaction learnt and may reuse: valid for as long as it lasts, since history is append-only.

    `completed`: activity completions recorded (or looked up) in it, by token, with their event ids;
    `born`: instances started in it (every completion of theirs is in `completed`); `refs`: (process,
    version) -> (definition id, version), for a batch that starts many instances of one version;
    `unchecked`: which of those came from an earlier transaction, unchecked as yet.
    """

    completed: dict[str, CompletedStep | None] = field(default_factory=dict)
    born: set[int] = field(default_factory=set)
    refs: dict[tuple[str, int | None], tuple[int, int] | None] = field(default_factory=dict)
    # process id -> the remembered latest (definition id, version) a start took without a lookup: its
    # instance's INSERT checks that no newer version exists (kernel/definitions.py, `Definitions.ref`)
    unchecked: dict[str, tuple[int, int]] = field(default_factory=dict)

    def remember(self, events: Iterable[LifecycleEvent]) -> None:
        """Completions just recorded (their ids set by the history recorder)."""
        for event in events:
            if event.kind == "task_completed" and event.token is not None:
                self.completed[event.token] = CompletedStep.of(event)

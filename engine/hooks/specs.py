"""The hook API (DESIGN §2): the two hook specifications, the markers, and what a record hook is given.

A record hook runs inside the transaction of a state change and may add rows through the session of
its `RecordContext`; a notify hook runs after the commit. Hooks see Handoff's `LifecycleEvent`s only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

from ..lazy_modules import lazy_module
from ..lifecycle import HUMAN_TYPES, LifecycleEvent

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from bpmn import ProcessModel
    from storage import repository as repo
else:  # loaded on first use: a read command never runs this module's writes (issue 17)
    repo = lazy_module("storage.repository")

PROJECT = "handoff"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class CompletedStep:
    """What the recorders need of an activity's completion, from this operation or from stored history."""

    id: int | None
    token: str | None
    cause: str | None
    actor: str | None
    lane: str | None
    element_id: str | None
    element_name: str | None
    element_type: str | None
    at: datetime

    @classmethod
    def of(cls, source: Any) -> CompletedStep:
        """From a `task_completed` LifecycleEvent, or a stored event row (an object or a dict)."""
        names = _STEP_FIELDS
        if isinstance(source, dict):
            return cls(*[source[name] for name in names])
        return cls(*[getattr(source, name) for name in names])

    @property
    def is_human(self) -> bool:
        return self.element_type in HUMAN_TYPES


# The fields in order, read once: `dataclasses.fields` costs more than the copy, once per completed step.
_STEP_FIELDS = tuple(f.name for f in fields(CompletedStep))


@dataclass
class RecordContext:
    """What a record hook gets beside the events: the open unit of work and the instance's model.

    `session` is the SQLAlchemy session of the state change's transaction: rows added through it are
    committed with the change, or rolled back with it. `model` is the process version's model (lanes,
    elements, properties); `batch` is the operation's events; `sla_settings` returns the lane and global
    SLA defaults (cached briefly by the engine). `completions` are the completions the engine already
    knows in this transaction, by activity instance (token): the engine keeps it current after every
    recording, so lookups through `completed` cost a query only for older history.
    """

    session: Session
    model: ProcessModel
    batch: list[LifecycleEvent]
    sla_settings: Callable[[], dict[tuple[str, str], float]] | None = None
    completions: dict[str, CompletedStep | None] = field(default_factory=dict)

    def completed(self, instance_id: int, token: str | None) -> CompletedStep | None:
        """The completion of activity instance `token`: this operation's events, then what the engine
        knows in this transaction, then the stored history."""
        if token is None:
            return None
        for event in reversed(self.batch):
            if event.kind == "task_completed" and event.token == token and event.instance_id == instance_id:
                return CompletedStep.of(event)
        if token in self.completions:
            return self.completions[token]
        row = repo.completed_event(self.session, instance_id, token)
        found = CompletedStep.of(row) if row is not None else None
        self.completions[token] = found
        return found

    def sla(self) -> dict[tuple[str, str], float]:
        """(scope, lane) -> seconds of the configured SLA defaults (scope 'lane' or 'default')."""
        if self.sla_settings is not None:
            return self.sla_settings()
        return repo.sla_settings(self.session)


class HookSpecs:
    @hookspec
    def handoff_record(self, events: Sequence[LifecycleEvent], context: RecordContext) -> None:
        """Inside the transaction of the state change; raising rolls the whole operation back."""

    @hookspec
    def handoff_notify(self, events: Sequence[LifecycleEvent]) -> None:
        """After the commit; raising is logged and stored as a `hook_failed` event, the change stands."""

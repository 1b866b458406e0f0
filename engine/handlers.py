"""Service task handlers: Python callables that packages register under the entry-point group
`handoff.services` (docs/services.md), and what each one is given (`ServiceCall`).

A handler takes one `ServiceCall` and returns a dict (or None) that is merged into the task's data. It
runs inside the operation that reaches the task, before that operation's transaction commits: if it
raises, the task fails and the retry policy applies; if the transaction later fails, nothing of the
step is stored and the handler will be called again. Handlers must therefore be idempotent:
`ServiceCall.key` is the same on every run of the same task.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import EntryPoint, entry_points
from typing import Any

ENTRY_POINT_GROUP = "handoff.services"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceCall:
    """What a handler is given: the task, its instance, its parameters and a read-only copy of its data."""

    handler: str
    process: str
    instance: int | None  # None while the instance is being started in this very transaction
    business_key: str | None
    element: str
    name: str | None
    lane: str | None
    task_id: str  # SpiffWorkflow's id of this run of the task: the same on every retry of it
    attempt: int  # 1 on the first run, 2 on the first retry, ...
    now: datetime
    params: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """An idempotency key for the outside system: one per run of this task, stable across retries."""
        return f"handoff:{self.process}:{self.task_id}"


Handler = Callable[[ServiceCall], Mapping[str, Any] | None]


class HandlerUnavailable(Exception):
    """An installed handler that cannot be loaded (its package is broken or missing a module)."""


class ServiceRegistry:
    """Handlers by name: those given explicitly, then the installed `handoff.services` entry points.

    Entry points are looked up once and each loaded on first use, so a broken package fails only the
    tasks that name it (as an incident that names the package), never every command.
    """

    def __init__(
        self, handlers: Mapping[str, Handler] | None = None, *, load_entry_points: bool = True
    ) -> None:
        self._handlers: dict[str, Handler] = dict(handlers or {})
        self._load_entry_points = load_entry_points
        self._entry_points: dict[str, EntryPoint] | None = None

    def register(self, name: str, handler: Handler) -> None:
        self._handlers[name] = handler

    def _installed(self) -> dict[str, EntryPoint]:
        if self._entry_points is None:
            found = entry_points(group=ENTRY_POINT_GROUP) if self._load_entry_points else ()
            self._entry_points = {ep.name: ep for ep in found}
        return self._entry_points

    def names(self) -> list[str]:
        return sorted(set(self._handlers) | set(self._installed()))

    def __contains__(self, name: object) -> bool:
        return name in self._handlers or name in self._installed()

    def get(self, name: str) -> Handler | None:
        """The handler called `name`; None if none is registered; HandlerUnavailable if it cannot load."""
        handler = self._handlers.get(name)
        if handler is not None:
            return handler
        ep = self._installed().get(name)
        if ep is None:
            return None
        package = ep.dist.name if ep.dist is not None else ep.value
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken package: report which, never crash the engine
            raise HandlerUnavailable(
                f"handler '{name}' of package {package} cannot be loaded ({ep.value}): {type(exc).__name__}: {exc}"
            ) from exc
        if not callable(loaded):
            raise HandlerUnavailable(f"handler '{name}' of package {package} ({ep.value}) is not callable")
        self._handlers[name] = loaded
        return loaded  # type: ignore[no-any-return]

"""SpiffWorkflow on Handoff's clock: the engine's now during an operation, seeded task ids, and a
memoized state name (SpiffWorkflow computes it for a log line on every state change)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo

from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff_timer
from SpiffWorkflow.util.task import TaskState

_ENGINE_NOW: ContextVar[datetime | None] = ContextVar("handoff_engine_now", default=None)


class _EngineDatetime(datetime):
    """`datetime` as SpiffWorkflow's timer module sees it: `now()` is the engine's clock during an
    operation, so timers are set and fire on a manual or virtual clock exactly as on the wall clock."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _EngineDatetime:
        engine_now = _ENGINE_NOW.get()
        if engine_now is None:
            return super().now(tz)
        value = engine_now.astimezone(tz) if tz is not None else engine_now.astimezone().replace(tzinfo=None)
        return cls.combine(value.date(), value.time(), value.tzinfo)


# SpiffWorkflow reads `datetime.now(timezone.utc)` in this one module (DESIGN §4); its other uses of
# the time (`time.time()` stamps) only order tasks.
spiff_timer.datetime = _EngineDatetime  # type: ignore[misc]


def _memoized_state_names() -> None:
    """SpiffWorkflow 3.2 names a task state by building a dict on every call, and it does so for a log
    line on every state change even with logging off: about 5 % of a simulation. Same answers, once."""
    original = TaskState.get_name.__func__  # type: ignore[attr-defined]
    names: dict[int, str] = {}

    def get_name(cls: type[TaskState], state: int) -> str:
        try:
            return names[state]
        except KeyError:
            name: str = original(cls, state)
            names[state] = name
            return name

    TaskState.get_name = classmethod(get_name)  # type: ignore[assignment, method-assign]


_memoized_state_names()


@contextmanager
def clock_at(now: datetime) -> Iterator[None]:
    """Run SpiffWorkflow with `now` as the current time (one operation happens at one instant)."""
    token = _ENGINE_NOW.set(now if now.tzinfo else now.replace(tzinfo=UTC))
    try:
        yield
    finally:
        _ENGINE_NOW.reset(token)


@contextmanager
def seeded_task_ids(seed: str) -> Iterator[None]:
    """SpiffWorkflow names each task with a random UUID; inside this block the UUIDs come from a seeded
    generator instead, so that a simulation leaves the same history, ids included, for the same seed."""
    import random
    from uuid import UUID

    import SpiffWorkflow.task as spiff_task

    rng = random.Random(seed)
    original = spiff_task.uuid4
    spiff_task.uuid4 = lambda: UUID(int=rng.getrandbits(128), version=4)  # type: ignore[assignment]
    try:
        yield
    finally:
        spiff_task.uuid4 = original  # type: ignore[assignment]

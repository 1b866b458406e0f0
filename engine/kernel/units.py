"""Units of work: where an operation reads and writes, and when it commits.

Every use case takes a `Units` and runs each operation in `units.operation()`, which gives it a `Work`:
the transaction's session and the rows and workflows it holds. `Transactions` (here) gives every
operation a transaction of its own, committed when the operation ends, with the notify hooks after
the commit; `Batch` (engine/kernel/batch.py) runs many operations in one transaction for the simulator,
behind the same interface, so no use case asks which one it has.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Protocol

from .recording import notify
from .sessions import translated
from .work import Work

if TYPE_CHECKING:
    from .app import App


class Units(Protocol):
    """Where operations run: `with units.operation() as work: ...`."""

    def operation(self) -> AbstractContextManager[Work]: ...


class Transactions:
    """One transaction per operation, committed when it ends; notify hooks run after each commit."""

    def __init__(self, app: App) -> None:
        self._app = app

    @contextmanager
    def operation(self) -> Iterator[Work]:
        with translated(self._app.db) as session:
            work = Work(session)
            yield work
        notify(self._app, work.notify)

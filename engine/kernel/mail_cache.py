"""The stored mail settings (`handoff notify set`), re-read every few seconds: the notify pass after every
operation looks at them, and reading them each time would cost a query per operation."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..lazy_modules import lazy_module

if TYPE_CHECKING:
    from storage import Database
    from storage import notify as store
else:  # the settings' ORM queries load when the notify pass first asks (never in a read command)
    store = lazy_module("storage.notify")


class MailCache:
    SECONDS = 5.0

    def __init__(self) -> None:
        self._cached: tuple[float, dict[str, str]] | None = None

    def get(self, db: Database) -> dict[str, str]:
        now = time.monotonic()
        if self._cached is None or self._cached[0] < now:
            with db.reader() as session:
                self._cached = (now + self.SECONDS, store.settings(session))
        return self._cached[1]

    def forget(self) -> None:
        """Read again next time (this process changed the settings)."""
        self._cached = None

"""Lane and global SLA defaults, re-read every few seconds: they change rarely, and reading them on every
state change would cost more than the rest of the history recording."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from storage import reads

if TYPE_CHECKING:
    from storage.reads import Reader


class SlaCache:
    CACHE_SECONDS = 5.0

    def __init__(self) -> None:
        self._cached: tuple[float, dict[tuple[str, str], float]] | None = None

    def get(self, reader: Reader) -> dict[tuple[str, str], float]:
        """(scope, lane) -> seconds, from the cache or read through `reader` (a session or a Connection)."""
        now = time.monotonic()
        if self._cached is None or self._cached[0] < now:
            self._cached = (now + self.CACHE_SECONDS, reads.sla_settings(reader))
        return self._cached[1]

    def forget(self) -> None:
        """Read again next time (after this process changed the settings)."""
        self._cached = None

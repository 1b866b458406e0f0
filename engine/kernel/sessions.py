"""Transactions as the engine's errors see them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from storage import ConcurrentUpdate, Database, StorageError

from ..errors import Conflict, SetupRequired


class translated:  # noqa: N801 - used like the context manager it wraps
    """A unit of work whose storage conflicts surface as the engine's Conflict error."""

    def __init__(self, db: Database) -> None:
        self._cm = db.unit_of_work()

    def __enter__(self) -> Session:
        try:
            return self._cm.__enter__()
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc

    def __exit__(self, *exc_info: Any) -> bool:
        try:
            return bool(self._cm.__exit__(*exc_info))
        except ConcurrentUpdate as exc:
            raise Conflict(
                "someone else changed this instance at the same time; nothing was saved — look again and retry"
            ) from exc

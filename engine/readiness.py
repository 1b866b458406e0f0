"""The schema check for use cases outside the `Handoff` services (sign-in, the web's lookups)."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

from storage import Database, StorageError

from .errors import SetupRequired

if TYPE_CHECKING:
    from .facade import Handoff

_checked: weakref.WeakSet[Database] = weakref.WeakSet()


def require_schema(app: Handoff) -> None:
    """SetupRequired unless the database's schema is current; checked once per database object (as the
    services do), after which queries rely on it."""
    if app.db in _checked:
        return
    try:
        app.db.require_current_schema()
    except StorageError as exc:  # SchemaOutdated included: its message says to run 'handoff init'
        raise SetupRequired(str(exc)) from exc
    _checked.add(app.db)

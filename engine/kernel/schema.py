"""Whether the database has Handoff's current schema: checked once per application, then trusted."""

from __future__ import annotations

from storage import Database, SchemaOutdated, StorageError

from ..errors import SetupRequired


class Schema:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._checked = False

    def ready(self) -> None:
        """SetupRequired (with what to run) unless the schema is there and current."""
        if self._checked:
            return
        try:
            self._db.require_current_schema()
        except (SchemaOutdated, StorageError) as exc:
            raise SetupRequired(str(exc)) from exc
        self._checked = True

    def upgrade(self) -> tuple[str | None, str]:
        """Create or upgrade the schema (Alembic `upgrade head`): (revision before, revision now)."""
        try:
            result = self._db.upgrade()
        except StorageError as exc:
            raise SetupRequired(str(exc)) from exc
        self._checked = True
        return result

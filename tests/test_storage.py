"""storage/: migrations match the models, init is idempotent, an outdated schema is refused clearly."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import text

from storage import Database, SchemaOutdated


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.upgrade() == (None, db.head_revision())
    command.check(db._alembic_config())  # raises if the models drifted from the migrations
    assert db.upgrade() == (db.head_revision(), db.head_revision())
    db.dispose()


def test_outdated_schema_is_refused_with_what_to_do(db_url: str) -> None:
    db = Database(db_url)
    with pytest.raises(SchemaOutdated, match="run 'handoff init' first"):
        db.require_current_schema()
    db.upgrade()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000'"))
    with pytest.raises(SchemaOutdated, match="revision 0000.*run 'handoff init' to upgrade"):
        db.require_current_schema()
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_url: str) -> None:
    db = Database(sqlite_url)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()

"""storage/: migrations match the models, init is idempotent, an outdated schema is refused clearly."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from storage import Database, DatabaseMissing, SchemaOutdated


def test_migrations_match_the_models(db_url: str) -> None:
    db = Database(db_url)
    assert db.upgrade() == (None, db.head_revision())
    command.check(db._alembic_config())  # raises if the models drifted from the migrations
    assert db.upgrade() == (db.head_revision(), db.head_revision())
    db.dispose()


def test_the_newest_revision_is_read_as_alembic_reads_it(tmp_path: Path) -> None:
    """storage/migration_heads.py reads the migration files without Alembic (a read command's start-up);
    its answer is Alembic's, and two branches that have not met are two heads."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from storage.database import MIGRATIONS_DIR
    from storage.migration_heads import VERSIONS_DIR, heads

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert heads() == (ScriptDirectory.from_config(config).get_current_head(),)
    forked = tmp_path / "versions"
    forked.mkdir()
    for path in VERSIONS_DIR.glob("*.py"):
        (forked / path.name).write_text(path.read_text())
    (forked / "9999_fork.py").write_text('revision: str = "9999_fork"\ndown_revision = "0007"\n')
    assert heads(forked) == tuple(sorted([*heads(), "9999_fork"]))
    # Only the part before the first function is parsed, unless the revisions are assigned after one.
    late = tmp_path / "late"
    late.mkdir()
    for path in forked.glob("*.py"):
        (late / path.name).write_text(path.read_text())
    (late / "9998_late.py").write_text(
        '"""A late revision."""\n\n\ndef helper():\n    pass\n\n\nrevision = "9998_late"\ndown_revision = "9999_fork"\n'
    )
    assert heads(late) == tuple(sorted([*heads(), "9998_late"]))


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
    db.upgrade()  # creates the file: nothing else does (below)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()


def test_init_creates_the_sqlite_file_readable_by_its_owner_only(tmp_path: Path) -> None:
    """Issue 14 item 10: the history (names, amounts, who did what) is not for every local user."""
    path = tmp_path / "handoff.db"
    old_umask = os.umask(0o022)  # the usual umask, under which files are created world-readable
    try:
        db = Database(f"sqlite:///{path}")
        db.upgrade()
        with db.unit_of_work() as session:  # a write: SQLite's WAL and shared-memory files appear
            session.execute(text("UPDATE alembic_version SET version_num = version_num"))
            modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
        db.dispose()
    finally:
        os.umask(old_umask)
    assert modes == {"handoff.db": 0o600, "handoff.db-wal": 0o600, "handoff.db-shm": 0o600}


def test_nothing_but_upgrade_creates_a_missing_sqlite_file(tmp_path: Path) -> None:
    """Issue 14 item 14: a mistyped --db is an error, not a new empty database."""
    path = tmp_path / "handof.db"
    db = Database(f"sqlite:///{path}")
    expected = f"database file {path} does not exist (name another with --db or HANDOFF_DB); to create it, run 'handoff init' first"
    for attempt in (db.current_revision, db.require_current_schema, lambda: db.engine.connect()):
        with pytest.raises(DatabaseMissing) as caught:
            attempt()
        assert str(caught.value) == expected
    with pytest.raises(DatabaseMissing), db.unit_of_work() as session:
        session.execute(text("SELECT 1"))
    assert list(tmp_path.iterdir()) == []
    # In-memory databases have no file to keep from being created.
    memory = Database("sqlite://")
    assert memory.upgrade()[0] is None
    memory.dispose()
    db.dispose()


def test_sqlite_timestamps_are_written_as_sqlalchemy_writes_them() -> None:
    """UtcDateTime's own SQLite bind processor (faster) writes the very text of SQLAlchemy's DATETIME, so
    rows written before and after compare, sort and read back alike; aware values are stored as UTC."""
    import random
    from datetime import timedelta, timezone

    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from storage.utc_datetime import UtcDateTime

    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    sqlalchemys = DateTime().dialect_impl(dialect).bind_processor(dialect)
    draw = random.Random(7)
    for _ in range(5000):
        naive = datetime(1000, 1, 1) + timedelta(
            seconds=draw.randrange(0, 3 * 10**10), microseconds=draw.choice([0, draw.randrange(10**6)])
        )
        assert ours(naive) == sqlalchemys(naive)
        aware = naive.replace(tzinfo=timezone(timedelta(hours=draw.randrange(-12, 13))))
        assert ours(aware) == sqlalchemys(aware.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None
    assert ours(datetime(2026, 3, 1, 9, 30)) == "2026-03-01 09:30:00.000000"


def test_the_engines_cursor_events_see_the_statements_of_a_completion(app) -> None:
    """The hot path runs its statements on the driver's cursor (storage/driver.py); an engine listener (a
    statement counter, a tracer) still sees each of them, with the values bound, on both databases."""
    from sqlalchemy import event

    app.deploy([Path(__file__).parents[1] / "benchmarks" / "one_task.bpmn"], actor=None)
    view = app.start("one_task", actor=None)
    seen: list[tuple[str, object]] = []

    def on_execute(_conn, _cursor, statement, params, _context, _many) -> None:  # type: ignore[no-untyped-def]
        seen.append((" ".join(statement.split()[:3]), params))

    event.listen(app.db.engine, "before_cursor_execute", on_execute)
    try:
        done = app.complete(view.tasks[0].id, data={}, actor=None)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", on_execute)
    assert done.status == "completed"
    kinds = [kind for kind, _ in seen]
    assert "UPDATE human_task SET" in kinds and "UPDATE process_instance SET" in kinds
    assert any(kind.startswith("INSERT INTO event") for kind in kinds)
    task_update = next(params for kind, params in seen if kind == "UPDATE human_task SET")
    assert view.tasks[0].id in (task_update.values() if isinstance(task_update, dict) else task_update)


def test_sqlite_writers_of_one_process_take_turns_and_a_failed_one_leaves_nothing(sqlite_url: str) -> None:
    """SQLite's writer keeps its session and connection between units of work (issue 17): threads still
    take turns, a unit of work that fails leaves nothing behind, the next one starts clean, a nested one
    gets its own session, and a missing file is refused without keeping other threads waiting."""
    import threading

    db = Database(sqlite_url)
    db.upgrade()
    with db.unit_of_work() as session:
        session.execute(text("CREATE TABLE tally (who TEXT, n INTEGER)"))
    errors: list[BaseException] = []

    def write(who: str) -> None:
        try:
            for n in range(40):
                try:
                    with db.unit_of_work() as session:
                        session.info["mark"] = who  # what a batch keeps there: not for the next unit
                        session.execute(text("INSERT INTO tally VALUES (:who, :n)"), {"who": who, "n": n})
                        if n % 10 == 9:
                            raise RuntimeError("a failing operation")
                except RuntimeError:
                    pass
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(who,)) for who in ("ann", "bob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and not any(t.is_alive() for t in threads)
    with db.unit_of_work() as session:
        assert "mark" not in session.info
        counts = dict(session.execute(text("SELECT who, count(*) FROM tally GROUP BY who")).all())
        with db.unit_of_work() as nested:  # the same thread again: its own session and transaction
            assert nested is not session
    assert counts == {"ann": 36, "bob": 36}  # 4 of each 40 rolled back

    missing = Database(sqlite_url.replace(".db", "-missing.db"))
    with pytest.raises(DatabaseMissing), missing.unit_of_work():
        pass
    other = threading.Thread(
        target=lambda: pytest.raises(DatabaseMissing, missing.unit_of_work().__enter__), daemon=True
    )
    other.start()
    other.join(10)
    assert not other.is_alive()  # the lock was given back
    missing.dispose()
    db.dispose()

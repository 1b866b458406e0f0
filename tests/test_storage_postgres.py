"""PostgreSQL only: what the start's fast path (issue 17) must keep. A pooled connection the server has
ended is replaced before use, as SQLAlchemy's pre-ping did; history rows are stored in their order; a
remembered latest version never hides one deployed by another process."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from conftest import ROOT, handoff_command
from engine import Handoff
from storage import Database

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@pytest.fixture
def app(pg_url: str) -> Iterator[Handoff]:
    """A Handoff on a fresh PostgreSQL database with `ten_scripts` deployed."""
    app = Handoff(Database(pg_url), load_entry_points=False)
    try:
        app.init()
        app.deploy([BENCH / "ten_scripts.bpmn"], actor="tester")
        yield app
    finally:
        app.db.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_before_an_operation_uses_it(
    app: Handoff, pg_url: str
) -> None:
    first = app.start("ten_scripts", actor="tester")
    assert first.status == "completed"
    with app.db.engine.connect() as conn:
        pooled = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    # The server ends the idle pooled connection (as a restart or an administrator would).
    with psycopg.connect(_plain(pg_url), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pooled,)).fetchone() == (True,)
        for _ in range(100):  # the backend is gone once it no longer shows in pg_stat_activity
            if admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pooled,)
            ).fetchone() == (0,):
                break
            admin.execute("SELECT pg_sleep(0.02)")
    second = app.start("ten_scripts", actor="tester")  # no error: the dead connection was not handed out
    assert second.status == "completed" and second.data.get("x") == 9
    with app.db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() != pooled
        assert conn.execute(text("SELECT count(*) FROM process_instance")).scalar_one() == 2


def test_history_rows_are_stored_in_the_order_they_happened(app: Handoff) -> None:
    view = app.start("ten_scripts", actor="tester")
    with app.db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT kind, element_id FROM event WHERE instance_id = :i ORDER BY id"), {"i": view.id}
        ).all()
    kinds = [r[0] for r in rows]
    assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
    scripts = [r[1] for r in rows if r[0] == "task_completed" and r[1].startswith("s")]
    assert scripts == [f"s{i}" for i in range(1, 11)]


def _definition_lookups(app: Handoff) -> list[str]:
    """The SELECTs of process_definition the app's engine sends from now on (appended as they happen)."""
    from sqlalchemy import event

    seen: list[str] = []

    def on_execute(_c: Any, _cur: Any, statement: str, _p: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM process_definition" in statement:
            seen.append(statement)

    event.listen(app.db.engine, "before_cursor_execute", on_execute)
    return seen


def test_a_version_deployed_by_another_process_is_what_the_next_start_runs(
    app: Handoff, pg_url: str, tmp_path: Path
) -> None:
    """The latest version a long-running process remembers (a round trip less per start) is checked by
    the INSERT of every instance started from it: a newer version deployed by another process is used."""
    v2 = tmp_path / "ten_scripts.bpmn"
    v2.write_text(
        (BENCH / "ten_scripts.bpmn").read_text().replace("<bpmn:script>x = 0<", "<bpmn:script>x = 100<")
    )
    assert app.start("ten_scripts", actor="tester").data["x"] == 9  # looked up, remembered
    lookups = _definition_lookups(app)
    again = app.start("ten_scripts", actor="tester")
    assert (again.version, again.data["x"]) == (1, 9)
    assert lookups == []  # the remembered version, checked by the INSERT: no lookup

    env = dict(os.environ, HANDOFF_DB=pg_url, HANDOFF_USER="tester")
    deployed = subprocess.run(
        [*handoff_command(), "deploy", str(v2)], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert deployed.returncode == 0, deployed.stderr

    newer = app.start("ten_scripts", actor="tester")  # remembered 1; the INSERT finds 2: run again
    assert (newer.version, newer.data["x"]) == (2, 109)
    after = app.start("ten_scripts", actor="tester")
    assert (after.version, after.data["x"]) == (2, 109)
    with app.db.engine.connect() as conn:
        versions = conn.execute(
            text(
                "SELECT d.version, count(*) FROM process_instance i JOIN process_definition d "
                "ON d.id = i.definition_id GROUP BY d.version ORDER BY d.version"
            )
        ).all()
    assert [tuple(v) for v in versions] == [(1, 2), (2, 2)]  # the retried start left no row of v1


def test_a_start_of_a_given_version_and_a_start_in_another_handoff_see_the_same_versions(
    pg_url: str, tmp_path: Path
) -> None:
    """Two Handoffs on one database (two servers): each deploys, each next start runs the newest."""
    first = Handoff(Database(pg_url), load_entry_points=False)
    second = Handoff(Database(pg_url), load_entry_points=False)
    try:
        first.init()
        first.deploy([BENCH / "ten_scripts.bpmn"], actor="tester")
        assert first.start("ten_scripts", actor="tester").version == 1
        assert second.start("ten_scripts", actor="tester").version == 1
        source = (BENCH / "ten_scripts.bpmn").read_text()
        for n in (2, 3):
            path = tmp_path / f"v{n}" / "ten_scripts.bpmn"
            path.parent.mkdir()
            path.write_text(source.replace("<bpmn:script>x = 0<", f"<bpmn:script>x = {n}<"))
            deployer, other = (second, first) if n == 2 else (first, second)
            deployer.deploy([path], actor="tester")
            assert other.start("ten_scripts", actor="tester").version == n
            assert deployer.start("ten_scripts", actor="tester").version == n
        assert first.start("ten_scripts", actor="tester", version=1).version == 1
    finally:
        first.db.dispose()
        second.db.dispose()


def test_a_tracer_on_the_engine_sees_every_statement_of_a_start(app: Handoff) -> None:
    """The statements sent on psycopg's RawCursor reach the engine's cursor events like SQLAlchemy's own:
    a start after the first is the instance (with its variables) and its history, two statements."""
    from sqlalchemy import event

    app.start("ten_scripts", actor="tester")
    seen: list[str] = []
    event.listen(
        app.db.engine, "before_cursor_execute", lambda _c, _cur, sql, *_: seen.append(sql.split()[0])
    )
    finished: list[str] = []
    event.listen(
        app.db.engine, "after_cursor_execute", lambda _c, _cur, sql, *_: finished.append(sql.split()[0])
    )
    view = app.start("ten_scripts", actor="tester", data={"order": "A-1", "amount": 12})
    assert seen == ["WITH", "INSERT"] == finished
    found = app.instances(variables=["order=A-1", "amount>10"], actor="tester")
    assert [i.id for i in found] == [view.id]  # found by its variables

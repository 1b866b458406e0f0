"""PostgreSQL only: what the start's fast path (issue 17) must keep. A pooled connection the server has
ended is replaced before use, as SQLAlchemy's pre-ping did; history ids come back in the rows' order."""

from __future__ import annotations

from pathlib import Path

import psycopg
from sqlalchemy import text

from engine import Handoff
from storage import Database

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"


def _plain(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def test_a_pooled_connection_the_server_ended_is_replaced_before_an_operation_uses_it(pg_url: str) -> None:
    app = Handoff(Database(pg_url), load_entry_points=False)
    try:
        app.init()
        app.deploy([BENCH / "ten_scripts.bpmn"], actor="tester")
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
    finally:
        app.db.dispose()


def test_history_rows_are_stored_in_the_order_they_happened(pg_url: str) -> None:
    app = Handoff(Database(pg_url), load_entry_points=False)
    try:
        app.init()
        app.deploy([BENCH / "ten_scripts.bpmn"], actor="tester")
        view = app.start("ten_scripts", actor="tester")
        with app.db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT kind, element_id FROM event WHERE instance_id = :i ORDER BY id"), {"i": view.id}
            ).all()
        kinds = [r[0] for r in rows]
        assert kinds[0] == "instance_started" and kinds[-1] == "instance_completed"
        scripts = [r[1] for r in rows if r[0] == "task_completed" and r[1].startswith("s")]
        assert scripts == [f"s{i}" for i in range(1, 11)]
    finally:
        app.db.dispose()

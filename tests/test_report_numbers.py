"""The report's numbers are stored when they happen: a human task's waiting and processing seconds on its
row at completion (engine/tasks.py, engine/kernel/task_times.py), in live operations and in a simulation's batched writes;
migration 0009_report_numbers backfills them for rows written before it. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from conftest import DATA, EXAMPLE
from engine import Handoff
from storage import Database
from storage.models import HumanTask

DAY = datetime(2026, 3, 10, tzinfo=UTC)


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY.replace(hour=int(hours), minute=int(minutes))


def act(app: Handoff, clock, hhmm: str, action: str, instance: int, element: str, actor: str, **kw) -> None:
    clock.set(at(hhmm))
    (task,) = [t for t in app.tasks(instance_id=instance) if t.element == element]
    getattr(app, action)(task.id, actor=actor, **kw)


def article(app: Handoff, clock) -> int:
    """The rework loop of tests/test_report.py's I3, with its hand-worked times."""
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="designer")
    clock.set(at("09:00"))
    i = app.start("article", actor="ann").id
    act(app, clock, "09:10", "claim", i, "draft", "ann")
    act(app, clock, "09:30", "complete", i, "draft", "ann")
    act(app, clock, "11:00", "claim", i, "review", "ed")
    act(app, clock, "11:15", "complete", i, "review", "ed", data={"approved": "false"})
    act(app, clock, "11:45", "complete", i, "draft", "ann")  # never claimed: no processing time
    act(app, clock, "11:50", "claim", i, "review", "ed")
    act(app, clock, "12:00", "complete", i, "review", "ed", data={"approved": "true"})
    return i


# (element, waiting: ready -> claimed or completed, processing: claimed -> completed), by task id
EXPECTED = [
    ("draft", 600.0, 1200.0),
    ("review", 5400.0, 900.0),
    ("draft", 1800.0, 0.0),
    ("review", 300.0, 600.0),
    ("publish", None, None),  # still open
]


def numbers(app: Handoff) -> list[tuple[str, float | None, float | None]]:
    with app.db.reader() as session:
        rows = session.execute(
            select(HumanTask.element_id, HumanTask.wait_seconds, HumanTask.processing_seconds).order_by(
                HumanTask.id
            )
        )
        return [(r[0], r[1], r[2]) for r in rows]


def test_completion_writes_waiting_and_processing_seconds(app: Handoff, clock) -> None:
    article(app, clock)
    assert numbers(app) == EXPECTED


def test_migration_0009_backfills_the_numbers_of_earlier_tasks(app: Handoff, clock) -> None:
    from alembic import command

    article(app, clock)
    config = app.db._alembic_config()
    command.downgrade(config, "0007")
    assert app.db.current_revision() == "0007"
    command.upgrade(config, "head")
    assert app.db.current_revision() == app.db.head_revision()  # 0009 and the sign-in branch, merged
    app.db.dispose()  # the ORM's statements were compiled for the table as it was; start afresh
    assert numbers(Handoff(Database(app.db.url))) == EXPECTED


def test_a_simulation_writes_the_numbers_in_its_batches(db_url: str) -> None:
    from engine.simulation import Scenario, simulate

    app = Handoff(Database(db_url))
    app.init()
    app.deploy([EXAMPLE], actor="designer")
    app.db.dispose()
    simulate(db_url, Scenario("order_to_cash", 40, seed=3))
    app = Handoff(Database(db_url))
    try:
        with app.db.reader() as session:
            rows = session.execute(
                select(
                    HumanTask.state,
                    HumanTask.created_at,
                    HumanTask.claimed_at,
                    HumanTask.completed_at,
                    HumanTask.wait_seconds,
                    HumanTask.processing_seconds,
                )
            ).all()
    finally:
        app.db.dispose()
    done = [r for r in rows if r.state == "completed"]
    assert len(done) > 100
    for r in done:
        taken = r.claimed_at or r.completed_at
        assert r.wait_seconds == (taken - r.created_at).total_seconds()
        assert r.processing_seconds == (r.completed_at - taken).total_seconds()
    assert all(r.wait_seconds is None for r in rows if r.state != "completed")


def nearest_rank(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[(p * len(ordered) + 99) // 100 - 1]


def simulated(url: str, orders: int, seed: int) -> Handoff:
    from engine.simulation import Scenario, simulate

    app = Handoff(Database(url))
    app.init()
    app.deploy([EXAMPLE], actor="designer")
    app.db.dispose()
    simulate(url, Scenario("order_to_cash", orders, seed=seed))
    return Handoff(Database(url))


def test_report_equals_the_rows_worked_in_python_and_is_the_same_on_both_databases(
    sqlite_url: str, pg_url: str
) -> None:
    """Percentiles by index walk (from either end), sums net of open instances, rework from task rows:
    each figure recomputed here from the stored rows, on a simulated history of 150 orders, and the
    whole report equal on SQLite and PostgreSQL."""
    from engine.report import build_report
    from storage.models import HandoffRecord

    docs = []
    for url in (sqlite_url, pg_url):
        app = simulated(url, 150, seed=5)
        try:
            with app.db.reader() as session:
                doc = build_report(session).to_json()
                tasks = session.execute(
                    select(HumanTask.lane, HumanTask.element_id, HumanTask.instance_id, HumanTask.created_at,
                           HumanTask.claimed_at, HumanTask.completed_at).where(HumanTask.state == "completed")
                ).all()  # fmt: skip
                handoffs = session.execute(
                    select(HandoffRecord.from_lane, HandoffRecord.to_lane, HandoffRecord.latency_seconds)
                ).all()
        finally:
            app.db.dispose()
        docs.append(doc)

        by_lane: dict[str, tuple[list[float], list[float]]] = {}
        for t in tasks:
            taken = t.claimed_at or t.completed_at
            waits, procs = by_lane.setdefault(t.lane, ([], []))
            waits.append((taken - t.created_at).total_seconds())
            procs.append((t.completed_at - taken).total_seconds())
        assert {ln["lane"] for ln in doc["lanes"]} == set(by_lane)
        for ln in doc["lanes"]:
            waits, procs = by_lane[ln["lane"]]
            assert ln["tasks_done"] == len(waits) > 10
            for p in (50, 90):
                assert ln["waiting"][f"p{p}"] == nearest_rank(waits, p)
                assert ln["processing"][f"p{p}"] == nearest_rank(procs, p)
            assert ln["waiting"]["total"] == pytest.approx(sum(waits))
        cells: dict[tuple[str, str], list[float]] = {}
        for h in handoffs:
            cells.setdefault((h.from_lane, h.to_lane), []).append(h.latency_seconds)
        assert {
            (m["from_lane"], m["to_lane"]): (m["count"], m["latency_p50"]) for m in doc["handoff_matrix"]
        } == {k: (len(v), nearest_rank(v, 50)) for k, v in cells.items()}
        runs: dict[tuple[str, int], int] = {}
        for t in tasks:
            runs[(t.element_id, t.instance_id)] = runs.get((t.element_id, t.instance_id), 0) + 1
        again: dict[str, int] = {}
        for (element, _), count in runs.items():
            if count > 1:
                again[element] = again.get(element, 0) + count - 1
        assert {r["element"]: r["count"] for r in doc["rework"]} == again and again

    sqlite_doc, pg_doc = docs
    assert same(sqlite_doc, pg_doc), (
        json.dumps(sqlite_doc, sort_keys=True),
        json.dumps(pg_doc, sort_keys=True),
    )


def same(a: object, b: object, path: str = "") -> bool:
    """Equal, floats to the millisecond (SQLite's cycle times are; sums may differ in their last bits)."""
    if isinstance(a, float) and isinstance(b, float):
        ok = abs(a - b) <= 1e-3 + 1e-9 * abs(a)  # a sum of ms-rounded cycle times drifts a little
    elif isinstance(a, dict) and isinstance(b, dict):
        ok = a.keys() == b.keys() and all(same(a[k], b[k], f"{path}.{k}") for k in a)
    elif isinstance(a, list) and isinstance(b, list):
        ok = len(a) == len(b) and all(
            same(x, y, f"{path}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True))
        )
    else:
        ok = a == b
    if not ok and not isinstance(a, (dict, list)):
        print("differs at", path, a, b)
    return ok

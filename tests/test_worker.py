"""`handoff worker`: timers fired by workers on the engine clock, never early, never twice; timer start
events; leases taken over from a dead worker; several worker processes on one PostgreSQL database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from cli import main
from conftest import DATA, ROOT
from engine import Handoff, ManualClock
from engine.worker import Worker
from storage import Database

DRAIN = DATA / "timer-drain.bpmn"
REMINDER = DATA / "payment-reminder.bpmn"
TIMER_START = DATA / "timer-start.bpmn"


def _events(app: Handoff, instance_id: int, kind: str | None = None) -> list[dict]:
    rows = [
        {"kind": e.kind, "element": e.element, "at": e.at, "data": e.data}
        for e in app.show(instance_id).timeline
    ]
    return [r for r in rows if kind is None or r["kind"] == kind]


def _scalar(db_url: str, sql: str) -> int:
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


# --- timers on the engine clock -----------------------------------------------------------------------


def test_a_timer_never_fires_early_and_one_due_while_no_worker_ran_fires_at_start(
    app: Handoff, clock: ManualClock
) -> None:
    app.deploy([DRAIN], actor="dan")
    started_at = clock()
    instance = app.start("cooling_off", data={"work": 10}, actor="dan")
    assert instance.status == "waiting" and instance.next_due_at == started_at + timedelta(minutes=1)
    worker = Worker(app, name="w1")

    clock.advance(seconds=59)
    early = worker.run_once()
    assert (early.fired, early.failed) == (0, 0)
    assert app.show(instance.id).status == "waiting" and not _events(app, instance.id, "timer_fired")

    clock.advance(hours=3)  # no worker ran for three hours: the timer fires now, once
    late = worker.run_once()
    assert (late.fired, late.failed, late.conflicts) == (1, 0, 0)
    done = app.show(instance.id)
    assert done.status == "completed" and done.data["released"] is True
    fired = _events(app, instance.id, "timer_fired")
    assert len(fired) == 1
    assert fired[0]["at"] == clock() and fired[0]["data"]["due"].startswith("2026-03-02T09:01:00")
    assert worker.run_once().fired == 0  # nothing left: a second pass fires nothing


def test_cycle_and_interrupting_boundary_timers_on_a_user_task(app: Handoff, clock: ManualClock) -> None:
    app.deploy([REMINDER], actor="dan")
    instance = app.start("payment_reminder", actor="dan")
    worker = Worker(app, name="w1")
    days = [13, 14, 27, 28, 29, 30]
    reminders = []
    for day in days:
        clock.set(datetime(2026, 3, 2, 9, 0, tzinfo=UTC) + timedelta(days=day, minutes=1))
        worker.run_once()
        reminders.append(len(_events(app, instance.id, "timer_fired")))
    # Reminders on days 14 and 28 (two cycles), then the 30-day timer interrupts the task.
    assert reminders == [0, 1, 1, 2, 2, 3]
    view = app.show(instance.id)
    assert [t.element for t in view.tasks] == ["Task_Collect"]
    completed = [e["element"] for e in _events(app, instance.id, "task_completed")]
    assert completed.count("Task_SendReminder") == 2
    cancelled = [e["element"] for e in _events(app, instance.id, "task_cancelled")]
    assert cancelled == ["Task_RecordPayment"]
    # Nothing more is due: the cycle is spent and the interrupted task's timers are gone.
    clock.advance(days=100)
    assert worker.run_once().fired == 0
    assert app.show(instance.id).next_due_at is None


def test_cycle_firings_missed_while_no_worker_ran_all_fire_in_order(app: Handoff, clock: ManualClock) -> None:
    app.deploy([REMINDER], actor="dan")
    instance = app.start("payment_reminder", actor="dan")
    clock.advance(days=29)  # both reminders fell due while no worker ran; the 30-day timer not yet
    assert Worker(app).run_once().fired == 1
    fired = _events(app, instance.id, "timer_fired")
    assert [f["data"]["due"][:10] for f in fired] == ["2026-03-16", "2026-03-30"]
    assert [t.element for t in app.show(instance.id).tasks] == ["Task_RecordPayment"]


def test_paying_in_time_cancels_the_reminder_timers(app: Handoff, clock: ManualClock) -> None:
    app.deploy([REMINDER], actor="dan")
    instance = app.start("payment_reminder", actor="dan")
    clock.advance(days=3)
    app.complete(app.show(instance.id).tasks[0].id, actor="fay")
    assert app.show(instance.id).status == "completed"
    clock.advance(days=60)
    assert Worker(app).run_once().fired == 0
    assert not _events(app, instance.id, "timer_fired")


def test_timer_start_event_starts_one_instance_per_cycle(app: Handoff, clock: ManualClock) -> None:
    deployed_at = clock()
    app.deploy([TIMER_START], actor="dan")
    (schedule,) = app.schedules()
    assert (schedule.process, schedule.element, schedule.expression) == (
        "stock_count",
        "StartEvent_Hourly",
        "R3/PT1H",
    )
    assert schedule.next_due_at == deployed_at + timedelta(hours=1)
    worker = Worker(app, name="w1")
    clock.advance(minutes=59)
    assert worker.run_once().started == 0
    clock.advance(minutes=1, seconds=1)
    assert worker.run_once().started == 1
    clock.advance(hours=5)  # two more cycles were due while no worker ran: both start now
    assert worker.run_once().started == 2
    clock.advance(hours=5)
    assert worker.run_once().started == 0  # R3: three instances, never a fourth
    started = app.instances(process_id="stock_count")
    assert len(started) == 3 and {i.status for i in started} == {"completed"}
    first = started[-1]
    assert _events(app, first.id, "instance_started")[0]["data"]["timer"] == "StartEvent_Hourly"
    assert app.schedules()[0].fired == 3 and app.schedules()[0].next_due_at is None
    # Redeploying the same timer keeps the schedule: the cycle does not start over.
    app.deploy([TIMER_START], actor="dan")
    assert app.schedules()[0].fired == 3


def test_a_worker_does_not_fire_twice_what_another_fired(app: Handoff, clock: ManualClock) -> None:
    app.deploy([DRAIN], actor="dan")
    ids = [app.start("cooling_off", data={"work": 1}, actor="dan").id for _ in range(5)]
    clock.advance(minutes=2)
    first, second = Worker(app, name="w1"), Worker(app, name="w2")
    assert first.run_once().fired == 5
    assert second.run_once().fired == 0
    # Straight through the services too: the second firing of a fired timer does nothing.
    assert app.run_due(ids[0]) is None
    assert sum(len(_events(app, i, "timer_fired")) for i in ids) == 5


def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(app: Handoff, clock: ManualClock) -> None:
    app.deploy([DRAIN], actor="dan")
    ids = [app.start("cooling_off", data={"work": 1}, actor="dan").id for _ in range(3)]
    clock.advance(minutes=2)
    # A worker claims everything and dies before doing any of it.
    claimed = app.claim_due_work("dead-worker", timedelta(seconds=60), 10)
    assert sorted(claimed.instances) == ids
    survivor = Worker(app, name="survivor")
    assert survivor.run_once().fired == 0  # leased by a worker that may still be working
    clock.advance(seconds=61)
    assert survivor.run_once().fired == 3  # the lease expired: taken over
    assert {app.show(i).status for i in ids} == {"completed"}


def test_a_failing_script_after_a_timer_is_an_incident_and_the_worker_goes_on(
    app: Handoff, clock: ManualClock
) -> None:
    app.deploy([DRAIN], actor="dan")
    bad = app.start("cooling_off", data={"work": "many"}, actor="dan")  # sum(range("many")) raises
    good = app.start("cooling_off", data={"work": 3}, actor="dan")
    clock.advance(minutes=5)
    result = Worker(app, name="w1").run_once()
    assert (result.fired, result.failed) == (2, 1)
    assert f"instance {bad.id}" in result.problems[0] and "Release order" in result.problems[0]
    assert app.show(bad.id).status == "error" and app.show(good.id).status == "completed"


# --- the command ---------------------------------------------------------------------------------------


def _cli(db_url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", db_url, *args])
    return result.exit_code, result.stdout, result.stderr


def test_worker_once_cli_reports_the_pass(sqlite_url: str) -> None:
    past = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    app = Handoff(Database(sqlite_url), clock=ManualClock(past))
    app.init()
    app.deploy([DRAIN], actor="dan")
    for _ in range(3):
        app.start("cooling_off", data={"work": 1}, actor="dan")
    app.db.dispose()
    code, out, err = _cli(sqlite_url, "--json", "worker", "--once", "--name", "cron")
    assert code == 0, err
    report = json.loads(out)
    assert (report["worker"], report["timers_fired"], report["failed"]) == ("cron", 3, 0)
    code, out, _ = _cli(sqlite_url, "worker", "--once")
    assert code == 0 and "timers fired 0" in out
    code, _, err = _cli(sqlite_url, "worker", "--interval", "0")
    assert code == 2 and "--interval" in err


def test_worker_on_a_database_without_schema_says_init(tmp_path: Path) -> None:
    code, _, err = _cli(f"sqlite:///{tmp_path / 'none.db'}", "worker", "--once")
    assert code == 7 and err.startswith("error:") and "handoff init" in err


def _spawn_worker(db_url: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from cli import main; main()", "--db", db_url, "--json", "worker", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def _wait(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.2)


def _past_app(db_url: str, hours: float = 1.0) -> Handoff:
    """An app whose clock is an hour behind: what it starts is already due for real-time workers."""
    past = datetime.now(UTC) - timedelta(hours=hours)
    app = Handoff(Database(db_url), clock=ManualClock(past))
    app.init()
    return app


def test_sigterm_stops_a_worker_cleanly(sqlite_url: str) -> None:
    app = _past_app(sqlite_url)
    app.deploy([DRAIN], actor="dan")
    ids = [app.start("cooling_off", data={"work": 1}, actor="dan").id for _ in range(3)]
    proc = _spawn_worker(sqlite_url, "--interval", "0.2", "--name", "daemon")
    _wait(lambda: {app.show(i).status for i in ids} == {"completed"})
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    passes = [json.loads(line) for line in out.splitlines()]
    assert sum(p["timers_fired"] for p in passes) == 3
    assert _scalar(sqlite_url, "SELECT count(*) FROM process_instance WHERE lease_owner IS NOT NULL") == 0


def test_four_worker_processes_drain_a_thousand_timers_exactly_once(pg_url: str) -> None:
    app = _past_app(pg_url)
    app.deploy([DRAIN], actor="dan")
    with app.batch() as batch:
        for n in range(1000):
            batch.start("cooling_off", data={"work": 200}, business_key=f"order-{n}", actor="dan")
    assert _scalar(pg_url, "SELECT count(*) FROM process_instance WHERE status = 'waiting'") == 1000
    workers = [_spawn_worker(pg_url, "--interval", "0.2", "--name", f"w{i}") for i in range(4)]
    try:
        _wait(
            lambda: (
                _scalar(pg_url, "SELECT count(*) FROM process_instance WHERE status = 'completed'") == 1000
            ),
            timeout=300,
        )
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
    outputs = [proc.communicate(timeout=60) for proc in workers]
    assert all(proc.returncode == 0 for proc in workers), [err for _, err in outputs]
    fired_by = [sum(json.loads(line)["timers_fired"] for line in out.splitlines()) for out, _ in outputs]
    assert sum(fired_by) == 1000
    assert sum(1 for n in fired_by if n > 0) >= 2  # the work was shared, not done by one worker
    assert _scalar(pg_url, "SELECT count(*) FROM event WHERE kind = 'timer_fired'") == 1000
    assert (
        _scalar(
            pg_url,
            "SELECT count(*) FROM (SELECT instance_id FROM event WHERE kind = 'timer_fired' "
            "GROUP BY instance_id HAVING count(*) <> 1) twice",
        )
        == 0
    )
    assert _scalar(pg_url, "SELECT count(*) FROM event WHERE kind = 'instance_completed'") == 1000


def test_worker_concurrency_runs_processes_that_share_the_work(pg_url: str) -> None:
    app = _past_app(pg_url)
    app.deploy([DRAIN], actor="dan")
    with app.batch() as batch:
        for _ in range(200):
            batch.start("cooling_off", data={"work": 1000}, actor="dan")
    pool = _spawn_worker(pg_url, "--concurrency", "2", "--interval", "0.2", "--name", "pool")
    try:
        _wait(
            lambda: _scalar(pg_url, "SELECT count(*) FROM process_instance WHERE status = 'completed'") == 200
        )
    finally:
        pool.send_signal(signal.SIGTERM)
    out, err = pool.communicate(timeout=60)
    assert pool.returncode == 0, err
    passes = [json.loads(line) for line in out.splitlines()]
    assert {p["worker"] for p in passes} <= {"pool/1", "pool/2"}
    assert sum(p["timers_fired"] for p in passes) == 200
    assert _scalar(pg_url, "SELECT count(*) FROM event WHERE kind = 'timer_fired'") == 200


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_worker_killed_mid_run_has_its_leased_work_taken_over(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    db_url = (
        f"sqlite:///{tmp_path / 'handoff.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    )
    app = _past_app(db_url)
    app.deploy([DRAIN], actor="dan")
    with app.batch() as batch:
        for n in range(40):
            # Each release takes a moment, so the worker is killed with leased work still to do.
            batch.start("cooling_off", data={"work": 3_000_000}, business_key=f"order-{n}", actor="dan")
    doomed = _spawn_worker(db_url, "--interval", "0.2", "--lease", "4", "--name", "doomed")
    _wait(lambda: _scalar(db_url, "SELECT count(*) FROM event WHERE kind = 'timer_fired'") >= 2)
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=30)
    held = _scalar(db_url, "SELECT count(*) FROM process_instance WHERE lease_owner = 'doomed'")
    undone = _scalar(db_url, "SELECT count(*) FROM process_instance WHERE status = 'waiting'")
    assert held > 0 and undone > 0  # killed mid-run, holding leases on work it had not done
    killed_at = time.monotonic()
    heir = _spawn_worker(db_url, "--interval", "0.2", "--lease", "4", "--name", "heir")
    try:
        _wait(
            lambda: _scalar(db_url, "SELECT count(*) FROM process_instance WHERE status = 'completed'") == 40,
            timeout=180,
        )
    finally:
        heir.send_signal(signal.SIGTERM)
        heir.communicate(timeout=60)
    assert time.monotonic() - killed_at >= 3.0  # the doomed worker's work waited for its lease to expire
    assert _scalar(db_url, "SELECT count(*) FROM event WHERE kind = 'timer_fired'") == 40
    assert (
        _scalar(
            db_url,
            "SELECT count(*) FROM (SELECT instance_id FROM event WHERE kind = 'timer_fired' "
            "GROUP BY instance_id HAVING count(*) <> 1) twice",
        )
        == 0
    )
    # The dead worker's leases on work it finished before dying stay (harmless: done work is never due).
    stale = "SELECT count(*) FROM process_instance WHERE lease_owner IS NOT NULL AND status <> 'completed'"
    assert _scalar(db_url, stale) == 0


def test_the_worker_runs_automatic_retries_until_the_handler_succeeds(
    db_url: str, clock: ManualClock
) -> None:
    from engine import ScriptFailed

    calls: list[int] = []

    def charge(call: object) -> dict[str, object]:
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("card gateway timed out")
        return {"charged": True}

    app = Handoff(Database(db_url), clock=clock, services={"charge_card": charge}, load_entry_points=False)
    app.init()
    app.deploy([DATA / "flaky_payment.bpmn"], actor="dan")
    with pytest.raises(ScriptFailed) as failed:
        app.start("payment", data={"amount": 120}, actor="web")
    instance = failed.value.instance_id
    assert instance is not None
    worker = Worker(app, name="w1")
    assert worker.run_once().retried == 0  # the first retry is due in a minute, not now
    clock.advance(minutes=1)
    first = worker.run_once()
    assert (first.retried, app.show(instance).status) == (1, "error")  # failed again: next in 2 minutes
    clock.advance(minutes=2)
    second = worker.run_once()
    assert second.retried == 1 and app.show(instance).status == "running" and len(calls) == 3
    app.db.dispose()


def test_broken_instances_that_stay_due_never_crowd_out_the_others(
    app: Handoff, clock: ManualClock, db_url: str
) -> None:
    app.deploy([DRAIN], actor="dan")
    broken = [app.start("cooling_off", data={"work": 1}, actor="dan").id for _ in range(3)]
    healthy = app.start("cooling_off", data={"work": 1}, actor="dan").id
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:  # damaged rows, due first: every attempt at them fails
        conn.execute(
            text("UPDATE process_instance SET state = 'not json', next_due_at = :due WHERE id IN (1, 2, 3)"),
            {"due": datetime(2026, 3, 1, tzinfo=UTC)},
        )
    engine.dispose()
    assert broken == [1, 2, 3]
    clock.advance(minutes=2)
    result = Worker(app, name="w1", batch=2).run_once()
    assert (result.fired, result.failed) == (1, 3)
    assert all("instance" in p for p in result.problems)
    assert app.show(healthy).status == "completed"


def test_a_pass_stops_at_its_item_limit_and_the_next_pass_goes_on(
    app: Handoff, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import engine.worker

    monkeypatch.setattr(engine.worker, "MAX_PER_PASS", 2)
    app.deploy([DRAIN], actor="dan")
    for _ in range(3):
        app.start("cooling_off", data={"work": 1}, actor="dan")
    clock.advance(minutes=2)
    worker = Worker(app, name="w1", batch=1)
    assert [worker.run_once().fired for _ in range(3)] == [2, 1, 0]

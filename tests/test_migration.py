"""Moving running instances to a new version (issue 16 item 2), on SQLite and PostgreSQL.

claims v1: register -> review -> inspect -> assess -> (message "invoice received") -> pay. v2 renames
review, removes inspect, adds approve before pay. Twenty instances wait on v1, four at each of the five
places; the four at inspect cannot move (their work is at an element v2 does not have), the others move
and complete on v2, with their history intact and the invariants of tests/invariants.py holding. A
`handoff migrate` killed with SIGKILL in the middle leaves every instance wholly on v1 or on v2.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from typing import Any

import pytest
from click.testing import CliRunner
from invariants import check_history_matches_state
from sqlalchemy import func, select

from cli import main
from conftest import DATA, handoff_command
from engine import Forbidden, Handoff
from storage.models import Event

V1 = DATA / "migration" / "claims_v1.bpmn"
V2 = DATA / "migration" / "claims_v2.bpmn"
BEFORE = ["register", "review", "inspect", "assess"]  # the user tasks before the message, in order
STOPS = ["register", "review", "inspect", "assess", "receipt"]


def populate(app: Handoff, count: int = 20, actor: str = "root") -> dict[int, str]:
    """`count` instances of v1, each waiting at STOPS[i % 5]; instance id -> where it waits."""
    app.deploy([V1], actor=actor)
    where: dict[int, str] = {}
    for i in range(count):
        stop = STOPS[i % len(STOPS)]
        view = app.start("claims", business_key=f"C{i}", actor=actor)
        for _ in BEFORE[: STOPS.index(stop)]:
            [task] = app.tasks(instance_id=view.id, actor=actor)
            app.complete(task.id, data={}, actor=actor)
        where[view.id] = stop
    app.deploy([V2], actor=actor)
    return where


def events_of(app: Handoff) -> list[tuple[Any, ...]]:
    with app.db.reader() as session:
        rows = session.execute(select(Event.id, Event.instance_id, Event.kind, Event.at).order_by(Event.id))
        return [tuple(r) for r in rows]


def finish(app: Handoff, instance_id: int) -> list[str]:
    """Drive one instance to its end: complete its tasks, deliver its invoice; the elements it did."""
    done: list[str] = []
    for _ in range(20):
        view = app.show(instance_id, actor="root")
        if view.status == "completed":
            return done
        if view.tasks:
            task = view.tasks[0]
            done.append(task.element)
            app.complete(task.id, data={}, actor="root")
        else:
            app.message("invoice received", key=view.business_key, actor="root")
            done.append("receipt")
    raise AssertionError(f"instance {instance_id} did not finish: {done}")


def test_the_dry_run_says_exactly_which_move_and_changes_nothing(app: Handoff) -> None:
    where = populate(app)
    before = events_of(app)
    report = app.migrate("claims", to_version=2, dry_run=True, actor="root")
    assert {m.id for m in report.instances} == set(where)
    for move in report.instances:
        assert move.at == (where[move.id],)
        assert (move.added, move.removed, move.changed) == (("approve",), ("inspect",), ("review",))
        if where[move.id] == "inspect":
            assert not move.movable and "inspect" in (move.reason or "")
        else:
            assert move.movable and move.reason is None
        assert not move.migrated
    summary = report.to_json()["summary"]
    assert summary == {"selected": 20, "can_move": 16, "migrated": 0, "cannot_move": 4, "failed": 0}
    assert events_of(app) == before
    assert {app.show(i, actor="root").version for i in where} == {1}


def test_the_migration_moves_them_and_each_completes_on_v2_with_its_history(
    app: Handoff, db_url: str
) -> None:
    where = populate(app)
    before = events_of(app)
    report = app.migrate("claims", to_version=2, actor="root")
    assert report.count("migrated") == 16 and report.count("cannot move") == 4
    # History is append-only: every event written on v1 is still there, as it was.
    after = events_of(app)
    assert after[: len(before)] == before
    migrated_events = Counter(e[1] for e in after[len(before) :] if e[2] == "instance_migrated")
    assert migrated_events == Counter({i: 1 for i, stop in where.items() if stop != "inspect"})
    for instance_id, stop in where.items():
        view = app.show(instance_id, actor="root")
        assert view.version == (1 if stop == "inspect" else 2)
        if stop == "review":  # the open task row took v2's name
            assert [t.name for t in view.tasks] == ["Check claim for completeness"]
    check_history_matches_state(db_url)

    for instance_id, stop in where.items():
        done = finish(app, instance_id)
        if stop == "inspect":  # stayed on v1: its own path, without approve
            assert done == ["inspect", "assess", "receipt", "pay"]
        else:
            rest = ["register", "review", "assess", "receipt", "approve", "pay"]
            assert done == rest[rest.index(stop) :], (instance_id, done)
        assert app.show(instance_id, actor="root").status == "completed"
    check_history_matches_state(db_url)
    timeline = app.history(next(i for i, s in where.items() if s == "review"), actor="root").to_json()
    kinds = [e["kind"] for e in timeline["timeline"]]
    assert kinds.index("instance_migrated") < kinds.index("instance_completed")


def test_named_instances_and_an_instance_in_error_move_and_then_retry(app: Handoff, tmp_path) -> None:
    where = populate(app, 5)
    report = app.migrate("claims", to_version=2, instance_ids=[1, 3], actor="root")
    assert [(m.id, m.outcome) for m in report.instances] == [(1, "migrated"), (3, "cannot move")]
    assert app.show(2, actor="root").version == 1
    again = app.migrate("claims", to_version=2, instance_ids=[1], actor="root")
    assert again.instances[0].reason == "it is on version 2 already"
    assert where[1] == "register"


def test_migrate_is_for_admins_only(app: Handoff) -> None:
    populate(app, 2)
    app.add_user("root", role="admin", actor=None)
    app.add_user("olga", role="operator", lanes=["Intake"], actor="root")
    with pytest.raises(Forbidden, match=r"olga \(operator\) may not migrate"):
        app.migrate("claims", to_version=2, actor="olga")


def test_the_command_line_lists_and_summarises(app: Handoff, db_url: str) -> None:
    populate(app, 5)
    runner = CliRunner()
    dry = runner.invoke(main, ["--db", db_url, "migrate", "claims", "--to-version", "2", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "instance 3 (running, v1 at inspect): cannot move: its open work is at inspect" in dry.stdout
    assert "instance 1 (running, v1 at register): can move to v2 (adds approve; removes inspect" in dry.stdout
    assert dry.stdout.strip().endswith(
        "dry run: 5 selected, 4 can move to v2, 1 cannot move, 0 failed (nothing changed)"
    )
    real = runner.invoke(main, ["--db", db_url, "--json", "migrate", "claims", "--to-version", "2"])
    assert real.exit_code == 0, real.output
    assert json.loads(real.stdout)["summary"]["migrated"] == 4
    missing = runner.invoke(main, ["--db", db_url, "migrate", "claims", "--to-version", "9"])
    assert missing.exit_code == 4 and "process 'claims' version 9 is not deployed" in missing.stderr


def test_a_kill_in_the_middle_leaves_each_instance_on_one_version(app: Handoff, db_url: str) -> None:
    count = 150
    where = populate(app, count)
    env = {**os.environ, "HANDOFF_DB": db_url}
    proc = subprocess.Popen(
        [*handoff_command(), "migrate", "claims", "--to-version", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    migrated = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with app.db.reader() as session:
                migrated = (
                    session.scalar(
                        select(func.count()).select_from(Event).where(Event.kind == "instance_migrated")
                    )
                    or 0
                )
            if migrated >= 5:
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.01)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    movable = sum(1 for stop in where.values() if stop != "inspect")
    with app.db.reader() as session:
        done = Counter(
            session.scalars(select(Event.instance_id).where(Event.kind == "instance_migrated")).all()
        )
    assert 0 < len(done) < movable, f"the kill did not land in the middle ({len(done)} of {movable})"
    for instance_id in where:
        version = app.show(instance_id, actor="root").version
        assert version == (2 if done[instance_id] else 1), instance_id
        assert done[instance_id] in (0, 1)
    check_history_matches_state(db_url)
    # The rest move on a second run, and nothing moves twice.
    report = app.migrate("claims", to_version=2, actor="root")
    assert report.count("migrated") == movable - len(done)


def test_an_incident_on_a_broken_version_is_fixed_by_migrating_and_retrying(app: Handoff, tmp_path) -> None:
    source = (DATA / "batch_pay.bpmn").read_text()
    broken = tmp_path / "v1" / "pay.bpmn"
    fixed = tmp_path / "v2" / "pay.bpmn"
    broken.parent.mkdir()
    fixed.parent.mkdir()
    broken.write_text(source.replace("total = amount + 1", "total = amount + fee"))  # fee: never set
    fixed.write_text(source)
    app.deploy([broken], actor="root")
    view = app.start("batch_pay", data={"blocked": False, "amount": 4}, actor="root")
    try:
        app.complete(view.tasks[0].id, actor="root")
    except Exception as exc:  # noqa: BLE001 - the incident
        assert "fee" in str(exc)
    assert app.show(view.id, actor="root").status == "error"
    app.deploy([fixed], actor="root")
    report = app.migrate("batch_pay", to_version=2, actor="root")
    assert [(m.id, m.outcome, m.status) for m in report.instances] == [(view.id, "migrated", "error")]
    moved = app.show(view.id, actor="root")
    assert moved.version == 2 and moved.status == "error"  # the incident stays until retried
    done = app.retry(view.id, actor="root")
    assert done.status == "completed" and done.data["total"] == 5

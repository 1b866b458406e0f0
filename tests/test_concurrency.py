"""Concurrent writers: exactly one wins, the other gets a clear conflict, nothing is lost or doubled.

Acceptance criterion: "Two processes completing the same task at once: exactly one wins, the other gets
a conflict error; tested on SQLite and PostgreSQL."

The in-process tests force the overlap deterministically: two threads, each with its own Handoff and
Database (its own connections), meet at a barrier after both have loaded the instance and applied the
change in memory, so both write against the same starting state. The subprocess tests start two real
`handoff` processes together; whichever starts after the other committed must get "already completed"
(or "claimed by"), never a second success and never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import EXAMPLE, handoff_command
from engine import Conflict, Handoff, InstanceView
from storage import Database

# --- helpers -----------------------------------------------------------------------------------------


@pytest.fixture
def o2c(db_url: str) -> Iterator[Handoff]:
    """order_to_cash deployed on a fresh database; the Handoff used for setup and for checking."""
    app = Handoff(Database(db_url))
    app.init()
    app.deploy([EXAMPLE], actor="admin")
    yield app
    app.db.dispose()


def task_named(view: InstanceView, name: str) -> int:
    ids = [t.id for t in view.tasks if t.name == name]
    assert len(ids) == 1, [(t.id, t.name) for t in view.tasks]
    return ids[0]


def race(url: str, actions: list[Callable[[Handoff], Any]]) -> list[tuple[str, Any]]:
    """Run each action in its own thread with its own Handoff; ("ok", result) or ("error", exception)."""
    apps = [Handoff(Database(url)) for _ in actions]
    results: list[tuple[str, Any]] = [("missing", None)] * len(actions)

    def work(i: int) -> None:
        try:
            results[i] = ("ok", actions[i](apps[i]))
        except BaseException as exc:  # noqa: BLE001 - reported to the test below
            results[i] = ("error", exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(actions))]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
            assert not t.is_alive(), "a thread hung"
    finally:
        for app in apps:
            app.db.dispose()
    return results


def one_winner(results: list[tuple[str, Any]]) -> tuple[int, Conflict]:
    """Exactly one success; the other failed with the engine's Conflict (exit code 5). Returns (winner, error)."""
    oks = [i for i, (kind, _) in enumerate(results) if kind == "ok"]
    errors = [value for kind, value in results if kind == "error"]
    assert len(oks) == 1, results
    assert len(errors) == 1, results
    error = errors[0]
    assert isinstance(error, Conflict), repr(error)
    assert error.exit_code == 5
    assert "\n" not in str(error)
    return oks[0], error


BARRIER_TIMEOUT = 5
OVERLAP_PHRASES = ("someone else",)  # both wrote against the same state: refused at write time
SERIAL_PHRASES = ("already completed", "claimed by")  # the loser ran after the winner committed


def _meet(barrier: threading.Barrier) -> None:
    """Wait for the other thread. If it never arrives (a database that queues writers, e.g. SQLite with
    BEGIN IMMEDIATE, keeps it waiting for our lock), go on alone: then the two run one after the other."""
    with contextlib.suppress(threading.BrokenBarrierError):
        barrier.wait()


def conflict_phrases(barrier: threading.Barrier) -> tuple[str, ...]:
    return SERIAL_PHRASES if barrier.broken else OVERLAP_PHRASES


def meet_after_running_user_task(monkeypatch: pytest.MonkeyPatch) -> threading.Barrier:
    """From now on, `complete` calls wait here after the task ran in memory, before either writes."""
    from engine import runtime

    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    original = runtime.run_user_task

    def run_then_wait(task: Any, data: dict[str, Any]) -> None:
        original(task, data)
        _meet(barrier)

    monkeypatch.setattr(runtime, "run_user_task", run_then_wait)
    return barrier


def meet_before_task_update(monkeypatch: pytest.MonkeyPatch) -> threading.Barrier:
    """From now on, `claim` calls wait here after reading the task as ready, before either updates it."""
    from storage import repository

    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT)
    original = repository.update_task_if

    def wait_then_update(*args: Any, **kwargs: Any) -> bool:
        _meet(barrier)
        return original(*args, **kwargs)

    monkeypatch.setattr(repository, "update_task_if", wait_then_update)
    return barrier


def events(app: Handoff, instance: int, kind: str, **match: Any) -> list[Any]:
    return [
        e
        for e in app.show(instance).timeline
        if e.kind == kind and all(getattr(e, k) == v for k, v in match.items())
    ]


# --- in-process, forced overlap ----------------------------------------------------------------------


def test_same_task_completed_twice_at_once(
    o2c: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = o2c.start("order_to_cash", actor="ann")
    task = task_named(view, "Register order")
    users = ["ann", "bob"]
    barrier = meet_after_running_user_task(monkeypatch)

    results = race(
        db_url,
        [
            lambda app, u=u: app.complete(task, data={"customer": f"{u}-co", "amount": 100}, actor=u)
            for u in users
        ],
    )
    winner, error = one_winner(results)
    assert any(p in str(error) for p in conflict_phrases(barrier)), str(error)
    who = users[winner]

    # The task was completed once, by the winner, with the winner's data.
    [row] = [t for t in o2c.tasks(instance_id=view.id, include_closed=True) if t.id == task]
    assert row.state == "completed" and row.completed_by == who
    assert len(events(o2c, view.id, "task_completed", task=task)) == 1
    shown = o2c.show(view.id)
    assert shown.status == "running"
    assert shown.data["customer"] == f"{who}-co"
    # The next task is ready exactly once.
    assert [t.name for t in shown.tasks] == ["Approve credit"]
    assert len(events(o2c, view.id, "task_ready", name="Approve credit")) == 1
    assert len(events(o2c, view.id, "task_completed", element="Task_AssessRisk")) == 1
    assert len(o2c.tasks(instance_id=view.id, include_closed=True)) == 2

    # The loser, trying again, is told it is already done.
    monkeypatch.undo()
    loser = users[1 - winner]
    with pytest.raises(Conflict, match=f"already completed by {who}"):
        o2c.complete(task, data={"customer": "x"}, actor=loser)
    # And the instance runs on normally.
    after = o2c.complete(task_named(shown, "Approve credit"), data={"approved": True}, actor="cy")
    assert sorted(t.name for t in after.tasks) == ["Issue invoice", "Pick and pack"]


def test_two_tasks_of_one_instance_at_once_lose_no_update(
    o2c: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Different tasks of the same instance (parallel branches): the version counter refuses the second."""
    view = o2c.start("order_to_cash", actor="ann")
    view = o2c.complete(task_named(view, "Register order"), data={"customer": "ACME"}, actor="ann")
    view = o2c.complete(task_named(view, "Approve credit"), data={"approved": True}, actor="bob")
    invoice, pick = task_named(view, "Issue invoice"), task_named(view, "Pick and pack")
    form = {invoice: {"invoice_number": "INV-7"}, pick: {"packages": 2}}

    barrier = meet_after_running_user_task(monkeypatch)
    results = race(
        db_url,
        [
            lambda app: app.complete(invoice, data=form[invoice], actor="di"),
            lambda app: app.complete(pick, data=form[pick], actor="cy"),
        ],
    )
    if barrier.broken:  # writers were queued, not raced: both went through, one after the other
        assert [kind for kind, _ in results] == ["ok", "ok"], results
        final = o2c.show(view.id)
        assert [t.name for t in final.tasks] == ["Ship order"]
        assert final.data["invoice_number"] == "INV-7" and final.data["packages"] == 2
        return
    winner, error = one_winner(results)
    assert "someone else" in str(error), str(error)
    done, lost = (invoice, pick) if winner == 0 else (pick, invoice)

    shown = o2c.show(view.id)
    # The loser's task is still open and was not marked completed; the winner's change is there.
    assert [t.id for t in shown.tasks] == [lost]
    assert len(events(o2c, view.id, "task_completed", task=done)) == 1
    assert events(o2c, view.id, "task_completed", task=lost) == []
    # Completing it now joins the branches: nothing of the winner's completion was lost.
    monkeypatch.undo()
    final = o2c.complete(lost, data=form[lost], actor="cy" if lost == pick else "di")
    assert [t.name for t in final.tasks] == ["Ship order"]
    assert final.data["invoice_number"] == "INV-7" and final.data["packages"] == 2


def test_same_task_claimed_twice_at_once(o2c: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    view = o2c.start("order_to_cash", actor="ann")
    task = task_named(view, "Register order")
    users = ["ann", "bob"]
    barrier = meet_before_task_update(monkeypatch)
    results = race(db_url, [lambda app, u=u: app.claim(task, actor=u) for u in users])
    winner, error = one_winner(results)
    assert any(p in str(error) for p in conflict_phrases(barrier)), str(error)
    who = users[winner]
    [row] = o2c.tasks(instance_id=view.id)
    assert row.state == "claimed" and row.assignee == who
    claims = events(o2c, view.id, "task_claimed", task=task)
    assert [e.actor for e in claims] == [who]
    # The loser can neither claim nor complete it now.
    loser = users[1 - winner]
    monkeypatch.undo()
    with pytest.raises(Conflict, match=f"claimed by {who}"):
        o2c.complete(task, data={"customer": "x"}, actor=loser)


def test_tasks_of_different_instances_at_once_both_succeed(
    o2c: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """Unrelated instances do not conflict: two operators finishing their own tasks at once both succeed."""
    first = o2c.start("order_to_cash", actor="ann")
    second = o2c.start("order_to_cash", actor="ann")
    tasks = {u: task_named(v, "Register order") for u, v in (("ann", first), ("bob", second))}
    meet_after_running_user_task(monkeypatch)
    results = race(
        db_url,
        [
            lambda app, u=u: app.complete(tasks[u], data={"customer": f"{u}-co"}, actor=u)
            for u in ("ann", "bob")
        ],
    )
    assert [kind for kind, _ in results] == ["ok", "ok"], results
    for view in (first, second):
        assert [t.name for t in o2c.show(view.id).tasks] == ["Approve credit"]


def test_loser_reading_between_the_winners_writes_is_told_why(
    o2c: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The loser reads the task and instance rows before the winner commits, and goes on after it.

    (They are read in one statement, at one moment: on PostgreSQL, READ COMMITTED, two reads could see
    different commits.) The loser must still get a Conflict, and one that says what happened.
    """
    from storage import repository

    view = o2c.start("order_to_cash", actor="ann")
    task = task_named(view, "Register order")
    loser_read_task, winner_done = threading.Event(), threading.Event()
    original = repository.get_task_with_instance

    def get_task_with_instance(*args: Any, **kwargs: Any) -> Any:
        read = original(*args, **kwargs)
        if threading.current_thread().name == "loser":
            loser_read_task.set()
            # A database that queues writers (SQLite with BEGIN IMMEDIATE) blocks the winner behind us:
            # then stop waiting, and the roles swap.
            winner_done.wait(3)
        return read

    monkeypatch.setattr(repository, "get_task_with_instance", get_task_with_instance)
    apps = {"bob": Handoff(Database(db_url)), "ann": Handoff(Database(db_url))}
    outcome: dict[str, BaseException | None] = {}

    def complete(user: str) -> None:
        try:
            apps[user].complete(task, data={"customer": f"{user}-co"}, actor=user)
            outcome[user] = None
        except BaseException as exc:  # noqa: BLE001 - checked below
            outcome[user] = exc

    loser = threading.Thread(target=complete, args=("bob",), name="loser")
    try:
        loser.start()
        assert loser_read_task.wait(10)
        complete("ann")
        winner_done.set()
        loser.join(30)
    finally:
        winner_done.set()
        for app in apps.values():
            app.db.dispose()
    [who] = [u for u, exc in outcome.items() if exc is None]
    [error] = [exc for exc in outcome.values() if exc is not None]
    assert isinstance(error, Conflict), repr(error)
    assert any(p in str(error) for p in (f"already completed by {who}", "someone else")), str(error)
    monkeypatch.undo()
    assert len(events(o2c, view.id, "task_completed", task=task)) == 1
    assert o2c.show(view.id).data["customer"] == f"{who}-co"


# --- real processes ----------------------------------------------------------------------------------


def _command() -> list[str]:
    return handoff_command()


def _spawn(url: str, user: str, *args: object, cwd: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_DB", "HANDOFF_USER")}
    return subprocess.Popen(
        [*_command(), "--db", url, "--user", user, *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env=env,
    )


def _pair(url: str, argv_by_user: dict[str, list[object]], cwd: Path) -> dict[str, tuple[int, str]]:
    procs = {user: _spawn(url, user, *argv, cwd=cwd) for user, argv in argv_by_user.items()}
    out = {}
    for user, proc in procs.items():
        _, stderr = proc.communicate(timeout=120)
        out[user] = (proc.returncode, stderr)
    return out


def _check_pair(outcome: dict[str, tuple[int, str]], loser_phrases: tuple[str, ...]) -> str:
    for _code, stderr in outcome.values():
        assert "Traceback" not in stderr, stderr
    winners = [u for u, (code, _) in outcome.items() if code == 0]
    assert len(winners) == 1, outcome
    [(code, stderr)] = [v for u, v in outcome.items() if u != winners[0]]
    assert code == 5, outcome
    lines = stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert any(p in lines[0] for p in loser_phrases), lines[0]
    return winners[0]


ROUNDS = 5


def test_two_processes_complete_the_same_task(o2c: Handoff, db_url: str, tmp_path: Path) -> None:
    views = [o2c.start("order_to_cash", actor="ann") for _ in range(ROUNDS)]
    for view in views:
        task = task_named(view, "Register order")
        outcome = _pair(
            db_url, {u: ["complete", task, "--data", f"customer={u}-co"] for u in ("ann", "bob")}, tmp_path
        )
        who = _check_pair(outcome, ("already completed", "someone else", "at the same time"))
        shown = o2c.show(view.id)
        assert shown.data["customer"] == f"{who}-co"
        assert [t.name for t in shown.tasks] == ["Approve credit"]
        assert len(events(o2c, view.id, "task_completed", task=task)) == 1
        assert len(events(o2c, view.id, "task_ready", name="Approve credit")) == 1
        [row] = [t for t in o2c.tasks(instance_id=view.id, include_closed=True) if t.id == task]
        assert row.state == "completed" and row.completed_by == who


def test_two_processes_claim_the_same_task(o2c: Handoff, db_url: str, tmp_path: Path) -> None:
    views = [o2c.start("order_to_cash", actor="ann") for _ in range(ROUNDS)]
    for view in views:
        task = task_named(view, "Register order")
        outcome = _pair(db_url, {u: ["claim", task] for u in ("ann", "bob")}, tmp_path)
        who = _check_pair(outcome, ("claimed by", "someone else", "at the same time"))
        [row] = o2c.tasks(instance_id=view.id)
        assert row.state == "claimed" and row.assignee == who
        assert [e.actor for e in events(o2c, view.id, "task_claimed", task=task)] == [who]

"""Incidents and the lifecycle (docs/incidents.md): automatic retries by policy on the engine clock,
incidents once they are spent, manual retry, suspend, resume, terminate — each in history with its actor.

Every test runs on SQLite and PostgreSQL. The worker is not needed: the tests move the manual clock and
call `retry_due` and `fire_timers` as the worker does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA, ROOT, table_rows
from engine import Conflict, Forbidden, Handoff, ManualClock, ScriptFailed
from engine.handlers import ServiceCall
from storage import Database


class Payments:
    """The handlers of flaky_payment.bpmn: the card gateway fails `charge_failures` times, the mail
    server is down while `mail_down` is true."""

    def __init__(self, charge_failures: int = 0, mail_down: bool = False) -> None:
        self.charge_failures = charge_failures
        self.mail_down = mail_down
        self.charges: list[ServiceCall] = []

    def charge(self, call: ServiceCall) -> dict[str, Any]:
        self.charges.append(call)
        if len(self.charges) <= self.charge_failures:
            raise ConnectionError("card gateway timed out")
        return {"charged": call.params["amount"]}

    def notify(self, call: ServiceCall) -> dict[str, Any]:
        if self.mail_down:
            raise RuntimeError("mail server down")
        return {"notified": True}


@pytest.fixture
def payments() -> Payments:
    return Payments()


@pytest.fixture
def shop(db_url: str, clock: ManualClock, payments: Payments) -> Iterator[Handoff]:
    app = Handoff(
        Database(db_url),
        clock=clock,
        services={"charge_card": payments.charge, "notify_customer": payments.notify},
        load_entry_points=False,
    )
    app.init()
    app.deploy([DATA / "flaky_payment.bpmn"], actor="dan")
    app.deploy([DATA / "lifecycle.bpmn"], actor="dan")
    yield app
    app.db.dispose()


def cli(url: str, *args: object, user: str = "root", as_json: bool = False) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv)


def kinds(app: Handoff, instance: int) -> list[str]:
    return [e.kind for e in app.show(instance).timeline]


def test_flaky_handler_is_retried_by_policy_until_it_succeeds(
    shop: Handoff, clock: ManualClock, payments: Payments, db_url: str
) -> None:
    payments.charge_failures = 2
    with pytest.raises(
        ScriptFailed, match=r"Charge card \(charge\) failed: handler 'charge_card' raised"
    ) as failed:
        shop.start("payment", data={"amount": 120}, actor="web")
    assert "retries it by itself at 2026-03-02 09:01:00 UTC (retry 1 of 2)" in str(failed.value)
    instance = failed.value.instance_id
    assert instance is not None
    (summary,) = shop.instances(status="error")
    assert summary.to_json() | {"error": None} == summary.to_json() | {
        "error": None,
        "attempts": 0,
        "retries": 2,
        "next_retry_at": "2026-03-02T09:01:00Z",
        "incident": False,
    }
    assert summary.error is not None and summary.error["type"] == "ConnectionError"

    # Not due yet: nothing happens, nothing is written.
    clock.advance(seconds=59)
    before = table_rows(db_url)
    assert shop.retry_due(instance) is None
    assert table_rows(db_url) == before

    clock.advance(seconds=1)  # 09:01: the first retry fails again; the next waits twice as long
    view = shop.retry_due(instance)
    assert view is not None and view.status == "error" and view.attempts == 1
    assert view.next_due_at is not None and view.next_due_at.strftime("%H:%M") == "09:03"

    clock.advance(minutes=2)  # 09:03: the second retry succeeds and the instance runs on
    view = shop.retry_due(instance)
    assert view is not None and view.status == "running" and view.attempts == 0 and view.error is None
    assert [t.name for t in view.tasks] == ["Ship order"] and view.data["charged"] == 120
    # Every run of the task had the same id (the handler's idempotency key) and its own attempt number.
    assert [c.attempt for c in payments.charges] == [1, 2, 3]
    assert len({c.key for c in payments.charges}) == 1 and payments.charges[0].instance is None  # starting
    assert payments.charges[1].instance == instance
    assert kinds(shop, instance) == [
        "instance_started",
        "task_error", "instance_failed",
        "instance_retried", "task_error", "instance_failed",
        "instance_retried", "task_completed", "task_completed", "task_ready",
    ]  # fmt: skip
    retried = [e for e in shop.show(instance).timeline if e.kind == "instance_retried"]
    assert [e.data for e in retried] == [
        {"automatic": True, "attempt": 1, "retries": 2},
        {"automatic": True, "attempt": 2, "retries": 2},
    ]
    assert all(e.actor is None for e in retried)


def test_spent_retries_become_an_incident_that_a_person_retries(
    shop: Handoff, clock: ManualClock, payments: Payments, db_url: str
) -> None:
    payments.mail_down = True  # the default policy for service tasks: retries after 1, 2 and 4 minutes
    with pytest.raises(ScriptFailed, match="Notify customer"):
        shop.start("payment", data={"amount": 80}, actor="web")
    (instance,) = [i.id for i in shop.instances(status="error")]
    for minutes, attempts in ((1, 1), (2, 2), (4, 3)):
        clock.advance(minutes=minutes)
        view = shop.retry_due(instance)
        assert view is not None and view.attempts == attempts
    assert view.status == "error" and view.next_due_at is None and view.incident
    assert kinds(shop, instance)[-3:] == ["task_error", "instance_failed", "incident_opened"]
    assert kinds(shop, instance).count("instance_retried") == 3
    clock.advance(hours=1)
    assert shop.retry_due(instance) is None  # an incident waits for people

    # What `handoff instances --status error` shows: the cause, the retries, and that it is an incident.
    text = cli(db_url, "instances", "--status", "error")
    assert text.exit_code == 0, text.stderr
    header, _, row = text.stdout.splitlines()
    assert header.split() == [
        "ID",
        "PROCESS",
        "VER",
        "STATUS",
        "KEY",
        "STARTED",
        "UPDATED",
        "RETRIES",
        "NEXT",
        "RETRY",
        "CAUSE",
    ]
    assert "3/3" in row and "incident" in row
    assert "Notify customer (notify): handler 'notify_customer' raised RuntimeError: mail server down" in row
    (listed,) = json.loads(cli(db_url, "instances", "--status", "error", as_json=True).stdout)
    assert (listed["attempts"], listed["retries"], listed["next_retry_at"], listed["incident"]) == (
        3,
        3,
        None,
        True,
    )
    assert listed["error"]["task"] == "notify" and listed["error"]["message"].endswith("mail server down")
    shown = cli(db_url, "show", instance).stdout
    assert "incident: Notify customer (notify): handler 'notify_customer' raised" in shown
    assert "after 3 automatic retries" in shown

    # Retrying by hand while the mail server is still down changes nothing; once it is back, it runs on.
    before = table_rows(db_url)
    with pytest.raises(ScriptFailed, match="nothing changed"):
        shop.retry(instance, actor="root")
    assert table_rows(db_url) == before
    payments.mail_down = False
    view = shop.retry(instance, actor="root")
    assert view.status == "running" and view.attempts == 0 and [t.name for t in view.tasks] == ["Ship order"]
    retried = [e for e in shop.show(instance).timeline if e.kind == "instance_retried"]
    assert retried[-1].actor == "root"


def test_suspend_holds_tasks_and_timers_and_resume_restores(shop: Handoff, clock: ManualClock) -> None:
    view = shop.start("quote", actor="sam")
    (prepare,) = view.tasks
    view = shop.suspend(view.id, reason="customer on holiday", actor="root")
    assert view.status == "suspended" and [t.id for t in view.tasks] == [prepare.id]
    with pytest.raises(
        Conflict, match=r"instance \d+ is suspended: task \d+ \(Prepare quote\) cannot be claimed now"
    ):
        shop.claim(prepare.id, actor="sam")
    with pytest.raises(Conflict, match="cannot be completed now; an admin resumes it with 'handoff resume"):
        shop.complete(prepare.id, data={"price": 100}, actor="sam")
    with pytest.raises(Conflict, match="only a running, waiting or failed instance can be suspended"):
        shop.suspend(view.id, actor="root")
    view = shop.resume(view.id, actor="root")
    assert view.status == "running"

    # Waiting on the day's timer: suspended, the timer does not fire however late it gets.
    view = shop.complete(prepare.id, data={"price": 100}, actor="sam")
    assert view.status == "waiting" and view.next_due_at is not None
    shop.suspend(view.id, actor="root")
    clock.advance(days=2)
    assert shop.fire_timers(view.id) is None
    view = shop.resume(view.id, actor="root")
    assert view.status == "waiting"
    fired = shop.fire_timers(view.id)  # what the worker does on its next pass
    assert fired is not None and [t.name for t in fired.tasks] == ["Follow up"]
    timeline = shop.show(view.id).timeline
    held = [
        (e.kind, e.actor, e.data) for e in timeline if e.kind in ("instance_suspended", "instance_resumed")
    ]
    assert held == [
        ("instance_suspended", "root", {"previous_status": "running", "reason": "customer on holiday"}),
        ("instance_resumed", "root", {"previous_status": "suspended", "status": "running"}),
        ("instance_suspended", "root", {"previous_status": "waiting"}),
        ("instance_resumed", "root", {"previous_status": "suspended", "status": "waiting"}),
    ]
    assert [e.kind for e in timeline][-2:] == ["timer_fired", "task_ready"]


def test_a_failed_instance_suspended_keeps_its_retry_for_later(
    shop: Handoff, clock: ManualClock, payments: Payments
) -> None:
    payments.charge_failures = 1
    with pytest.raises(ScriptFailed):
        shop.start("payment", data={"amount": 5}, actor="web")
    (instance,) = [i.id for i in shop.instances(status="error")]
    shop.suspend(instance, actor="root")
    clock.advance(minutes=5)
    assert shop.retry_due(instance) is None  # on hold: the retry waits
    assert shop.resume(instance, actor="root").status == "error"
    view = shop.retry_due(instance)
    assert view is not None and view.status == "running"


def test_terminate_cancels_open_work_and_ends_the_instance(
    shop: Handoff, clock: ManualClock, db_url: str
) -> None:
    view = shop.start("quote", actor="sam")
    (prepare,) = view.tasks
    view = shop.terminate(view.id, reason="duplicate request", actor="root")
    assert view.status == "terminated" and view.tasks == () and view.next_due_at is None
    (task,) = shop.tasks(instance_id=view.id, include_closed=True)
    assert task.state == "cancelled"
    timeline = shop.show(view.id).timeline
    assert [(e.kind, e.actor) for e in timeline][-2:] == [
        ("task_cancelled", "root"),
        ("instance_terminated", "root"),
    ]
    assert timeline[-1].data == {"previous_status": "running", "reason": "duplicate request"}

    before = table_rows(db_url)
    for refused, message in (
        (lambda: shop.complete(prepare.id, data={"price": 1}, actor="sam"), "was cancelled"),
        (lambda: shop.claim(prepare.id, actor="sam"), "was cancelled"),
        (lambda: shop.resume(view.id, actor="root"), "is terminated, not suspended"),
        (lambda: shop.terminate(view.id, actor="root"), "it has already ended"),
        (lambda: shop.suspend(view.id, actor="root"), "is terminated"),
        (lambda: shop.retry(view.id, actor="root"), "not in error"),
    ):
        with pytest.raises(Conflict, match=message):
            refused()
    clock.advance(days=3)
    assert shop.fire_timers(view.id) is None and shop.retry_due(view.id) is None
    assert table_rows(db_url) == before


def test_operators_may_not_suspend_or_terminate(shop: Handoff, db_url: str) -> None:
    shop.add_user("root", role="admin", actor=None)
    shop.add_user("sam", lanes=["Sales"], actor="root")
    instance = shop.start("quote", actor="sam").id
    before = table_rows(db_url)
    for action in (
        lambda: shop.suspend(instance, actor="sam"),
        lambda: shop.resume(instance, actor="sam"),
        lambda: shop.terminate(instance, actor="sam"),
    ):
        with pytest.raises(
            Forbidden, match=r"sam \(operator\) may not (suspend or resume|terminate) instances"
        ):
            action()
    result = cli(db_url, "terminate", instance, user="sam")
    assert result.exit_code == 9 and result.stderr.startswith(
        "error: sam (operator) may not terminate instances"
    )
    assert table_rows(db_url) == before
    assert shop.suspend(instance, actor="root").status == "suspended"


def test_lifecycle_commands(shop: Handoff, db_url: str) -> None:
    instance = shop.start("quote", actor="sam").id
    held = cli(db_url, "suspend", instance, "--reason", "waiting for the customer")
    assert held.exit_code == 0, held.stderr
    assert held.stdout.startswith(f"instance {instance}  quote v1  SUSPENDED")
    again = cli(db_url, "suspend", instance)
    assert again.exit_code == 5 and again.stderr.count("\n") == 1 and "is suspended" in again.stderr
    resumed = json.loads(cli(db_url, "resume", instance, as_json=True).stdout)
    assert resumed["status"] == "running" and resumed["tasks"][0]["name"] == "Prepare quote"
    history = cli(db_url, "history", instance).stdout
    assert "instance suspended" in history and "waiting for the customer" in history
    missing = cli(db_url, "terminate", 999)
    assert (
        missing.exit_code == 4
        and missing.stderr == "error: instance 999 does not exist (see 'handoff instances')\n"
    )
    ended = json.loads(cli(db_url, "terminate", instance, "--reason", "lost", as_json=True).stdout)
    assert ended["status"] == "terminated" and ended["tasks"] == []
    for command in ("suspend", "resume", "terminate"):
        assert "Admins only" in cli(db_url, command, "--help").stdout


def test_bad_retry_policy_is_refused_at_deploy(shop: Handoff, db_url: str) -> None:
    before = table_rows(db_url)
    result = cli(db_url, "deploy", DATA / "bad_retry.bpmn")
    assert result.exit_code == 3
    assert result.stderr == (
        f"error: {DATA / 'bad_retry.bpmn'}:10: serviceTask 'charge': property retries='many' must be a whole "
        "number from 0 to 100\n"
    )
    assert table_rows(db_url) == before


def test_lifecycle_as_a_process(db_url: str, tmp_path: Path) -> None:
    """`handoff suspend` / `resume` / `terminate` as real processes, one after the other."""
    env = dict(os.environ, HANDOFF_DB=db_url, HANDOFF_USER="root", PYTHONPATH=str(ROOT))

    def handoff(*args: object) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--json", *(str(a) for a in args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )

    assert handoff("init").returncode == 0
    assert handoff("deploy", DATA / "lifecycle.bpmn").returncode == 0
    instance = json.loads(handoff("start", "quote").stdout)["id"]
    assert json.loads(handoff("suspend", instance).stdout)["status"] == "suspended"
    task = json.loads(handoff("tasks").stdout)[0]["id"]
    refused = handoff("complete", task, "--data", "price=5")
    assert refused.returncode == 5 and "is suspended" in refused.stderr
    assert json.loads(handoff("resume", instance).stdout)["status"] == "running"
    assert json.loads(handoff("terminate", instance).stdout)["status"] == "terminated"
    shown = json.loads(handoff("show", instance).stdout)
    assert [e["kind"] for e in shown["timeline"]][-4:] == [
        "instance_suspended",
        "instance_resumed",
        "task_cancelled",
        "instance_terminated",
    ]

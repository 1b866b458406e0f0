"""Mail notifications (issue 15 item 4; docs/notifications.md) against a real SMTP server on 127.0.0.1
(aiosmtpd), on SQLite and PostgreSQL: the assignment, candidate, arrival (immediate and digest) and SLA
breach mails with their contents, and a stopped server leaving the operation done with `hook_failed`."""

from __future__ import annotations

import email
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA
from engine import Handoff
from engine.clock import ManualClock
from storage import Database

aiosmtpd = pytest.importorskip("aiosmtpd.controller")

CLAIM = DATA / "assignment_camunda.bpmn"
PEOPLE = {
    # name -> (role, lanes, address)
    "ann": ("admin", (), "ann@example.org"),
    "boss": ("admin", ("Finance",), "boss@example.org"),
    "cfo": ("operator", ("Finance",), "cfo@example.org"),
    "fin": ("operator", ("Finance",), "fin@example.org"),
    "dora": ("operator", ("Sales",), "dora@example.org"),
    "ed": ("operator", ("Audit",), "ed@example.org"),
    "rita": ("operator", ("Requester",), "rita@example.org"),
    "nomail": ("operator", ("Finance",), None),
}


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's name
        self.mails.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def take(self) -> list[tuple[str, str, str]]:
        """(to, subject, body) of the mails received since the last take, sorted; each from the sender
        that `notify set --from` gave."""
        assert all(m["From"] == "handoff@example.org" for m in self.mails)
        taken = sorted((m["To"], m["Subject"], m.get_content()) for m in self.mails)
        self.mails.clear()
        return taken


@contextmanager
def smtp_server() -> Iterator[tuple[int, Inbox, object]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    inbox = Inbox()
    controller = aiosmtpd.Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox, controller
    finally:
        with suppress(AssertionError):  # stopped by the test already
            controller.stop()


def cli(url: str, user: str, *args: object) -> Result:
    return CliRunner().invoke(main, ["--db", url, "--user", user, "--json", *map(str, args)])


def ok(url: str, user: str, *args: object) -> object:
    result = cli(url, user, *args)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def setup(url: str, port: int, clock: ManualClock | None = None) -> None:
    app = Handoff(Database(url), clock=clock) if clock else Handoff(Database(url))
    try:
        app.init()
        app.deploy([CLAIM], actor="setup")
        for name, (role, lanes, address) in PEOPLE.items():
            app.add_user(name, role=role, lanes=lanes, email=address, actor="ann")
    finally:
        app.db.dispose()
    ok(url, "ann", "notify", "set", "--host", "127.0.0.1", "--port", port, "--from", "handoff@example.org")


def subjects(mails: list[tuple[str, str, str]]) -> list[tuple[str, str]]:
    return [(to, subject) for to, subject, _ in mails]


def test_assignment_candidate_and_arrival_mails(db_url: str) -> None:
    with smtp_server() as (port, inbox, _):
        setup(db_url, port)
        started = ok(db_url, "rita", "start", "expense_claim", "--data", "starter=rita")
        enter = started["tasks"][0]["id"]
        # assigned from the model: only the assignee hears, no lane-wide arrival
        assert subjects(inbox.take()) == [
            ("rita@example.org", f"[Handoff] Task {enter} 'Enter claim' is assigned to you")
        ]
        done = ok(db_url, "rita", "complete", enter, "--data", "amount=5000")
        approve = done["tasks"][0]["id"]
        [(to, subject, body)] = inbox.take()
        assert (to, subject) == (
            "cfo@example.org",
            f"[Handoff] Task {approve} 'Approve claim' is assigned to you",
        )
        assert (
            f"Task {approve}: Approve claim" in body
            and f"Process: expense_claim, instance {started['id']}" in body
        )
        assert "Lane: Finance" in body

        done = ok(db_url, "cfo", "complete", approve)
        review = done["tasks"][0]["id"]
        mails = inbox.take()
        claim = f"[Handoff] Task {review} 'Review claim': you may claim it"
        arrival = "[Handoff] New task in Finance: Review claim"
        # the candidate user (dora), the candidate group's member (ed), then the lane (no mail for nomail)
        assert subjects(mails) == [
            ("boss@example.org", arrival),
            ("cfo@example.org", arrival),
            ("dora@example.org", claim),
            ("ed@example.org", claim),
            ("fin@example.org", arrival),
        ]
        assert (
            "You are a candidate for a task" in mails[2][2] and f"Task {review}: Review claim" in mails[2][2]
        )


def test_digest_mode_collects_arrivals(db_url: str) -> None:
    with smtp_server() as (port, inbox, _):
        setup(db_url, port)
        ok(db_url, "ann", "notify", "set", "--arrival", "digest", "--digest-minutes", "60")
        reviews = []
        for _ in range(2):
            started = ok(db_url, "rita", "start", "expense_claim", "--data", "starter=rita")
            done = ok(db_url, "rita", "complete", started["tasks"][0]["id"], "--data", "amount=200")
            done = ok(db_url, "fin", "complete", done["tasks"][0]["id"])
            reviews.append(done["tasks"][0]["id"])
        # candidates still hear at once; the lane's arrivals wait for the digest
        mails = inbox.take()
        assert all("you may claim it" in s or "assigned to you" in s for _, s, _ in mails)
        assert ok(db_url, "ann", "notify", "flush") == {"sent": 3}  # boss, cfo, fin
        digests = inbox.take()
        assert [to for to, _, _ in digests] == ["boss@example.org", "cfo@example.org", "fin@example.org"]
        to, subject, body = digests[2]
        assert subject == "[Handoff] 2 new tasks in your lanes"
        assert all(f"Task {r}: Review claim" in body for r in reviews)
        assert ok(db_url, "ann", "notify", "flush") == {"sent": 0}


def test_sla_breach_mails_the_lanes_admins(db_url: str) -> None:
    with smtp_server() as (port, inbox, _):
        an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
        setup(db_url, port, ManualClock(an_hour_ago))
        app = Handoff(Database(db_url), clock=ManualClock(an_hour_ago))
        try:
            view = app.start("expense_claim", data={"starter": "rita"}, actor="rita")
            view = app.complete(view.tasks[0].id, data={"amount": 200}, actor="rita")
            view = app.complete(view.tasks[0].id, actor="fin")
            review = view.tasks[0].id
        finally:
            app.db.dispose()
        inbox.take()
        ok(db_url, "ann", "sla", "set", "--lane", "Finance", "PT1M")
        result = CliRunner().invoke(main, ["--db", db_url, "--user", "ann", "worker", "--once"])
        assert result.exit_code == 0, result.output
        [(to, subject, body)] = inbox.take()  # boss: the admin who works in Finance (not ann)
        assert (to, subject) == ("boss@example.org", "[Handoff] SLA breached: Review claim in Finance")
        assert "The SLA of 1 min was broken: it has waited 60 min." in body and f"Task {review}" in body


def test_a_stopped_smtp_server_leaves_the_operation_done_and_records_hook_failed(db_url: str) -> None:
    with smtp_server() as (port, inbox, controller):
        setup(db_url, port)
        controller.stop()  # type: ignore[attr-defined]
        started = cli(db_url, "rita", "start", "expense_claim", "--data", "starter=rita")
        assert started.exit_code == 0, started.stderr
        instance = json.loads(started.stdout)["id"]
        assert json.loads(started.stdout)["tasks"][0]["assignee"] == "rita"
        history = ok(db_url, "ann", "history", instance)
        [failed] = [e for e in history["timeline"] if e["kind"] == "hook_failed"]
        assert "MailNotifier" in json.dumps(failed["data"]) and "Connection refused" in json.dumps(
            failed["data"]
        )
        assert inbox.take() == []

"""Messages and signals (issue 6 item 2; docs/messages.md).

Real BPMN files of tests/data: a two-pool collaboration (customer and supplier, correlated by order
number), a claim review with an interrupting boundary message, a web order started by a message that then
waits at an event-based gateway for payment or a timer, and a product recall signalled to every store
order. Through the services, click's CliRunner and a real `handoff` process; on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA, ROOT, table_rows
from engine import Forbidden, Handoff, HookError, InvalidInput, ManualClock, NotFound, Wait, hookimpl
from storage import Database

ORDERS = DATA / "order_collaboration.bpmn"
CLAIMS = DATA / "claim_withdrawal.bpmn"
WEB_ORDER = DATA / "web_order.bpmn"
RECALL = DATA / "product_recall.bpmn"
AUTOCONFIRM = DATA / "order_autoconfirm.bpmn"


def make(db_url: str, clock: ManualClock, *plugins: object) -> Handoff:
    app = Handoff(Database(db_url), clock=clock, plugins=plugins, load_entry_points=False)
    app.init()
    return app


@pytest.fixture
def app(db_url: str, clock: ManualClock) -> Any:
    handoff = make(db_url, clock)
    yield handoff
    handoff.db.dispose()


def kinds(app: Handoff, instance: int) -> list[tuple[str, str | None]]:
    return [(e.kind, e.element) for e in app.show(instance).timeline]


def events_of(app: Handoff, instance: int, kind: str) -> list[Any]:
    return [e for e in app.show(instance).timeline if e.kind == kind]


def subscriptions(db_url: str) -> list[tuple[int, str, str, str | None, str | None]]:
    """(instance, kind, name, correlation, element) of every row of the subscription table."""
    return sorted((r[1], r[2], r[3], r[4], r[5]) for r in table_rows(db_url)["subscription"])


def only(app: Handoff, process: str) -> Any:
    [found] = [i for i in app.instances() if i.process == process]
    return found


# --- two pools -------------------------------------------------------------------------------------------


def test_two_pools_exchange_order_and_confirmation(app: Handoff, db_url: str) -> None:
    app.deploy([ORDERS], actor="dee")
    customer = app.start(
        "customer_order", data={"order_id": "A-1", "item": "chair"}, business_key="SO-1", actor="ann"
    )

    # The send task's message started the supplier pool at its message start event, in the same
    # transaction, with the order's data and the customer's business key.
    assert customer.status == "waiting" and customer.tasks == ()
    assert app.waits_of(customer.id) == [Wait("message", "order confirmation", "A-1", "receive_confirmation")]
    supplier = app.show(only(app, "supplier_order").id)
    assert (supplier.status, supplier.business_key) == ("running", "SO-1")
    assert supplier.data == {"order_id": "A-1", "item": "chair"}
    assert [t.name for t in supplier.tasks] == ["Confirm order"]
    [sent] = events_of(app, customer.id, "message_sent")
    assert sent.data == {"message": "order", "key": "A-1", "to": [], "started": [supplier.id]}
    [received] = events_of(app, supplier.id, "message_received")
    assert received.element == "order_received"
    assert received.data["from"] == {"instance": customer.id, "process": "customer_order"}
    assert subscriptions(db_url) == [
        (customer.id, "message", "order confirmation", "A-1", "receive_confirmation")
    ]

    # The supplier confirms: its end event's message reaches the customer's receive task by the order
    # number, and the customer goes on to pay.
    done = app.complete(supplier.tasks[0].id, actor="sam")
    assert done.status == "completed"
    customer = app.show(customer.id)
    assert customer.status == "running" and [t.name for t in customer.tasks] == ["Pay invoice"]
    assert kinds(app, customer.id)[-3:] == [
        ("message_received", "receive_confirmation"),
        ("task_completed", "receive_confirmation"),
        ("task_ready", "pay"),
    ]
    [sent] = events_of(app, supplier.id, "message_sent")
    assert sent.data == {"message": "order confirmation", "key": "A-1", "to": [customer.id], "started": []}
    assert subscriptions(db_url) == []  # nothing waits any more
    assert app.complete(customer.tasks[0].id, actor="ann").status == "completed"


def test_a_thrown_message_is_one_transaction_with_the_throwers_change(
    db_url: str, clock: ManualClock
) -> None:
    class RefuseDeliveries:
        @hookimpl
        def handoff_record(self, events: Any, context: Any) -> None:
            if any(e.kind == "message_received" for e in events):
                raise RuntimeError("audit log offline")

    app = make(db_url, clock, RefuseDeliveries())
    app.deploy([ORDERS], actor="dee")
    before = table_rows(db_url)
    with pytest.raises(HookError, match="audit log offline"):
        app.start("customer_order", data={"order_id": "A-1"}, actor="ann")
    assert table_rows(db_url) == before  # neither the customer's start nor the supplier's
    app.db.dispose()


def test_an_immediate_reply_changes_the_thrower_again_in_its_own_transaction(
    app: Handoff, db_url: str
) -> None:
    app.deploy([AUTOCONFIRM], actor="dee")
    buyer = app.start("buyer", business_key="PO-5", actor="bo")

    # The web shop started, booked and acknowledged before the buyer's start was saved: the buyer's
    # view already shows where the reply took it.
    assert buyer.status == "running" and [t.name for t in buyer.tasks] == ["File purchase order"]
    shop = only(app, "webshop")
    assert (shop.status, shop.business_key) == ("completed", "PO-5")
    assert kinds(app, buyer.id) == [
        ("instance_started", None),
        ("message_sent", None),
        ("message_received", "ack_received"),
        ("task_ready", "file_po"),
    ]
    [ack] = events_of(app, buyer.id, "message_received")
    assert ack.data["data"] == {"booked": True} and ack.data["from"]["process"] == "webshop"
    assert app.show(buyer.id).status == "running" and subscriptions(db_url) == []
    assert app.complete(buyer.tasks[0].id, actor="bo").status == "completed"  # the stored version is current


def test_receive_task_takes_the_message_with_its_correlation_key(app: Handoff) -> None:
    app.deploy([ORDERS], actor="dee")
    first = app.start("customer_order", data={"order_id": "A-1"}, actor="ann")
    second = app.start("customer_order", data={"order_id": "A-2"}, actor="ann")

    with pytest.raises(InvalidInput, match=r"awaited by 2 instances .*--key or --instance.*--all"):
        app.message("order confirmation", actor="sam")

    [reached] = app.message("order confirmation", key="A-2", data={"eta": "Friday"}, actor="sam")
    assert reached.id == second.id and reached.status == "running"
    assert reached.data["eta"] == "Friday" and [t.name for t in reached.tasks] == ["Pay invoice"]
    assert app.show(first.id).status == "waiting"
    [received] = events_of(app, second.id, "message_received")
    assert (received.actor, received.element) == ("sam", "receive_confirmation")
    assert received.data == {
        "message": "order confirmation",
        "key": "A-2",
        "data": {"eta": "Friday"},
        "from": None,
    }

    with pytest.raises(NotFound, match="no instance waits for message 'order confirmation' with key 'A-2'"):
        app.message("order confirmation", key="A-2", actor="sam")


def test_all_delivers_to_every_waiting_instance(app: Handoff) -> None:
    app.deploy([ORDERS], actor="dee")
    ids = [app.start("customer_order", data={"order_id": f"A-{n}"}, actor="ann").id for n in (1, 2)]
    reached = app.message("order confirmation", every=True, actor="sam")
    assert [v.id for v in reached] == ids and {v.status for v in reached} == {"running"}


# --- boundary events, message starts, event-based gateways -----------------------------------------------


def test_boundary_message_interrupts_the_user_task_by_business_key(app: Handoff, db_url: str) -> None:
    app.deploy([CLAIMS], actor="dee")
    withdrawn = app.start("claim_review", business_key="CL-7", actor="ann")
    kept = app.start("claim_review", business_key="CL-8", actor="ann")
    review = withdrawn.tasks[0]

    [view] = app.message("claim withdrawn", key="CL-7", data={"reason": "sold the car"}, actor="carl")
    assert view.id == withdrawn.id and [t.name for t in view.tasks] == ["Close file"]
    assert view.data["reason"] == "sold the car"
    assert [t.state for t in app.tasks(instance_id=withdrawn.id, include_closed=True)] == [
        "cancelled",
        "ready",
    ]
    assert kinds(app, withdrawn.id)[-3:] == [
        ("message_received", "withdrawn"),
        ("task_ready", "close_file"),
        ("task_cancelled", "review"),
    ]
    assert app.show(kept.id).tasks[0].name == "Review claim"

    # Once the review is done the boundary event is gone: nothing waits for the message any more.
    app.complete(kept.tasks[0].id, actor="ann")
    assert [s for s in subscriptions(db_url) if s[0] == kept.id] == []
    with pytest.raises(NotFound, match="no instance waits for message 'claim withdrawn' with key 'CL-8'"):
        app.message("claim withdrawn", key="CL-8", actor="carl")
    assert review.name == "Review claim"


def test_message_start_event_starts_the_latest_version(app: Handoff) -> None:
    app.deploy([WEB_ORDER], actor="dee")
    [view] = app.message("web order", key="W-1", data={"item": "desk"}, actor="shop")
    assert (view.process, view.business_key, view.status) == ("web_order", "W-1", "running")
    assert view.data == {"item": "desk"} and [t.name for t in view.tasks] == ["Check order"]
    assert view.started_by == "shop"
    assert kinds(app, view.id)[:2] == [("instance_started", None), ("message_received", "ordered")]
    [again] = app.message("web order", key="W-2", actor="shop")
    assert again.id != view.id


def test_event_based_gateway_message_wins(app: Handoff, clock: ManualClock) -> None:
    app.deploy([WEB_ORDER], actor="dee")
    [view] = app.message("web order", key="W-1", actor="shop")
    waiting = app.complete(view.tasks[0].id, actor="sue")
    assert waiting.status == "waiting" and waiting.next_due_at == clock() + timedelta(hours=2)
    assert app.waits_of(view.id) == [Wait("message", "payment received", None, "await_payment")]

    [paid] = app.message("payment received", key="W-1", data={"amount": 120}, actor="bank")
    assert [t.name for t in paid.tasks] == ["Ship goods"] and paid.next_due_at is None
    clock.advance(hours=3)
    assert app.fire_timers(view.id) is None  # the timer branch was withdrawn with the gateway


def test_event_based_gateway_timer_wins(app: Handoff, clock: ManualClock, db_url: str) -> None:
    app.deploy([WEB_ORDER], actor="dee")
    [view] = app.message("web order", key="W-2", actor="shop")
    app.complete(view.tasks[0].id, actor="sue")
    clock.advance(hours=2, seconds=1)
    fired = app.fire_timers(view.id)
    assert fired is not None and [t.name for t in fired.tasks] == ["Remind customer"]
    assert app.waits_of(view.id) == [] and subscriptions(db_url) == []
    before = table_rows(db_url)
    with pytest.raises(NotFound):
        app.message("payment received", key="W-2", actor="bank")
    assert table_rows(db_url) == before


# --- signals ------------------------------------------------------------------------------------------


def test_a_thrown_signal_reaches_every_waiting_instance_and_starts_processes(app: Handoff) -> None:
    app.deploy([RECALL], actor="dee")
    stores = [app.start("store_order", actor="ann") for _ in range(3)]
    app.complete(stores[0].tasks[0].id, actor="ann")  # sold before the recall: no longer waits
    check = app.start("quality_check", actor="quinn")

    done = app.complete(check.tasks[0].id, data={"defective": True}, actor="quinn")
    assert done.status == "completed"
    for store in stores[1:]:
        assert [t.name for t in app.show(store.id).tasks] == ["Return goods"]
    assert app.show(stores[0].id).status == "completed"
    [report] = [i for i in app.instances() if i.process == "recall_report"]
    assert [t.name for t in app.show(report.id).tasks] == ["Report to authority"]
    [sent] = events_of(app, check.id, "signal_sent")
    assert sent.data == {"signal": "recall", "to": [s.id for s in stores[1:]], "started": [report.id]}
    [received] = events_of(app, stores[1].id, "signal_received")
    assert received.element == "recalled" and received.data["from"]["instance"] == check.id


def test_signal_from_outside_broadcasts(app: Handoff) -> None:
    app.deploy([RECALL], actor="dee")
    stores = [app.start("store_order", actor="ann") for _ in range(2)]
    reached = app.signal("recall", data={"batch": "B-17"}, actor="quinn")
    report = [v for v in reached if v.process == "recall_report"]
    assert sorted(v.id for v in reached if v.process == "store_order") == [s.id for s in stores]
    assert len(report) == 1 and report[0].data == {"batch": "B-17"}
    with pytest.raises(NotFound, match="instance 99 does not exist"):
        app.signal("recall", instance_id=99, actor="quinn")


def test_analysts_may_not_send_messages(app: Handoff, db_url: str) -> None:
    app.deploy([WEB_ORDER], actor="dee")
    app.add_user("root", role="admin", actor="setup")
    app.add_user("ana", role="analyst", actor="root")
    before = table_rows(db_url)
    with pytest.raises(Forbidden, match="ana \\(analyst\\) may not send messages and signals"):
        app.message("web order", actor="ana")
    assert table_rows(db_url) == before
    assert app.message("web order", key="W-3", actor="root")[0].started_by == "root"


# --- the command line -------------------------------------------------------------------------------------


def cli(db_url: str, *args: str, user: str = "ann") -> Any:
    return CliRunner().invoke(main, ["--db", db_url, "--user", user, *args])


def test_cli_message_starts_and_resumes(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    assert cli(db_url, "deploy", str(WEB_ORDER)).exit_code == 0
    started = cli(db_url, "message", "web order", "--key", "W-1", "--data", "item=desk")
    assert started.exit_code == 0, started.output
    assert started.output.startswith(
        "message 'web order' reached 1 instance\n\ninstance 1  web_order v1  RUNNING"
    )
    tasks = json.loads(cli(db_url, "--json", "tasks").output)
    assert cli(db_url, "complete", str(tasks[0]["id"])).exit_code == 0
    shown = cli(db_url, "show", "1")
    assert "waits for message 'payment received' at await_payment" in shown.output
    assert json.loads(cli(db_url, "--json", "show", "1").output)["waits_for"] == [
        {"kind": "message", "name": "payment received", "key": None, "element": "await_payment"}
    ]
    paid = cli(
        db_url, "--json", "message", "payment received", "--key", "W-1", "--data-json", '{"amount": 120}'
    )
    assert paid.exit_code == 0, paid.output
    [view] = json.loads(paid.output)
    assert (view["id"], view["status"], view["business_key"]) == (1, "running", "W-1")
    assert view["data"]["amount"] == 120 and [t["name"] for t in view["tasks"]] == ["Ship goods"]


def test_cli_no_match_is_one_line_exit_4_and_changes_nothing(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    assert cli(db_url, "deploy", str(CLAIMS)).exit_code == 0
    assert cli(db_url, "start", "claim_review", "--key", "CL-1").exit_code == 0
    before = table_rows(db_url)
    result = cli(db_url, "message", "claim withdrawn", "--key", "CL-9")
    assert result.exit_code == 4
    assert result.output == (
        "error: no instance waits for message 'claim withdrawn' with key 'CL-9' and no deployed process "
        "starts with it (see 'handoff instances --status waiting')\n"
    )
    as_json = cli(db_url, "--json", "signal", "nobody-listens")
    assert as_json.exit_code == 4
    assert json.loads(as_json.output.splitlines()[-1]) == {
        "error": "no instance waits for signal 'nobody-listens' and no deployed process starts with it "
        "(see 'handoff instances --status waiting')"
    }
    bad = cli(db_url, "message", "claim withdrawn", "--data", "oops")
    assert bad.exit_code == 2 and bad.output.startswith("error: ")
    assert table_rows(db_url) == before


def test_cli_help_explains_correlation() -> None:
    result = CliRunner().invoke(main, ["message", "--help"])
    assert result.exit_code == 0
    assert "correlation key" in result.output and "--all" in result.output and "business key" in result.output
    assert "Broadcast signal NAME" in CliRunner().invoke(main, ["signal", "--help"]).output


def test_collaboration_through_real_processes(db_url: str, tmp_path: Any) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_DB", "HANDOFF_USER")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, str(ROOT / "cli.py"), "--db", db_url, "--user", "ann", *args]
        return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    assert run("init").returncode == 0
    assert run("deploy", str(ORDERS)).returncode == 0
    started = run("--json", "start", "customer_order", "--data", "order_id=A-9", "--key", "SO-9")
    assert started.returncode == 0, started.stderr
    customer = json.loads(started.stdout)["id"]
    confirmed = run("--json", "message", "order confirmation", "--key", "A-9")
    assert confirmed.returncode == 0, confirmed.stderr
    [view] = json.loads(confirmed.stdout)
    assert (view["id"], view["status"]) == (customer, "running")
    listed = json.loads(run("--json", "instances", "--key", "SO-9").stdout)
    assert sorted(i["process"] for i in listed) == ["customer_order", "supplier_order"]


# --- inside a batch ---------------------------------------------------------------------------------------


def test_messages_inside_a_batch_land_with_it(app: Handoff, db_url: str) -> None:
    app.deploy([ORDERS], actor="dee")
    with app.batch() as batch:
        customer = batch.start("customer_order", data={"order_id": "B-1"}, actor="ann")
    assert app.show(customer.id).status == "waiting"
    confirm = app.show(only(app, "supplier_order").id)
    assert [t.name for t in confirm.tasks] == ["Confirm order"]
    assert subscriptions(db_url) == [
        (customer.id, "message", "order confirmation", "B-1", "receive_confirmation")
    ]
    with app.batch() as batch:
        batch.complete(confirm.tasks[0].id, actor="sam")
    assert app.show(customer.id).tasks[0].name == "Pay invoice"

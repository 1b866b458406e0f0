"""Event subprocesses started by a message or a signal (issue 14 item 11; docs/messages.md).

The same travel booking in both dialects (`tests/data/event_subprocess_message_camunda.bpmn`, as
Camunda Modeler writes it, and `..._spiff.bpmn`, as SpiffArena does): while Travel books the trip, the
message 'cancel' starts an interrupting event subprocess (refund, the booking stops) and the signal
'fare change' a non-interrupting one (re-check the price, the booking goes on). And one inside an
embedded subprocess, in plain BPMN (`..._nested.bpmn`). Through the CLI a user types, on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA, table_rows

DIALECTS = ["camunda", "spiff"]
# Where each dialect puts a message's data (docs/messages.md): Camunda in `<element>_Response`,
# SpiffArena in the event's messageVariable.
PAYLOAD_VARIABLE = {"camunda": "cancel_received_Response", "spiff": "cancellation_request"}
CANCEL = {"kind": "message", "name": "cancel", "key": None, "element": "cancel_received"}
FARE = {"kind": "signal", "name": "fare change", "key": None, "element": "fare_changed"}


def cli(db_url: str, *args: str, user: str = "ann") -> Any:
    return CliRunner().invoke(main, ["--db", db_url, "--user", user, *args])


def ok(db_url: str, *args: str) -> Any:
    result = cli(db_url, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def start(db_url: str, dialect: str) -> str:
    """A fresh database with the booking deployed; the process id."""
    assert cli(db_url, "init").exit_code == 0
    deployed = cli(db_url, "deploy", str(DATA / f"event_subprocess_message_{dialect}.bpmn"))
    assert deployed.exit_code == 0, deployed.output
    return f"travel_booking_{dialect}"


def open_tasks(db_url: str, instance: int) -> list[str]:
    return sorted(t["name"] for t in ok(db_url, "show", str(instance))["tasks"])


def subscriptions(db_url: str) -> list[tuple[int, str, str]]:
    """(instance, kind, name) of every row of the subscription index."""
    return sorted((r[1], r[2], r[3]) for r in table_rows(db_url)["subscription"])


@pytest.mark.parametrize("dialect", DIALECTS)
def test_message_starts_the_interrupting_event_subprocess(db_url: str, dialect: str) -> None:
    process = start(db_url, dialect)
    first = ok(db_url, "start", process, "--key", "K1")["id"]
    other = ok(db_url, "start", process, "--key", "K2")["id"]

    # `show` lists what the booking waits for: the two event subprocesses' start events.
    shown = ok(db_url, "show", str(first))
    assert sorted(shown["waits_for"], key=lambda w: w["name"]) == [CANCEL, FARE]
    assert "waits for message 'cancel' at cancel_received" in cli(db_url, "show", str(first)).output
    assert subscriptions(db_url) == [
        (first, "message", "cancel"),
        (first, "signal", "fare change"),
        (other, "message", "cancel"),
        (other, "signal", "fare change"),
    ]

    result = cli(db_url, "message", "cancel", "--key", "K1", "--data", "reason=ill")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("message 'cancel' reached 1 instance")

    # The booking stopped, Travel refunds; nothing more is awaited; the other booking is untouched.
    assert open_tasks(db_url, first) == ["Refund customer"]
    after = ok(db_url, "show", str(first))
    assert after["waits_for"] == []
    kinds = [(e["kind"], e.get("element")) for e in ok(db_url, "history", str(first))["timeline"]]
    assert ("message_received", "cancel_received") in kinds
    assert ("task_cancelled", "book") in kinds
    assert open_tasks(db_url, other) == ["Book trip"]
    assert subscriptions(db_url) == [(other, "message", "cancel"), (other, "signal", "fare change")]

    # A second cancel finds nothing waiting: exit 4, one line.
    again = cli(db_url, "message", "cancel", "--key", "K1")
    assert again.exit_code == 4
    assert again.output.strip().splitlines() == [
        "error: no instance waits for message 'cancel' with key 'K1' and no deployed process starts with it "
        "(see 'handoff instances --status waiting')"
    ]

    [refund] = ok(db_url, "show", str(first))["tasks"]
    done = ok(db_url, "complete", str(refund["id"]))
    assert done["status"] == "completed"
    assert done["data"][PAYLOAD_VARIABLE[dialect]] == {"reason": "ill"}
    # The booking ended where the diagram ends it (the event subprocess's end), not as an incident.
    assert ok(db_url, "history", str(first))["timeline"][-1]["kind"] == "instance_completed"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_signal_starts_the_non_interrupting_event_subprocess(db_url: str, dialect: str) -> None:
    process = start(db_url, dialect)
    booking = ok(db_url, "start", process, "--key", "K1")["id"]

    # Each signal starts one more price check; the booking goes on and still waits for both events.
    for checks in (1, 2):
        result = cli(db_url, "signal", "fare change")
        assert result.exit_code == 0, result.output
        assert open_tasks(db_url, booking) == ["Book trip"] + ["Re-check price"] * checks
        assert sorted(ok(db_url, "show", str(booking))["waits_for"], key=lambda w: w["name"]) == [
            CANCEL,
            FARE,
        ]

    # Once the trip is booked the process's own flow is over: no event subprocess starts any more.
    [book] = [t for t in ok(db_url, "show", str(booking))["tasks"] if t["name"] == "Book trip"]
    ok(db_url, "complete", str(book["id"]), "--data", "reference=AB12")
    assert ok(db_url, "show", str(booking))["waits_for"] == []
    assert subscriptions(db_url) == []
    assert cli(db_url, "message", "cancel", "--key", "K1").exit_code == 4

    for task in ok(db_url, "show", str(booking))["tasks"]:
        last = ok(db_url, "complete", str(task["id"]))
    assert last["status"] == "completed"


def test_message_starts_the_event_subprocess_of_an_embedded_subprocess(db_url: str) -> None:
    """The event subprocess interrupts its own scope only: the embedded subprocess ends after it, and the
    process goes on as after any end of that subprocess."""
    assert cli(db_url, "init").exit_code == 0
    assert cli(db_url, "deploy", str(DATA / "event_subprocess_message_nested.bpmn")).exit_code == 0
    stopped = ok(db_url, "start", "shipment", "--key", "S1")["id"]
    shipped = ok(db_url, "start", "shipment", "--key", "S2")["id"]
    stop = {"kind": "message", "name": "stop shipment", "key": None, "element": "stop_received"}
    assert ok(db_url, "show", str(stopped))["waits_for"] == [stop]

    assert cli(db_url, "message", "stop shipment", "--key", "S1").exit_code == 0
    [unpack] = ok(db_url, "show", str(stopped))["tasks"]
    assert (unpack["name"], unpack["lane"]) == ("Unpack goods", "Warehouse")
    assert ok(db_url, "show", str(stopped))["waits_for"] == []
    after = ok(db_url, "complete", str(unpack["id"]))
    assert [(t["name"], t["lane"]) for t in after["tasks"]] == [("Notify customer", "Sales")]

    # Packed as usual: once the subprocess is over, its event subprocess waits no more.
    [pack] = ok(db_url, "show", str(shipped))["tasks"]
    assert ok(db_url, "complete", str(pack["id"]))["tasks"][0]["name"] == "Notify customer"
    assert ok(db_url, "show", str(shipped))["waits_for"] == []
    assert cli(db_url, "message", "stop shipment", "--key", "S2").exit_code == 4
    for instance in (stopped, shipped):
        [notify] = ok(db_url, "show", str(instance))["tasks"]
        assert ok(db_url, "complete", str(notify["id"]))["status"] == "completed"

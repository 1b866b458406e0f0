"""The engine's services on real databases (SQLite file and PostgreSQL), with the real example."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import DATA, EXAMPLE, table_rows
from engine import Conflict, Handoff, InvalidInput, NotFound, ScriptFailed, SetupRequired


def drive_example(app: Handoff, clock, *, refuse_once: bool) -> int:
    view = app.start("order_to_cash", business_key="SO-1", actor="web")
    (register,) = view.tasks
    assert (register.name, register.lane, register.state) == ("Register order", "Customer Service", "ready")
    clock.advance(minutes=10)
    view = app.complete(register.id, data={"customer": "ACME", "amount": "20000"}, actor="ann")
    assert view.data["risk"] == "high" and view.data["priority"] == "standard"
    (approve,) = view.tasks
    assert (approve.name, approve.lane) == ("Approve credit", "Finance")
    if refuse_once:
        view = app.complete(approve.id, data={"approved": "false"}, actor="fay")
        (revise,) = view.tasks
        assert (revise.name, revise.lane) == ("Revise order", "Sales")
        view = app.complete(revise.id, data={"amount": 800}, actor="sam")
        assert view.data["risk"] == "low"
        (approve,) = view.tasks
        assert approve.name == "Approve credit"
    app.claim(approve.id, actor="fay")
    view = app.complete(approve.id, data={"approved": True}, actor="fay")
    assert sorted((t.name, t.lane) for t in view.tasks) == [
        ("Issue invoice", "Finance"),
        ("Pick and pack", "Warehouse"),
    ]
    for task in view.tasks:
        view = app.complete(task.id, data={}, actor="wes" if task.lane == "Warehouse" else "fay")
    (ship,) = view.tasks
    view = app.complete(ship.id, data={"carrier": "ups", "tracking": "1Z"}, actor="wes")
    assert view.status == "completed" and view.tasks == ()
    assert view.data["closed"] is True and view.data["carrier"] == "ups"
    return view.id


def test_example_runs_through_every_lane_with_history(app: Handoff, clock) -> None:
    app.deploy([EXAMPLE], actor="designer")
    instance = drive_example(app, clock, refuse_once=True)
    shown = app.show(instance)
    kinds = [(e.kind, e.name) for e in shown.timeline if e.kind != "task_claimed"]
    assert kinds[0] == ("instance_started", None)
    assert kinds[-1] == ("instance_completed", None)
    completed = [name for kind, name in kinds if kind == "task_completed"]
    assert completed == [
        "Register order",
        "Assess risk",
        "Approve credit",
        "Revise order",
        "Assess risk",
        "Approve credit",
        "Issue invoice",
        "Pick and pack",
        "Ship order",
        "Close order",
    ] or completed == [
        "Register order",
        "Assess risk",
        "Approve credit",
        "Revise order",
        "Assess risk",
        "Approve credit",
        "Pick and pack",
        "Issue invoice",
        "Ship order",
        "Close order",
    ]
    actors = {e.name: e.actor for e in shown.timeline if e.kind == "task_completed"}
    assert actors["Revise order"] == "sam" and actors["Ship order"] == "wes" and actors["Assess risk"] is None
    lanes = {e.name: e.lane for e in shown.timeline if e.name}
    assert lanes["Revise order"] == "Sales" and lanes["Close order"] == "Customer Service"
    assert [(i.id, i.status) for i in app.instances()] == [(instance, "completed")]


def test_task_times_and_sla_due_dates_follow_the_clock(app: Handoff, clock) -> None:
    app.deploy([EXAMPLE], actor="designer")
    start = clock()
    view = app.start("order_to_cash", actor="web")
    task = view.tasks[0]
    assert task.created_at == start
    assert (task.due_at - task.created_at).total_seconds() == 4 * 3600  # sla PT4H
    clock.advance(minutes=30)
    app.claim(task.id, actor="ann")
    clock.advance(minutes=5)
    app.complete(task.id, data={"customer": "B"}, actor="ann")
    (done,) = [t for t in app.tasks(include_closed=True) if t.id == task.id]
    assert (done.claimed_at - start).total_seconds() == 1800
    assert (done.completed_at - start).total_seconds() == 2100
    assert done.completed_by == "ann" and done.state == "completed"


def test_same_file_twice_is_one_version_and_instances_stay_on_theirs(
    app: Handoff, clock, tmp_path: Path
) -> None:
    path = tmp_path / "order-to-cash.bpmn"
    shutil.copy(EXAMPLE, path)
    (first,) = app.deploy([path], actor="d")
    (again,) = app.deploy([path], actor="d")
    assert (first.version, first.new) == (1, True) and (again.version, again.new) == (1, False)
    old = app.start("order_to_cash", actor="web")
    # Version 2 renames a task: the running instance must keep version 1's name.
    path.write_text(path.read_text().replace('name="Register order"', 'name="Register sales order"'))
    (second,) = app.deploy([path], actor="d")
    assert (second.version, second.new) == (2, True)
    new = app.start("order_to_cash", actor="web")
    assert new.version == 2 and new.tasks[0].name == "Register sales order"
    assert old.version == 1 and old.tasks[0].name == "Register order"
    view = app.complete(old.tasks[0].id, data={"customer": "X"}, actor="ann")
    assert view.version == 1 and view.tasks[0].name == "Approve credit"
    pinned = app.start("order_to_cash", version=1, actor="web")
    assert pinned.version == 1
    assert [(p.process, p.version) for p in app.processes()] == [("order_to_cash", 2)]


def test_claim_rules(app: Handoff) -> None:
    app.deploy([EXAMPLE], actor="d")
    task = app.start("order_to_cash", actor="web").tasks[0]
    assert app.claim(task.id, actor="ann").assignee == "ann"
    assert app.claim(task.id, actor="ann").assignee == "ann"  # claiming your own task again is harmless
    with pytest.raises(Conflict, match="claimed by ann"):
        app.claim(task.id, actor="bob")
    with pytest.raises(Conflict, match="claimed by ann"):
        app.complete(task.id, data={"customer": "X"}, actor="bob")
    assert app.unclaim(task.id, actor="ann").state == "ready"
    with pytest.raises(Conflict, match="not claimed"):
        app.unclaim(task.id, actor="ann")
    app.complete(task.id, data={"customer": "X"}, actor="bob")
    with pytest.raises(Conflict, match="already completed by bob"):
        app.claim(task.id, actor="ann")
    with pytest.raises(NotFound):
        app.claim(424242, actor="ann")


def test_form_data_is_checked_and_converted(app: Handoff) -> None:
    app.deploy([EXAMPLE], actor="d")
    task = app.start("order_to_cash", actor="web").tasks[0]
    with pytest.raises(InvalidInput, match="needs 'customer'"):
        app.complete(task.id, data={}, actor="ann")
    with pytest.raises(InvalidInput, match="'amount' .* whole number"):
        app.complete(task.id, data={"customer": "A", "amount": "lots"}, actor="ann")
    with pytest.raises(InvalidInput, match="one of standard, express"):
        app.complete(task.id, data={"customer": "A", "priority": "urgent"}, actor="ann")
    with pytest.raises(InvalidInput, match="no field 'colour'"):
        app.complete(task.id, data={"customer": "A", "colour": "red"}, actor="ann")
    view = app.complete(task.id, data={"customer": "A", "amount": "12", "priority": "express"}, actor="ann")
    assert view.data["amount"] == 12 and view.data["priority"] == "express"


def test_spiff_dialect_process_runs_with_its_json_schema_form(app: Handoff) -> None:
    (deployment,) = app.deploy([DATA / "spiff_purchase.bpmn", DATA / "purchase-form.json"], actor="d")
    assert deployment.lanes == ("Requester", "Management")
    view = app.start("purchase_request", actor="rita")
    (request,) = view.tasks
    assert [f["id"] for f in request.form] == ["item", "quantity", "urgency", "needed_by"]
    with pytest.raises(InvalidInput, match="must be a date"):
        app.complete(request.id, data={"item": "chair", "needed_by": "soon"}, actor="rita")
    view = app.complete(request.id, data={"item": "chair", "quantity": "3"}, actor="rita")
    (approve,) = view.tasks
    assert (approve.type, approve.lane) == ("manualTask", "Management")
    view = app.complete(approve.id, actor="max")
    assert view.status == "completed" and view.data["total"] == 36


def test_failing_script_makes_an_incident_and_retry_recovers(app: Handoff) -> None:
    app.deploy([DATA / "spiff_purchase.bpmn", DATA / "purchase-form.json"], actor="d")
    view = app.start("purchase_request", actor="rita")
    view = app.complete(view.tasks[0].id, data={"item": "desk"}, actor="rita")
    # The manual task carries no form, so any data goes through: a null quantity breaks the script.
    with pytest.raises(ScriptFailed, match=r"Record purchase \(record\) line 1 failed") as failure:
        app.complete(view.tasks[0].id, data={"quantity": None}, actor="max")
    instance = failure.value.instance_id
    shown = app.show(instance)
    assert shown.status == "error"
    assert shown.error["task"] == "record" and shown.error["line"] == 1
    assert "TypeError" in shown.error["type"] or "TypeError" in shown.error["message"]
    assert [i.id for i in app.instances(status="error")] == [instance]
    before = table_rows(app.db.url.render_as_string(hide_password=False))
    with pytest.raises(ScriptFailed, match="nothing changed"):
        app.retry(instance, actor="admin")
    assert table_rows(app.db.url.render_as_string(hide_password=False)) == before
    view = app.retry(instance, data={"quantity": 2}, actor="admin")
    assert view.status == "completed" and view.data["total"] == 24
    kinds = [e.kind for e in app.show(instance).timeline]
    assert "task_error" in kinds and "instance_retried" in kinds and kinds[-1] == "instance_completed"


def test_runaway_loop_is_an_incident_never_a_completion(app: Handoff) -> None:
    app.deploy([DATA / "loop_forever.bpmn"], actor="d")
    # Would need 100,000 turns: stopped long before SpiffWorkflow's depth limit fakes a completion.
    with pytest.raises(ScriptFailed, match="looped more than"):
        app.start("loop_forever", data={"limit": 100_000}, actor="t")
    (instance,) = app.instances()
    assert instance.status == "error"
    ok = app.start("loop_forever", data={"limit": 50}, actor="t")
    assert ok.status == "completed" and ok.data["n"] == 51


def test_unknown_process_and_outdated_schema(db_url: str, clock) -> None:
    from storage import Database

    app = Handoff(Database(db_url), clock=clock)
    with pytest.raises(SetupRequired, match="handoff init"):
        app.processes()
    app.init()
    with pytest.raises(NotFound, match="'nope' is not deployed"):
        app.start("nope", actor="t")
    app.db.dispose()

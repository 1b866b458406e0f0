"""BPMN constructs from real files, run through the services (and partly the CLI) to their end state and
history: errors, escalations, event subprocesses, embedded subprocesses, call activities bound to deployed
versions, multi-instance, DMN, inclusive gateways, timer boundaries and translated Camunda expressions.
docs/conformance.md ("BPMN elements") points at each test here."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from bpmn.camunda_expressions import Untranslatable, translate_juel, translate_timer
from cli import main
from conftest import DATA, ROOT, table_rows
from engine import DefinitionInvalid, Handoff


def timeline(app: Handoff, instance: int) -> list[tuple[str, str | None, str | None, str | None]]:
    """(kind, element name, lane, actor) of every history event, claims left out."""
    return [
        (e.kind, e.name, e.lane, e.actor) for e in app.show(instance).timeline if e.kind != "task_claimed"
    ]


def completed(app: Handoff, instance: int) -> list[str | None]:
    return [e.name for e in app.show(instance).timeline if e.kind == "task_completed"]


def finish(app: Handoff, view, actor: str = "ann"):
    """Complete every open task, oldest first, until none is left."""
    while view.tasks:
        view = app.complete(view.tasks[0].id, data={}, actor=actor)
    return view


def only(view, name: str):
    (task,) = [t for t in view.tasks if t.name == name]
    return task


# --- errors and escalations -----------------------------------------------------------------------


def test_error_end_event_in_a_subprocess_is_caught_by_its_error_boundary(app: Handoff) -> None:
    app.deploy([DATA / "error_boundary.bpmn"], actor="d")
    shipped = app.start("stock_check")
    view = app.complete(shipped.tasks[0].id, data={"quantity": 5}, actor="sam")
    assert [(t.name, t.lane) for t in view.tasks] == [("Ship order", "Warehouse")]
    assert finish(app, view, "wes").status == "completed"

    short = app.start("stock_check")
    view = app.complete(short.tasks[0].id, data={"quantity": 50}, actor="sam")
    assert [(t.name, t.lane) for t in view.tasks] == [("Offer backorder", "Sales")]
    view = finish(app, view, "sam")
    assert view.status == "completed"
    assert timeline(app, view.id) == [
        ("instance_started", None, None, None),
        ("task_ready", "Enter order", "Sales", None),
        ("task_completed", "Enter order", "Sales", "sam"),
        ("task_completed", "Count stock", "Warehouse", None),
        ("task_completed", "Check stock", "Warehouse", None),
        ("error_caught", "Shortage", "Sales", None),
        ("task_ready", "Offer backorder", "Sales", None),
        ("task_completed", "Offer backorder", "Sales", "sam"),
        ("instance_completed", None, None, None),
    ]
    caught = [e for e in app.show(view.id).timeline if e.kind == "error_caught"]
    assert caught[0].data == {"name": "Shortage", "code": "SHORTAGE"}
    assert "Ship order" not in completed(app, view.id)


def test_escalations_inform_without_stopping_and_hand_over_when_given_up(app: Handoff) -> None:
    app.deploy([DATA / "escalation.bpmn"], actor="d")
    # The intermediate escalation opens Management's task beside Support's (non-interrupting boundary).
    fixed = app.start("ticket")
    assert sorted((t.name, t.lane) for t in fixed.tasks) == [
        ("Fix issue", "Support"),
        ("Read ticket report", "Management"),
    ]
    view = app.complete(only(fixed, "Fix issue").id, data={"fixed": True}, actor="sue")
    assert [t.name for t in view.tasks] == ["Read ticket report"]
    view = finish(app, view, "max")
    assert view.status == "completed" and view.data["closed"] is True
    assert completed(app, view.id) == ["Fix issue", "Handle ticket", "Close ticket", "Read ticket report"]

    # The escalation end event leaves the subprocess by the interrupting boundary: no Close ticket.
    given_up = app.start("ticket")
    view = app.complete(only(given_up, "Fix issue").id, data={"fixed": False}, actor="sue")
    assert sorted(t.name for t in view.tasks) == ["Read ticket report", "Take over ticket"]
    view = finish(app, view, "max")
    assert view.status == "completed" and "closed" not in view.data
    events = timeline(app, view.id)
    assert [(k, n) for k, n, _, _ in events if k.endswith("_caught")] == [
        ("escalation_caught", "Management informed"),
        ("escalation_caught", "Support gave up"),
    ]
    assert ("task_completed", "Take over ticket", "Management", "max") in events
    assert "Close ticket" not in completed(app, view.id)


# --- event subprocesses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "receipt", "opened", "done"),
    [
        (50, "r-1", ["Pay claim"], ["Submit claim", "Check claim", "Pay claim"]),
        (
            2000,
            "r-2",
            ["Pay claim", "Review large claim"],
            ["Submit claim", "Check claim", "Pay claim", "Review large claim", "Controller review"],
        ),
        (
            50,
            "",
            ["Return claim to employee"],
            ["Submit claim", "Check claim", "Return claim to employee", "Return claim"],
        ),
    ],
    ids=["plain", "escalation-started", "error-started"],
)
def test_event_subprocesses_started_by_errors_and_escalations(
    app: Handoff, amount: int, receipt: str, opened: list[str], done: list[str]
) -> None:
    """SpiffWorkflow 3.2 reads no error or escalation start event: without Handoff's parser fix both event
    subprocesses would start with the process (three open tasks at once) and never end."""
    app.deploy([DATA / "event_subprocess_error.bpmn"], actor="d")
    view = app.start("expense_claim")
    assert [t.name for t in view.tasks] == ["Submit claim"]
    view = app.complete(view.tasks[0].id, data={"amount": amount, "receipt": receipt}, actor="eve")
    assert sorted(t.name for t in view.tasks) == opened
    lanes = {t.name: t.lane for t in view.tasks}
    assert lanes.get("Review large claim", "Controller") == "Controller"
    assert lanes.get("Return claim to employee", "Accounting") == "Accounting"
    view = finish(app, view, "max")
    assert view.status == "completed"
    assert completed(app, view.id) == done
    # A later instance of the same version is not changed by what triggered this one.
    again = app.start("expense_claim")
    assert [t.name for t in again.tasks] == ["Submit claim"]


def test_timer_event_subprocesses_remind_then_interrupt(app: Handoff, clock) -> None:
    app.deploy([DATA / "event_subprocess_timer.bpmn"], actor="d")
    answered = app.start("customer_request")
    view = app.complete(answered.tasks[0].id, data={}, actor="sue")
    assert view.status == "completed"  # the waiting timers end with the process

    view = app.start("customer_request")
    clock.advance(minutes=59)
    assert app.fire_timers(view.id) is None  # never early
    clock.advance(minutes=2)
    view = app.fire_timers(view.id)
    assert sorted((t.name, t.lane) for t in view.tasks) == [
        ("Answer request", "Support"),
        ("Nudge support", "Team lead"),
    ]
    view = app.complete(only(view, "Nudge support").id, data={}, actor="lee")
    assert [t.name for t in view.tasks] == ["Answer request"] and view.status == "running"
    clock.advance(days=1)
    view = app.fire_timers(view.id)
    assert view.status == "completed" and view.tasks == () and view.data["expired"] is True
    events = timeline(app, view.id)
    assert [(k, n) for k, n, _, _ in events if k in ("timer_fired", "task_cancelled")] == [
        ("timer_fired", "1 hour"),
        ("timer_fired", "1 day"),
        ("task_cancelled", "Answer request"),
    ]
    (answer,) = [t for t in app.tasks(include_closed=True, instance_id=view.id) if t.name == "Answer request"]
    assert answer.state == "cancelled"


def test_embedded_subprocess_tasks_take_the_lane_of_the_subprocess_shape(app: Handoff) -> None:
    app.deploy([DATA / "subprocess_lanes.bpmn"], actor="d")
    view = app.start("intake")
    view = app.complete(view.tasks[0].id, data={}, actor="fred")
    assert [(t.name, t.lane) for t in view.tasks] == [("Investigate", "Back office")]
    view = app.complete(view.tasks[0].id, data={}, actor="bea")
    view = app.complete(view.tasks[0].id, data={}, actor="bea")
    assert [(t.name, t.lane) for t in view.tasks] == [("Answer customer", "Front office")]
    view = finish(app, view, "fred")
    assert view.status == "completed"
    lanes = [(n, lane) for k, n, lane, _ in timeline(app, view.id) if k == "task_completed"]
    assert lanes == [
        ("Receive case", "Front office"),
        ("Investigate", "Back office"),
        ("Decide", "Back office"),
        ("Assess case", "Back office"),
        ("Answer customer", "Front office"),
    ]
    crossings = [(c.from_lane, c.to_lane) for c in app.crossings(instance_id=view.id)]
    assert crossings == [("Front office", "Back office"), ("Back office", "Front office")]


# --- call activities --------------------------------------------------------------------------------


def test_call_activity_runs_the_latest_deployed_version_unless_pinned(app: Handoff, tmp_path: Path) -> None:
    fulfil = tmp_path / "fulfil.bpmn"
    shutil.copy(DATA / "call_fulfil.bpmn", fulfil)
    app.deploy([fulfil], actor="d")
    app.deploy([DATA / "call_latest.bpmn", DATA / "call_pinned.bpmn"], actor="d")

    early = app.start("customer_return")
    early = app.complete(early.tasks[0].id, data={}, actor="ann")
    assert [(t.name, t.lane) for t in early.tasks] == [("Pick goods", "Warehouse")]

    fulfil.write_text(fulfil.read_text().replace('name="Pick goods"', 'name="Pick and pack goods"'))
    (v2,) = app.deploy([fulfil], actor="d")
    assert (v2.process, v2.version) == ("fulfilment", 2)

    late = app.start("customer_return")
    late = app.complete(late.tasks[0].id, data={}, actor="ann")
    assert [t.name for t in late.tasks] == ["Pick and pack goods"]  # latest at start
    pinned = app.start("warranty_claim")
    pinned = app.complete(pinned.tasks[0].id, data={"serial": "SN-1"}, actor="ann")
    assert [t.name for t in pinned.tasks] == ["Pick goods"]  # calledElementVersion="1"

    # The early instance keeps version 1 of the called process, also after a reload.
    assert [t.name for t in app.show(early.id).tasks] == ["Pick goods"]
    for view in (early, late, pinned):
        done = finish(app, view, "wes")
        assert done.status == "completed"
        assert timeline(app, done.id)[-2][:3] in {
            ("task_completed", "Send replacement", "Customer Service"),
            ("task_completed", "Ship replacement", "Customer Service"),
        }
    crossings = [(c.from_lane, c.to_lane) for c in app.crossings(instance_id=late.id)]
    assert crossings == [("Customer Service", "Warehouse"), ("Warehouse", "Customer Service")]


def test_call_to_a_process_never_deployed_is_refused_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db_url, "init"]).exit_code == 0
    before = table_rows(db_url)
    result = runner.invoke(main, ["--db", db_url, "deploy", str(DATA / "call_latest.bpmn")])
    assert result.exit_code == 3
    assert result.stderr.strip() == (
        f"error: {DATA / 'call_latest.bpmn'}:14: callActivity 'resend' calls process 'fulfilment', which is "
        "not deployed: deploy it first, or deploy both files together"
    )
    assert table_rows(db_url) == before
    checked = runner.invoke(main, ["--db", db_url, "validate", str(DATA / "call_latest.bpmn")])
    assert checked.exit_code == 0
    assert "calls process 'fulfilment', which is not in these files" in checked.output
    ok = runner.invoke(
        main,
        ["--db", db_url, "--json", "deploy", str(DATA / "call_fulfil.bpmn"), str(DATA / "call_latest.bpmn")],
    )
    assert ok.exit_code == 0, ok.output
    assert sorted(d["process"] for d in json.loads(ok.stdout)) == ["customer_return", "fulfilment"]


def test_pin_to_a_version_not_deployed_fails_at_start(app: Handoff, tmp_path: Path) -> None:
    pinned = tmp_path / "pinned.bpmn"
    pinned.write_text(
        (DATA / "call_pinned.bpmn")
        .read_text()
        .replace('calledElementVersion="1"', 'calledElementVersion="3"')
    )
    with pytest.raises(
        DefinitionInvalid,
        match=r"pinned.bpmn:20: callActivity 'replace' calls version 3 of process 'fulfilment', which is not deployed",
    ):
        app.deploy([pinned], actor="d")
    pinned.write_text(pinned.read_text().replace('calledElementVersion="3"', 'calledElementVersion="two"'))
    report = app.validate([pinned])
    assert [str(p) for p in report.errors] == [
        f"{pinned}:20: callActivity 'replace': a pinned call needs a version number (1, 2, ...), got 'two'"
    ]


# --- multi-instance, DMN, gateways, timers -----------------------------------------------------------


def test_multi_instance_parallel_user_tasks_and_sequential_scripts(app: Handoff) -> None:
    app.deploy([DATA / "multi_instance.bpmn"], actor="d")
    view = app.start("quotes", data={"suppliers": ["acme", "globex", "initech"]})
    assert [(t.name, t.lane) for t in view.tasks] == [("Submit quote", "Suppliers")] * 3
    for task, price in zip(view.tasks, (30, 20, 40), strict=True):
        view = app.complete(task.id, data={"price": price}, actor="sue")
    assert view.status == "completed"
    assert view.data["quotes"] == [30, 20, 40]
    assert view.data["scores"] == [70, 80, 60]  # one script run per quote, in order
    assert view.data["reminders"] == ["reminder"] * 3  # loop cardinality 3
    names = completed(app, view.id)
    assert names.count("Score quote") >= 3 and names.count("Send reminder") >= 3
    assert [a for k, n, _, a in timeline(app, view.id) if k == "task_completed" and n == "Submit quote"][
        :3
    ] == ["sue"] * 3


def test_business_rule_task_decides_with_a_dmn_table_deployed_with_it(app: Handoff) -> None:
    with pytest.raises(DefinitionInvalid, match="discount.dmn: a DMN file is deployed together with"):
        app.deploy([DATA / "discount.dmn"], actor="d")
    with pytest.raises(
        DefinitionInvalid,
        match="dmn_pricing.bpmn:27: businessRuleTask 'Determine discount' names decision 'discount', which none",
    ):
        app.deploy([DATA / "dmn_pricing.bpmn"], actor="d")
    app.deploy([DATA / "dmn_pricing.bpmn", DATA / "discount.dmn"], actor="d")
    for customer, amount, discount in (("gold", 5000, 15), ("gold", 10, 10), ("standard", 5000, 0)):
        view = app.start("pricing")
        view = app.complete(view.tasks[0].id, data={"customer_type": customer, "amount": amount}, actor="sam")
        assert view.data["discount"] == discount
        assert [(t.name, t.lane) for t in view.tasks] == [("Confirm price", "Sales")]
    assert ("task_completed", "Determine discount", "Finance", None) in timeline(app, view.id)


@pytest.mark.parametrize(
    ("custom_terms", "value", "reviews"),
    [(True, 5, ["Legal review"]), (True, 500_000, ["Finance review", "Legal review"]), (False, 5, [])],
    ids=["one-branch", "two-branches", "default"],
)
def test_inclusive_gateway_joins_exactly_the_branches_it_opened(
    app: Handoff, custom_terms: bool, value: int, reviews: list[str]
) -> None:
    app.deploy([DATA / "inclusive_gateway.bpmn"], actor="d")
    view = app.start("contract_review")
    view = app.complete(view.tasks[0].id, data={"custom_terms": custom_terms, "value": value}, actor="sam")
    assert sorted(t.name for t in view.tasks) == (reviews or ["Sign contract"])
    for task in list(view.tasks) if reviews else []:
        assert [t.name for t in view.tasks] != ["Sign contract"]  # the join waits for every opened branch
        view = app.complete(task.id, data={}, actor="lea")
    assert [t.name for t in view.tasks] == ["Sign contract"]
    view = finish(app, view, "sam")
    assert view.status == "completed"
    assert completed(app, view.id) == [
        "Draft contract",
        *sorted(reviews, reverse=True),
        "Sign contract",
    ] or sorted(completed(app, view.id)) == sorted(["Draft contract", *reviews, "Sign contract"])


def test_timer_boundaries_on_a_user_task_remind_then_interrupt(app: Handoff, clock) -> None:
    app.deploy([DATA / "timer_boundary.bpmn"], actor="d")
    view = app.start("purchase_approval")
    assert view.next_due_at == clock() + timedelta(hours=2)
    clock.advance(hours=1)
    assert app.fire_timers(view.id) is None
    clock.advance(hours=1)
    view = app.fire_timers(view.id)
    assert sorted(t.name for t in view.tasks) == ["Approve purchase", "Remind approver"]
    clock.advance(hours=22)
    view = app.fire_timers(view.id)
    assert sorted((t.name, t.lane) for t in view.tasks) == [
        ("Approve as director", "Director"),
        ("Remind approver", "Management"),
    ]
    view = finish(app, view, "dora")
    assert view.status == "completed"
    events = [(k, n) for k, n, _, _ in timeline(app, view.id) if k in ("timer_fired", "task_cancelled")]
    assert events == [
        ("timer_fired", "2 hours"),
        ("timer_fired", "1 day"),
        ("task_cancelled", "Approve purchase"),
    ]


# --- Camunda expressions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("juel", "python"),
    [
        ("${amount > 100}", "amount > 100"),
        ("${amount <= 100 && !rush}", "amount <= 100 and not rush"),
        ("${a eq 'x' || b ne 3}", "a == 'x' or b != 3"),
        ("${x gt 1 and y lt 2 or z ge 3 and w le 4}", "x > 1 and y < 2 or z >= 3 and w <= 4"),
        ("${approved == true}", "approved == True"),
        ("${reason != null}", "reason != None"),
        ("${empty items}", "(items in (None, '', [], {}))"),
        ("${not empty items}", "not (items in (None, '', [], {}))"),
        ('${name == "O\\"Brien"}', "name == 'O\"Brien'"),
        ("#{total mod 2 == 0}", "total % 2 == 0"),
        ("${(a || b) && c}", "(a or b) and c"),
        ("${vip ? 1 : 2}", "(1) if (vip) else (2)"),
        ("${amount > 1000 ? 'cfo' : 'fin'}", "('cfo') if (amount > 1000) else ('fin')"),
        ("${a ? b ? 1 : 2 : 3}", "((1) if (b) else (2)) if (a) else (3)"),
    ],
)
def test_plain_juel_is_translated(juel: str, python: str) -> None:
    assert translate_juel(juel) == python


@pytest.mark.parametrize(
    ("juel", "why"),
    [
        ("${order.amount > 100}", "property access is not translated"),
        ('${execution.getVariable("x")}', "property access is not translated"),
        ("${items[0] == 1}", "indexing is not translated"),
        ("${vip ? 1}", "a conditional operator \\? has no matching :"),
        ("${x instanceof y}", "the instanceof operator is not translated"),
        ("${empty 0}", "empty is translated only before a variable name"),
        ("amount: ${amount}", "only one ${...} expression"),
        ("${a >}", "not a well-formed expression"),
    ],
)
def test_other_juel_is_refused_with_the_reason(juel: str, why: str) -> None:
    with pytest.raises(Untranslatable, match=why.replace("$", r"\$").replace("{", r"\{").replace(".", r"\.")):
        translate_juel(juel)


@pytest.mark.parametrize(
    ("timer", "python"),
    [
        ("PT5M", '"PT5M"'),
        (" P1DT2H ", '"P1DT2H"'),
        ("R3/PT10M", '"R3/PT10M"'),
        ("2026-03-02T10:00:00Z", '"2026-03-02T10:00:00Z"'),
        ("${delay}", "delay"),
        ('"PT5M"', None),  # already Python: left as it is
        ("timedelta(hours=1)", None),
    ],
)
def test_bare_iso_timer_literals_are_quoted(timer: str, python: str | None) -> None:
    assert translate_timer(timer) == python


def test_camunda_modeler_file_runs_with_translated_conditions_and_timer(app: Handoff, clock) -> None:
    report = app.validate([DATA / "camunda_expressions.bpmn"])
    # Camunda Modeler writes historyTimeToLive on every process: `handoff cleanup` acts on it, no warning
    assert report.ok and [w.message for w in report.warnings] == []
    app.deploy([DATA / "camunda_expressions.bpmn"], actor="d")
    small = app.start("refund")
    small = app.complete(small.tasks[0].id, data={"amount": 50, "receipt": "R-1"}, actor="ann")
    assert small.status == "completed" and small.data["paid"] == 50
    none = app.start("refund")
    none = app.complete(none.tasks[0].id, data={"amount": 50, "receipt": ""}, actor="ann")
    assert none.status == "completed" and "paid" not in none.data
    large = app.start("refund")
    large = app.complete(large.tasks[0].id, data={"amount": 500, "receipt": "R-2"}, actor="ann")
    assert [(t.name, t.lane) for t in large.tasks] == [("Approve refund", "Finance")]
    assert large.next_due_at == clock() + timedelta(minutes=30)  # PT30M, bare
    clock.advance(minutes=30)
    large = app.fire_timers(large.id)
    assert sorted(t.name for t in large.tasks) == ["Approve refund", "Chase approval"]
    large = finish(app, large, "fay")
    assert large.status == "completed" and large.data["paid"] == 500


def test_untranslatable_camunda_expression_is_refused_by_name(db_url: str, tmp_path: Path) -> None:
    bad = tmp_path / "refund.bpmn"
    bad.write_text(
        (DATA / "camunda_expressions.bpmn")
        .read_text()
        .replace("${amount &gt; 100 and not empty receipt}", "${order.amount &gt; 100}")
    )
    env = dict(os.environ, HANDOFF_DB=db_url, HANDOFF_USER="dan")
    exe = [sys.executable, str(ROOT / "cli.py")]
    assert subprocess.run([*exe, "init"], env=env, capture_output=True, cwd=ROOT).returncode == 0
    before = table_rows(db_url)
    for command in ("validate", "deploy"):
        result = subprocess.run([*exe, command, str(bad)], env=env, capture_output=True, text=True, cwd=ROOT)
        assert result.returncode == 3, result.stderr
        assert (
            f"{bad}:43: element 'Flow_large': Camunda expression '${{order.amount > 100}}' cannot be translated "
            "(property access is not translated)"
        ) in result.stderr
    assert table_rows(db_url) == before

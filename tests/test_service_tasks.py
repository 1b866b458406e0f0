"""Service tasks run Python handlers registered through the `handoff.services` entry points (docs/services.md).

The example package of examples/services is made installed the way pip leaves a package: a `.dist-info`
directory with its `entry_points.txt` on `sys.path` (built in tmp_path: an editable `pip install` per test
would be slower and would leave the package installed on the machine). importlib.metadata finds it like
any installed distribution, so the engine's lookup is the real one. Handlers of one test only are
registered in-process with `Handoff(services=...)`.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bpmn import retry as retry_policies
from bpmn import validate_files
from conftest import DATA, ROOT, table_rows
from engine import Handoff, ScriptFailed
from engine.handlers import ServiceCall
from storage import Database

EXAMPLE_PACKAGE = ROOT / "examples" / "services"


def install_example(site: Path) -> Path:
    """The example package as pip installs it: the module and a dist-info with its entry points."""
    site.mkdir(exist_ok=True)
    module = "handoff_example_services.py"
    (site / module).write_text((EXAMPLE_PACKAGE / module).read_text())
    dist = site / "handoff_example_services-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: handoff-example-services\nVersion: 0.1.0\n")
    # The entry points as the package's pyproject.toml declares them.
    declared = (
        (EXAMPLE_PACKAGE / "pyproject.toml").read_text().split('[project.entry-points."handoff.services"]')
    )
    lines = [line for line in declared[1].split("[", 1)[0].splitlines() if "=" in line]
    (dist / "entry_points.txt").write_text(
        "[handoff.services]\n" + "\n".join(line.replace('"', "") for line in lines) + "\n"
    )
    return site


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = install_example(tmp_path / "site")
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    monkeypatch.chdir(tmp_path)  # the invoice outbox is written here
    return tmp_path


def test_each_dialect_names_its_handler() -> None:
    """Camunda's external topic, bean and class; SpiffArena's operator; BPMN's operation and implementation."""
    report = validate_files([DATA / "service_camunda.bpmn"])
    assert report.ok, report.problems
    elements = report.processes[0].model.elements
    score, send = elements["score_credit"].service, elements["send_invoice"].service
    assert score is not None and send is not None
    assert (score.handler, score.source, score.strict) == ("score_credit", "topic", False)
    assert score.params == (("amount", "${amount}"), ("limit", "5000"))
    assert (send.handler, send.source, send.params) == (
        "send_invoice",
        "delegateExpression",
        (("outbox", "outbox.jsonl"),),
    )
    assert elements["review_credit"].service is None

    spiff = validate_files([DATA / "service_spiff.bpmn"]).processes[0].model.elements["score"].service
    assert spiff is not None and (spiff.handler, spiff.source, spiff.strict) == (
        "score_credit",
        "operator",
        True,
    )

    plain = validate_files([DATA / "service_plain.bpmn"]).processes[0].model.elements
    assert plain["score"].service is not None and plain["score"].service.handler == "score_credit"
    assert plain["invoice"].service is not None and plain["invoice"].service.source == "implementation"
    assert plain["archive"].service is None

    charge = validate_files([DATA / "flaky_payment.bpmn"]).processes[0].model.elements["charge"].service
    assert charge is not None and (charge.handler, charge.source) == ("charge_card", "class")


def test_retry_policies_from_properties_camunda_cycle_and_defaults() -> None:
    camunda = validate_files([DATA / "service_camunda.bpmn"]).processes[0].model
    payment = validate_files([DATA / "flaky_payment.bpmn"]).processes[0].model
    cycle = retry_policies.policy(camunda.elements["send_invoice"], camunda.properties)
    assert (cycle.retries, cycle.backoff.total_seconds(), cycle.factor) == (2, 300, 1.0)  # R2/PT5M
    default = retry_policies.policy(payment.elements["notify"], payment.properties)
    assert (default.retries, [default.wait(n).total_seconds() for n in range(3)]) == (3, [60, 120, 240])
    own = retry_policies.policy(payment.elements["charge"], payment.properties)
    assert (own.retries, own.source, own.wait(1).total_seconds()) == (2, "element", 120)
    script = validate_files([DATA / "bad_script.bpmn"]).processes[0].model
    assert retry_policies.policy(script.elements["compute"], script.properties).retries == 0


def test_installed_example_package_runs_camunda_and_spiff_service_tasks(
    db_url: str, clock, installed: Path
) -> None:
    app = Handoff(Database(db_url), clock=clock)
    app.init()
    deployed = app.deploy([DATA / "service_camunda.bpmn"], actor="dan") + app.deploy(
        [DATA / "service_spiff.bpmn"], actor="dan"
    )
    assert [d.warnings for d in deployed] == [(), ()]  # every handler is installed

    view = app.start(
        "invoice_order", data={"customer": "ACME", "amount": 1200}, business_key="SO-1", actor="web"
    )
    assert view.status == "completed" and view.tasks == ()
    assert view.data["credit_ok"] is True and view.data["invoice_number"].startswith("INV-")
    (sent,) = [json.loads(line) for line in (installed / "outbox.jsonl").read_text().splitlines()]
    assert sent["invoice_number"] == view.data["invoice_number"] and sent["customer"] == "ACME"
    timeline = app.show(view.id).timeline
    completed = [(e.element, e.data) for e in timeline if e.kind == "task_completed"]
    assert [element for element, _ in completed] == ["score_credit", "send_invoice"]  # once each
    assert completed[1][1] == {"changed": {"invoice_number": view.data["invoice_number"]}}

    # The limit parameter (5000) is the task's, the amount comes from the data through ${amount}.
    refused = app.start("invoice_order", data={"customer": "ACME", "amount": 7000}, actor="web")
    assert refused.data["credit_ok"] is False and [t.name for t in refused.tasks] == ["Review credit"]

    # SpiffArena: SpiffWorkflow evaluates the parameters (amount * 2) and keeps the result variable too.
    spiff = app.start("credit_check", data={"customer": "ACME", "amount": 6000}, actor="web")
    assert spiff.status == "completed"
    assert spiff.data["credit_ok"] is False  # 12,000 > 10,000
    assert spiff.data["bureau"] == {"credit_score": spiff.data["credit_score"], "credit_ok": False}
    app.db.dispose()


def test_missing_handlers_wait_as_open_work_or_fail_by_dialect(db_url: str, clock, installed: Path) -> None:
    seen: list[ServiceCall] = []

    def score(call: ServiceCall) -> dict[str, Any]:
        seen.append(call)
        return {"credit_score": 700}

    app = Handoff(Database(db_url), clock=clock, services={"score_credit": score}, load_entry_points=False)
    app.init()
    (plain,) = app.deploy([DATA / "service_plain.bpmn"], actor="dan")
    assert len(plain.warnings) == 1 and "no handler 'send_invoice' is installed here" in plain.warnings[0]
    assert plain.warnings[0].startswith(
        f"{DATA / 'service_plain.bpmn'}:17: warning: service task Send invoice (invoice)"
    )
    assert "wait as open work" in plain.warnings[0]

    view = app.start("plain_services", data={"customer": "ACME"}, business_key="K-9", actor="web")
    (call,) = seen
    assert (call.handler, call.element, call.process, call.business_key, call.attempt) == (
        "score_credit", "score", "plain_services", "K-9", 1,
    )  # fmt: skip
    # `implementation="send_invoice"` names a handler nobody installed: open work for an outside worker.
    (invoice,) = view.tasks
    assert (invoice.element, invoice.type, view.data["credit_score"]) == ("invoice", "serviceTask", 700)
    view = app.complete(invoice.id, data={"invoice_number": "by hand"}, actor="fay")
    (archive,) = view.tasks  # a service task that names no handler at all: open work as well
    view = app.complete(archive.id, actor="fay")
    assert view.status == "completed" and view.data["invoice_number"] == "by hand"

    # A SpiffArena operator can only mean a handler: missing, it fails as an incident that names it.
    app.services = type(app.services)({}, load_entry_points=False)
    (spiff,) = app.deploy([DATA / "service_spiff.bpmn"], actor="dan")
    assert "it will fail as an incident until one is" in spiff.warnings[0]
    with pytest.raises(
        ScriptFailed, match=r"no handler 'score_credit' is installed for service task Score credit \(score\)"
    ):
        app.start("credit_check", data={"amount": 1}, actor="web")
    (failed,) = app.instances(status="error")
    assert failed.error is not None and failed.error["task"] == "score" and failed.next_due_at is not None
    app.db.dispose()


def test_a_handler_that_returns_no_dict_fails_the_task(sqlite_url: str, clock) -> None:
    app = Handoff(
        Database(sqlite_url), clock=clock, services={"score_credit": lambda call: ["not", "a", "dict"]}
    )
    app.init()
    app.deploy([DATA / "service_spiff.bpmn"], actor="dan")
    with pytest.raises(
        ScriptFailed, match=r"handler 'score_credit' of service task Score credit \(score\) returned list"
    ):
        app.start("credit_check", data={"amount": 1}, actor="web")
    before = table_rows(sqlite_url)
    assert app.retry_due(1) is None  # not due yet: nothing happens
    assert table_rows(sqlite_url) == before
    app.db.dispose()


def test_handoff_process_finds_the_installed_package(db_url: str, tmp_path: Path) -> None:
    """The real command line in a separate process, with the example package on its path."""
    site = install_example(tmp_path / "site")
    env = dict(os.environ, HANDOFF_DB=db_url, PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))

    def handoff(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--user", "ann", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )

    assert handoff("init").returncode == 0
    deployed = handoff("deploy", str(DATA / "service_camunda.bpmn"))
    assert deployed.returncode == 0 and deployed.stderr == ""  # no warning: the handlers are installed
    started = handoff("--json", "start", "invoice_order", "--data", "customer=ACME", "--data", "amount=900")
    assert started.returncode == 0, started.stderr
    view = json.loads(started.stdout)
    assert view["status"] == "completed" and view["data"]["invoice_number"].startswith("INV-")
    assert (tmp_path / "outbox.jsonl").exists()

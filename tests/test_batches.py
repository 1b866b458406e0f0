"""Batches (issue 16 item 4): retry, suspend, resume, terminate and migrate many instances chosen by
filters, on SQLite and PostgreSQL, through the command line: a dry run changes nothing, one instance's
failure does not stop the others, and the summary says what succeeded and what did not."""

from __future__ import annotations

import json
from contextlib import suppress

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA
from engine import Forbidden, Handoff, ScriptFailed

PAY = DATA / "batch_pay.bpmn"


def cli(db_url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", db_url, *args])


def failed_payments(app: Handoff) -> dict[str, int]:
    """Six instances: two waiting at 'enter', three in error without an amount (one of them blocked),
    one completed."""
    app.deploy([PAY], actor="root")
    ids: dict[str, int] = {}
    for key, blocked, amount in [
        ("W1", False, None),
        ("W2", False, None),
        ("E1", False, None),
        ("E2", False, None),
        ("B1", True, None),
        ("OK", False, 3),
    ]:
        data = {"blocked": blocked} | ({"amount": amount} if amount is not None else {})
        view = app.start("batch_pay", data=data, business_key=key, actor="root")
        ids[key] = view.id
        if key[0] in "EBO":
            with suppress(ScriptFailed):
                app.complete(view.tasks[0].id, actor="root")
    return ids


def statuses(app: Handoff, ids: dict[str, int]) -> dict[str, str]:
    return {key: app.show(i, actor="root").status for key, i in ids.items()}


def test_a_batch_retry_goes_on_past_a_failure_and_says_so(app: Handoff, db_url: str) -> None:
    ids = failed_payments(app)
    assert statuses(app, ids) == {
        "W1": "running",
        "W2": "running",
        "E1": "error",
        "E2": "error",
        "B1": "error",
        "OK": "completed",
    }
    dry = cli(db_url, "retry", "--process", "batch_pay", "--status", "error", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.strip().endswith(
        "dry run: 3 selected, 3 would be retried, 0 skipped, 0 failed (nothing changed)"
    )
    assert statuses(app, ids)["E1"] == "error"
    result = cli(
        db_url,
        "--json",
        "retry",
        "--process",
        "batch_pay",
        "--status",
        "error",
        "--data-json",
        '{"amount": 5}',
    )
    assert result.exit_code == 5  # one failed: said by the exit code, after the others were done
    report = json.loads(result.stdout)
    assert report["summary"] == {"selected": 3, "done": 2, "would": 0, "skipped": 0, "failed": 1}
    [failure] = [i for i in report["instances"] if i["outcome"] == "failed"]
    assert failure["id"] == ids["B1"] and "blocked by legal" in failure["message"]
    assert statuses(app, ids) == {
        "W1": "running",
        "W2": "running",
        "E1": "completed",
        "E2": "completed",
        "B1": "error",
        "OK": "completed",
    }
    assert app.show(ids["E1"], actor="root").data["total"] == 6


def test_suspend_resume_terminate_by_filters(app: Handoff, db_url: str) -> None:
    ids = failed_payments(app)
    text = cli(db_url, "suspend", "--process", "batch_pay", "--reason", "audit")
    assert text.exit_code == 0, text.output
    assert f"instance {ids['OK']} (v1, completed): skipped: it is completed" in text.stdout
    assert text.stdout.strip().endswith("6 selected, 5 suspended, 1 skipped, 0 failed")
    assert set(statuses(app, ids).values()) == {"suspended", "completed"}
    resumed = cli(db_url, "resume", "--process", "batch_pay", "--version", "1")
    assert resumed.stdout.strip().endswith("6 selected, 5 resumed, 1 skipped, 0 failed")
    assert statuses(app, ids)["E1"] == "error" and statuses(app, ids)["W1"] == "running"
    one = cli(db_url, "terminate", "--key", "W2", "--reason", "duplicate")
    assert one.exit_code == 0 and statuses(app, ids)["W2"] == "terminated"
    assert statuses(app, ids)["W1"] == "running"
    nothing = cli(db_url, "terminate")
    assert nothing.exit_code == 2 and "say which instance to terminate" in nothing.stderr
    unknown = cli(db_url, "terminate", "--process", "nope")
    assert unknown.exit_code == 4


def test_batches_are_refused_to_those_without_the_right(app: Handoff) -> None:
    failed_payments(app)
    app.add_user("root", role="admin", actor=None)
    app.add_user("olga", role="operator", lanes=["Sales"], actor="root")
    with pytest.raises(Forbidden, match="olga"):
        app.batch_operation("terminate", process_id="batch_pay", actor="olga")


def test_migrate_takes_status_and_key_filters(app: Handoff, db_url: str) -> None:
    from test_migration import populate

    where = populate(app, 10)
    result = cli(db_url, "--json", "migrate", "claims", "--to-version", "2", "--key", "C1", "--dry-run")
    assert result.exit_code == 0, result.output
    [only] = json.loads(result.stdout)["instances"]
    assert only["id"] == 2 and where[2] == "review"
    waiting = cli(db_url, "--json", "migrate", "claims", "--to-version", "2", "--status", "waiting")
    moved = json.loads(waiting.stdout)["instances"]
    assert {m["id"] for m in moved} == {i for i, stop in where.items() if stop == "receipt"}
    assert all(m["outcome"] == "migrated" for m in moved)

"""Restarting an instance from an activity (issue 16 item 3), on SQLite and PostgreSQL: the holdout-style
rework example (tests/data/rework_pingpong.bpmn) restarted from its draft after the review approved it.

DESIGN §3 predicts for the redone path: the redone draft has no causal predecessor (no activity made it
reachable: a person's restart did), so it makes no crossing and takes no handoff; the review after it
crosses Author -> Editor again and is handed from ann to ed; the publish of the first pass was cancelled
and never ran, so only the second one hands off (ed -> pat). Rework: draft and review once each.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from invariants import check_history_matches_state
from test_history import at, crossings_of, events_of, handoffs_of, open_task

from cli import main
from conftest import DATA
from engine import Conflict, Forbidden, Handoff


def rework_of(app: Handoff) -> dict[str, int]:
    return {
        r["element"]: r["count"] for r in app.report(process_id="article", actor="root").to_json()["rework"]
    }


def approved_once(app: Handoff, clock) -> int:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="root")
    clock.set(at("09:00"))
    instance = app.start("article", actor="ann").id
    clock.set(at("09:30"))
    app.complete(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("11:00"))
    app.claim(open_task(app, instance, "review"), actor="ed")
    clock.set(at("11:15"))
    app.complete(open_task(app, instance, "review"), data={"approved": "true"}, actor="ed")
    return instance


def test_restart_from_the_draft_redoes_the_path_as_design_predicts(app: Handoff, clock, db_url: str) -> None:
    instance = approved_once(app, clock)
    assert rework_of(app) == {}
    clock.set(at("11:20"))
    view = app.restart(instance, element="draft", data={"note": "fix the title"}, actor="root")
    assert view.status == "running" and [t.element for t in view.tasks] == ["draft"]
    assert view.data["note"] == "fix the title"
    clock.set(at("11:45"))
    app.complete(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("11:50"))
    app.claim(open_task(app, instance, "review"), actor="ed")
    clock.set(at("12:00"))
    app.complete(open_task(app, instance, "review"), data={"approved": "true"}, actor="ed")
    clock.set(at("12:30"))
    assert app.complete(open_task(app, instance, "publish"), actor="pat").status == "completed"

    assert events_of(app, instance) == [
        ("09:00", "instance_started", None, "ann"),
        ("09:00", "task_ready", "draft", None),
        ("09:30", "task_completed", "draft", "ann"),
        ("09:30", "task_ready", "review", None),
        ("11:00", "task_claimed", "review", "ed"),
        ("11:15", "task_completed", "review", "ed"),
        ("11:15", "task_ready", "publish", None),
        ("11:20", "instance_restarted", None, "root"),
        ("11:20", "task_ready", "draft", None),
        ("11:20", "task_cancelled", "publish", None),
        ("11:45", "task_completed", "draft", "ann"),
        ("11:45", "task_ready", "review", None),
        ("11:50", "task_claimed", "review", "ed"),
        ("12:00", "task_completed", "review", "ed"),
        ("12:00", "task_ready", "publish", None),
        ("12:30", "task_completed", "publish", "pat"),
        ("12:30", "instance_completed", None, None),
    ]
    assert crossings_of(app, instance) == {
        ("draft", "review", "Author", "Editor", "09:30", False),
        ("draft", "review", "Author", "Editor", "11:45", False),
    }
    assert handoffs_of(app, instance) == {
        ("draft", "review", "ann", "ed", "Author", "Editor", "09:30", "11:00", 5400.0),
        ("draft", "review", "ann", "ed", "Author", "Editor", "11:45", "11:50", 300.0),
        ("review", "publish", "ed", "pat", "Editor", "Editor", "12:00", "12:30", 1800.0),
    }
    assert rework_of(app) == {"draft": 1, "review": 1}
    restarted = [
        e
        for e in app.history(instance, actor="root").to_json()["timeline"]
        if e["kind"] == "instance_restarted"
    ]
    assert restarted[0]["data"] == {
        "from": "draft",
        "cancelled": ["publish"],
        "data": {"note": "fix the title"},
    }
    check_history_matches_state(db_url)


def test_restart_refusals_change_nothing(app: Handoff, clock) -> None:
    instance = approved_once(app, clock)
    before = events_of(app, instance)
    with pytest.raises(Conflict, match="has not completed 'publish': it can restart from draft, review"):
        app.restart(instance, element="publish", actor="root")
    with pytest.raises(Conflict, match="has not completed 'good'"):  # a gateway is not an activity
        app.restart(instance, element="good", actor="root")
    assert events_of(app, instance) == before
    app.add_user("root", role="admin", actor=None)
    app.add_user("ed", role="operator", lanes=["Editor"], actor="root")
    with pytest.raises(Forbidden):
        app.restart(instance, element="draft", actor="ed")
    app.suspend(instance, actor="root")
    with pytest.raises(Conflict, match="resume it first"):
        app.restart(instance, element="draft", actor="root")
    kinds = [e["kind"] for e in app.history(instance, actor="root").to_json()["timeline"]]
    assert "instance_restarted" not in kinds and kinds[-1] == "instance_suspended"


def test_restart_on_the_command_line(app: Handoff, clock, db_url: str) -> None:
    instance = approved_once(app, clock)
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["--db", db_url, "--json", "restart", str(instance), "--from", "review", "--data", "approved=false"],
    )
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert [t["element"] for t in shown["tasks"]] == ["review"] and shown["data"]["approved"] == "false"
    bad = runner.invoke(main, ["--db", db_url, "restart", str(instance), "--from", "nowhere"])
    assert bad.exit_code == 5 and "has not completed 'nowhere'" in bad.stderr


def test_cancel_one_open_activity_where_the_model_allows_it(app: Handoff, db_url: str) -> None:
    app.deploy([DATA / "parallel_optional.bpmn", DATA / "worked_example.bpmn"], actor="root")
    instance = app.start("optional_call", actor="root").id
    call, handle = open_task(app, instance, "call"), open_task(app, instance, "handle")
    view = app.cancel(instance, task_id=call, actor="root")
    assert [t.element for t in view.tasks] == ["handle"] and view.status == "running"
    app.complete(handle, actor="root")
    with pytest.raises(Conflict, match="only open work of instance"):
        app.cancel(instance, task_id=open_task(app, instance, "close"), actor="root")
    assert app.complete(open_task(app, instance, "close"), actor="root").status == "completed"
    kinds = [e["kind"] for e in app.history(instance, actor="root").to_json()["timeline"]]
    assert kinds.count("activity_cancelled") == 1 and "task_cancelled" in kinds
    check_history_matches_state(db_url)

    other = app.start("worked_example", actor="root").id
    app.complete(open_task(app, other, "submit"), actor="root")
    app.complete(open_task(app, other, "approve"), actor="root")
    with pytest.raises(Conflict, match="the join 'join' waits for its branch"):
        app.cancel(other, task_id=open_task(app, other, "create_po"), actor="root")
    result = CliRunner().invoke(main, ["--db", db_url, "cancel", str(other), "--task", str(call)])
    assert (
        result.exit_code == 5
        and f"task {call} (Courtesy call) is not a task of instance {other}" in result.stderr
    )

"""The history commands: a person reads `history`; scripts read the --json shapes of DESIGN §7."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA


def invoke(db: str, *args: str, user: str = "ann"):
    return CliRunner().invoke(main, ["--db", db, "--user", user, *args])


def ok(db: str, *args: str, user: str = "ann"):
    result = invoke(db, *args, user=user)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def reworked(db_url: str) -> str:
    """The rework scenario driven through the CLI: draft, review (rejected), draft, review, publish."""
    ok(db_url, "init")
    ok(db_url, "deploy", str(DATA / "rework_pingpong.bpmn"))
    ok(db_url, "sla", "set", "--lane", "Author", "PT20M")
    instance = json.loads(ok(db_url, "--json", "start", "article"))["id"]

    def task(element: str) -> str:
        (t,) = [t for t in json.loads(ok(db_url, "--json", "tasks")) if t["element"] == element]
        return str(t["id"])

    ok(db_url, "complete", task("draft"), user="ann")
    ok(db_url, "complete", task("review"), "--data", "approved=false", user="ed")
    ok(db_url, "complete", task("draft"), user="ann")
    ok(db_url, "complete", task("review"), "--data", "approved=true", user="ed")
    ok(db_url, "complete", task("publish"), user="pat")
    assert instance == 1
    return db_url


def test_history_reads_as_a_story(reworked: str) -> None:
    text = ok(reworked, "history", "1")
    assert text.splitlines()[0] == "instance 1  article v1  COMPLETED"
    assert "crossed Editor -> Author (ping-pong)" in text
    assert "handoff ann -> ed after" in text and "handoff ed -> pat after" in text
    assert "task completed Write draft" in text and "instance completed" in text


def test_json_shapes(reworked: str) -> None:
    handoffs = json.loads(ok(reworked, "--json", "handoffs"))
    assert [(h["from_actor"], h["to_actor"]) for h in handoffs] == [
        ("ann", "ed"),
        ("ed", "ann"),
        ("ann", "ed"),
        ("ed", "pat"),
    ]
    assert all(h["instance"] == 1 and h["to"]["at"].endswith("Z") for h in handoffs)
    crossings = json.loads(ok(reworked, "--json", "crossings", "--lane", "Author"))
    assert [(c["from_lane"], c["to_lane"], c["ping_pong"]) for c in crossings] == [
        ("Author", "Editor", False),
        ("Editor", "Author", True),
        ("Author", "Editor", True),
    ]
    assert json.loads(ok(reworked, "--json", "delays", "--process", "nope")) == []
    assert json.loads(ok(reworked, "--json", "sla", "list"))[0]["duration"] == "PT20M"
    assert json.loads(ok(reworked, "--json", "worker", "--once"))["overdue"] == 0


def test_bad_options_are_one_line(reworked: str) -> None:
    result = invoke(reworked, "handoffs", "--since", "yesterday")
    assert result.exit_code == 2 and result.stderr.startswith("error: --since expects an ISO 8601 time")
    result = invoke(reworked, "sla", "set", "--lane", "Author", "4 hours")
    assert result.exit_code == 2 and "not an ISO 8601 duration: '4 hours'" in result.stderr
    result = invoke(reworked, "sla", "set", "PT1H")
    assert result.exit_code == 2 and "exactly one of --lane LANE or --default" in result.stderr

"""Bad input: one clear `error:` line on stderr, a non-zero exit, and the database unchanged.

Acceptance criterion: "Bad input gets one clear line and a non-zero exit, and leaves the database
byte-for-byte unchanged (tests compare the rows before and after): malformed XML, an external-entity
file, a dangling sequence flow, an unknown process, an unknown task, a task that is not ready or already
completed, a missing required field, a wrong type, an unknown enum value, a script that raises."

Every case runs on SQLite and PostgreSQL (`db_url`), through click's CliRunner and, for a subset, as a
real `handoff` process. A script that raises is the one case that does change the database on purpose
(DESIGN §2: the instance goes to `error` with an incident); retrying it while it still fails does not.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA, EXAMPLE, ROOT, table_rows

# --- helpers -----------------------------------------------------------------------------------------


def cli(url: str, *args: object, user: str = "ann", as_json: bool = False) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv)


def ok_json(url: str, *args: object, user: str = "ann") -> Any:
    result = cli(url, *args, user=user, as_json=True)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def assert_one_error_line(exit_code: int, stderr: str, code: int | None, *fragments: str) -> str:
    """Exactly one line on stderr, `error: ...`, naming what went wrong; the expected exit code."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    line = lines[0]
    assert line.startswith("error: "), line
    assert exit_code != 0
    if code is not None:
        assert exit_code == code, (exit_code, line)
    for fragment in fragments:
        assert fragment in line, f"{fragment!r} not in {line!r}"
    return line


def assert_cli_error(result: Result, code: int | None, *fragments: str) -> str:
    # A SystemExit is the CLI's own exit; anything else is an uncaught exception (a traceback for users).
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return assert_one_error_line(result.exit_code, result.stderr, code, *fragments)


@dataclass
class O2C:
    """order_to_cash deployed, in a few states; ids read from the CLI's --json output."""

    url: str
    fresh_instance: int  # waiting at Register order, untouched
    fresh_task: int  # its Register order task (ready)
    done_task: int  # a Register order task already completed (by ann)
    approve_task: int  # the Approve credit task that followed it (ready)
    claimed_task: int  # a Register order task claimed by ann


def _task_of(view: dict[str, Any], name: str) -> int:
    ids = [t["id"] for t in view["tasks"] if t["name"] == name]
    assert len(ids) == 1, view["tasks"]
    return int(ids[0])


@pytest.fixture
def o2c(db_url: str) -> O2C:
    assert cli(db_url, "init").exit_code == 0
    deployed = ok_json(db_url, "deploy", EXAMPLE)
    assert [d["process"] for d in deployed] == ["order_to_cash"]
    first = ok_json(db_url, "start", "order_to_cash", "--key", "SO-1")
    second = ok_json(db_url, "start", "order_to_cash", "--key", "SO-2")
    third = ok_json(db_url, "start", "order_to_cash", "--key", "SO-3")
    done = _task_of(second, "Register order")
    after = ok_json(db_url, "complete", done, "--data", "customer=ACME", "--data", "amount=2500")
    claimed = _task_of(third, "Register order")
    ok_json(db_url, "claim", claimed)
    return O2C(
        url=db_url,
        fresh_instance=first["id"],
        fresh_task=_task_of(first, "Register order"),
        done_task=done,
        approve_task=_task_of(after, "Approve credit"),
        claimed_task=claimed,
    )


def unchanged(url: str, action: Callable[[], Any]) -> Any:
    """Run `action` and assert every row of every table is the same afterwards."""
    before = table_rows(url)
    out = action()
    after = table_rows(url)
    assert after == before, _diff(before, after)
    return out


def _diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> str:
    lines = ["database changed:"]
    for table in sorted(set(before) | set(after)):
        b, a = before.get(table, []), after.get(table, [])
        if b != a:
            lines.append(f"  {table}: -{[r for r in b if r not in a]} +{[r for r in a if r not in b]}")
    return "\n".join(lines)


# --- the table of bad inputs -------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    argv: Callable[[O2C], Sequence[object]]
    code: int
    fragments: Callable[[O2C], Sequence[str]]
    user: str = "ann"


CASES = [
    # BPMN files (exit 3): the error names file:line.
    Case(
        "malformed_xml",
        lambda s: ["deploy", DATA / "bad_malformed.bpmn"],
        3,
        lambda s: ["bad_malformed.bpmn:9:", "malformed XML"],
    ),
    Case("external_entity", lambda s: ["deploy", DATA / "bad_xxe.bpmn"], 3, lambda s: ["bad_xxe.bpmn:"]),
    Case(
        "billion_laughs",
        lambda s: ["deploy", DATA / "bad_billion_laughs.bpmn"],
        3,
        lambda s: ["bad_billion_laughs.bpmn:"],
    ),
    Case(
        "dangling_flow",
        lambda s: ["deploy", DATA / "bad_dangling_flow.bpmn"],
        3,
        lambda s: ["bad_dangling_flow.bpmn:15:", "f2", "no_such_element"],
    ),
    Case(
        "missing_file",
        lambda s: ["deploy", DATA / "bad_no_such_file.bpmn"],
        4,  # not found (issue 14 item 15): nothing to validate, not invalid BPMN
        lambda s: ["bad_no_such_file.bpmn"],
    ),
    # One bad file among good ones: nothing of the good one is stored either.
    Case(
        "deploy_is_all_or_nothing",
        lambda s: ["deploy", DATA / "bad_script.bpmn", DATA / "bad_dangling_flow.bpmn"],
        3,
        lambda s: ["bad_dangling_flow.bpmn:15:"],
    ),
    # Unknown things (exit 4).
    Case("unknown_process", lambda s: ["start", "nope"], 4, lambda s: ["'nope'", "not deployed"]),
    Case(
        "unknown_version",
        lambda s: ["start", "order_to_cash", "--version", "9"],
        4,
        lambda s: ["order_to_cash", "version 9"],
    ),
    Case("unknown_task", lambda s: ["complete", "999", "--data", "customer=X"], 4, lambda s: ["task 999"]),
    Case("unknown_task_claim", lambda s: ["claim", "999"], 4, lambda s: ["task 999"]),
    Case("unknown_instance_retry", lambda s: ["retry", "999"], 4, lambda s: ["instance 999"]),
    # Tasks that cannot be completed now (exit 5).
    Case(
        "already_completed",
        lambda s: ["complete", s.done_task, "--data", "customer=X"],
        5,
        lambda s: [f"task {s.done_task}", "Register order", "already completed by ann"],
    ),
    Case(
        "already_completed_claim",
        lambda s: ["claim", s.done_task],
        5,
        lambda s: [f"task {s.done_task}", "already completed"],
    ),
    Case(
        "claimed_by_someone_else",
        lambda s: ["complete", s.claimed_task, "--data", "customer=X"],
        5,
        lambda s: [f"task {s.claimed_task}", "claimed by ann"],
        user="bob",
    ),
    Case(
        "retry_not_in_error",
        lambda s: ["retry", s.fresh_instance],
        5,
        lambda s: [f"instance {s.fresh_instance}", "not in error"],
    ),
    # Form data (exit 2): the error names the task and the field.
    Case(
        "missing_required_field",
        lambda s: ["complete", s.fresh_task, "--data", "amount=5"],
        2,
        lambda s: [f"task {s.fresh_task}", "Register order", "'customer'", "required"],
    ),
    Case(
        "wrong_type",
        lambda s: ["complete", s.fresh_task, "--data", "customer=A", "--data", "amount=abc"],
        2,
        lambda s: ["field 'amount'", f"task {s.fresh_task}", "whole number", "'abc'"],
    ),
    Case(
        "wrong_type_json",
        lambda s: ["complete", s.fresh_task, "--data-json", '{"customer": 42}'],
        2,
        lambda s: ["field 'customer'", "string"],
    ),
    Case(
        "unknown_enum_value",
        lambda s: ["complete", s.fresh_task, "--data", "customer=A", "--data", "priority=urgent"],
        2,
        lambda s: ["field 'priority'", "standard, express", "'urgent'"],
    ),
    Case(
        "unknown_field",
        lambda s: ["complete", s.fresh_task, "--data", "customer=A", "--data", "colour=red"],
        2,
        lambda s: ["'colour'", "customer, amount, priority"],
    ),
    Case(
        "data_without_equals",
        lambda s: ["complete", s.fresh_task, "--data", "customer"],
        2,
        lambda s: ["KEY=VALUE", "'customer'"],
    ),
    Case(
        "data_json_invalid",
        lambda s: ["complete", s.fresh_task, "--data-json", "{customer"],
        2,
        lambda s: ["--data-json", "not valid JSON"],
    ),
    Case(
        "data_json_not_object",
        lambda s: ["start", "order_to_cash", "--data-json", "[1, 2]"],
        2,
        lambda s: ["--data-json", "JSON object"],
    ),
    Case("unknown_status", lambda s: ["instances", "--status", "bogus"], 2, lambda s: ["'bogus'"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_changes_nothing(o2c: O2C, case: Case) -> None:
    result = unchanged(o2c.url, lambda: cli(o2c.url, *case.argv(o2c), user=case.user))
    assert_cli_error(result, case.code, *case.fragments(o2c))
    assert result.stdout == ""


def test_error_names_the_malformed_line(o2c: O2C) -> None:
    result = cli(o2c.url, "deploy", DATA / "bad_malformed.bpmn")
    line = assert_cli_error(result, 3)
    # file:LINE: message, with the line of the mismatched end tag.
    assert f"{DATA / 'bad_malformed.bpmn'}:9: malformed XML" in line


def test_external_entity_is_never_resolved(o2c: O2C) -> None:
    result = unchanged(o2c.url, lambda: cli(o2c.url, "deploy", DATA / "bad_xxe.bpmn"))
    assert_cli_error(result, 3, "bad_xxe.bpmn:")
    assert "root:" not in result.stderr + result.stdout  # nothing of /etc/passwd leaks out
    assert cli(o2c.url, "validate", DATA / "bad_xxe.bpmn").exit_code == 3
    processes = ok_json(o2c.url, "processes")
    assert [p["process"] for p in processes] == ["order_to_cash"]


def test_json_error_on_stdout(o2c: O2C) -> None:
    for argv, code, fragment in [
        (["complete", "999"], 4, "task 999"),
        (
            ["complete", str(o2c.fresh_task), "--data", "customer=A", "--data", "priority=urgent"],
            2,
            "'urgent'",
        ),
        (["deploy", str(DATA / "bad_malformed.bpmn")], 3, "bad_malformed.bpmn:9:"),
        (["start", "nope"], 4, "'nope'"),
    ]:
        result = unchanged(o2c.url, lambda argv=argv: cli(o2c.url, *argv, as_json=True))
        line = assert_cli_error(result, code, fragment)
        payload = json.loads(result.stdout)
        assert payload == {"error": line.removeprefix("error: ")}


def test_cancelled_task_is_not_ready(db_url: str) -> None:
    """A task withdrawn by a terminate end event is `cancelled`: completing or claiming it is refused."""
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_withdrawn.bpmn")
    view = ok_json(db_url, "start", "bad_withdrawn")
    approve, withdraw = _task_of(view, "Approve request"), _task_of(view, "Withdraw request")
    done = ok_json(db_url, "complete", withdraw)
    assert done["status"] == "completed"
    for argv in (["complete", approve], ["claim", approve], ["unclaim", approve]):
        result = unchanged(db_url, lambda argv=argv: cli(db_url, *argv))
        assert_cli_error(result, 5, f"task {approve}", "Approve request", "cancelled")


def test_task_of_an_instance_in_error_is_not_ready(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_script_beside_task.bpmn")
    result = cli(db_url, "start", "bad_script_beside_task", as_json=True)
    assert result.exit_code == 6
    instance = json.loads(result.stdout)["instance"]
    tasks = ok_json(db_url, "tasks", "--instance", instance)
    assert [t["name"] for t in tasks] == ["Review"]
    review = tasks[0]["id"]
    result = unchanged(db_url, lambda: cli(db_url, "complete", review))
    assert_cli_error(result, 5, f"instance {instance}", "error")


def test_commands_before_init_say_so(db_url: str) -> None:
    from sqlalchemy import create_engine, inspect

    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    for argv in (["start", "order_to_cash"], ["deploy", str(EXAMPLE)], ["complete", "1"], ["tasks"]):
        result = cli(db_url, *argv)
        assert_cli_error(result, 7, "handoff init")
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


# --- a script that raises ----------------------------------------------------------------------------


def test_script_that_raises_on_start_then_retry(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_script.bpmn")

    # (a) start: the instance is stored in `error` with its incident; one line, exit 6.
    result = cli(db_url, "start", "bad_script", "--key", "K-1")
    line = assert_cli_error(
        result, 6, "Compute total (compute) line 2", "NameError", "undefined_name", "handoff retry"
    )
    errors = ok_json(db_url, "instances", "--status", "error")
    assert len(errors) == 1
    instance = errors[0]["id"]
    assert f"instance {instance}" in line
    assert errors[0]["business_key"] == "K-1"
    incident = errors[0]["error"]
    assert incident["task"] == "compute"
    assert incident["task_name"] == "Compute total"
    assert incident["line"] == 2
    assert incident["type"] == "NameError"
    assert "undefined_name" in incident["message"]
    shown = ok_json(db_url, "show", instance)
    assert shown["status"] == "error"
    kinds = [e["kind"] for e in shown["timeline"]]
    # A script gets no automatic retry by default: the failure is an incident for people at once.
    assert kinds[0] == "instance_started"
    assert kinds[-3:] == ["task_error", "instance_failed", "incident_opened"], kinds
    assert errors[0]["incident"] is True and errors[0]["next_retry_at"] is None
    assert "instance_completed" not in kinds

    # (b) retry while the cause is not fixed: nothing changes, one line, non-zero.
    for extra in ([], ["--data", "unrelated=1"]):
        result = unchanged(db_url, lambda extra=extra: cli(db_url, "retry", instance, *extra))
        assert_cli_error(
            result, 6, f"instance {instance}", "Compute total (compute) line 2", "nothing changed"
        )

    # (c) retry with the missing variable: it completes.
    fixed = ok_json(db_url, "retry", instance, "--data", "undefined_name=1")
    assert fixed["status"] == "completed"
    assert fixed["data"]["total"] == 2
    assert ok_json(db_url, "instances", "--status", "error") == []
    kinds = [e["kind"] for e in ok_json(db_url, "show", instance)["timeline"]]
    assert kinds[-1] == "instance_completed", kinds
    # And once completed, a second retry is refused without a change.
    result = unchanged(db_url, lambda: cli(db_url, "retry", instance))
    assert_cli_error(result, 5, "not in error")


def test_script_that_raises_json(db_url: str) -> None:
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_script.bpmn")
    result = cli(db_url, "start", "bad_script", as_json=True)
    line = assert_cli_error(result, 6, "Compute total (compute) line 2")
    payload = json.loads(result.stdout)
    assert payload["error"] and payload["instance"] >= 1
    assert payload["error"] == line.removeprefix("error: ")


@pytest.mark.parametrize("as_json", [False, True], ids=["text", "json"])
def test_multiline_script_error_is_still_one_line(db_url: str, as_json: bool) -> None:
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_script_multiline.bpmn")
    result = cli(db_url, "start", "bad_script_multiline", as_json=as_json)
    line = assert_cli_error(result, 6, "Compute total (compute) line 2", "first line second line")
    [instance] = ok_json(db_url, "instances", "--status", "error")
    result = unchanged(db_url, lambda: cli(db_url, "retry", instance["id"], as_json=as_json))
    assert_cli_error(result, 6, "first line second line", "nothing changed")
    if as_json:
        assert json.loads(result.stdout)["error"] == result.stderr.strip().removeprefix("error: ")
    assert line


def test_script_that_raises_after_a_completed_task(db_url: str) -> None:
    """`complete` commits the completed task and the incident; retry with corrected typed data recovers."""
    assert cli(db_url, "init").exit_code == 0
    ok_json(db_url, "deploy", DATA / "bad_script_after_task.bpmn")
    view = ok_json(db_url, "start", "bad_script_after_task")
    task = _task_of(view, "Enter divisor")
    result = cli(db_url, "complete", task, "--data", "divisor=0")
    assert_cli_error(
        result,
        6,
        f"task {task} completed",
        "Divide (divide) line 1",
        "ZeroDivisionError",
        f"retry {view['id']}",
    )
    shown = ok_json(db_url, "show", view["id"])
    assert shown["status"] == "error"
    assert shown["error"]["task"] == "divide" and shown["error"]["line"] == 1
    assert shown["tasks"] == []
    # The task is done: completing it again is refused, nothing changes.
    result = unchanged(db_url, lambda: cli(db_url, "complete", task, "--data", "divisor=4"))
    assert_cli_error(result, 5, "already completed")
    # Retry without a fix: unchanged.
    result = unchanged(db_url, lambda: cli(db_url, "retry", view["id"]))
    assert_cli_error(result, 6, "ZeroDivisionError", "nothing changed")
    fixed = ok_json(db_url, "retry", view["id"], "--data-json", '{"divisor": 4}')
    assert fixed["status"] == "completed"
    assert fixed["data"]["ratio"] == 25.0


# --- the same through real processes -----------------------------------------------------------------


def _commands() -> list[list[str]]:
    commands = [[sys.executable, str(ROOT / "cli.py")]]
    exe = shutil.which("handoff")
    if exe:
        commands.append([exe])
    return commands


@pytest.fixture(params=range(len(_commands())), ids=["python_cli_py", "handoff_exe"][: len(_commands())])
def command(request: pytest.FixtureRequest) -> list[str]:
    return _commands()[request.param]


def run_process(
    command: list[str], url: str, *args: object, cwd: Path, as_json: bool = False, user: str = "ann"
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_DB", "HANDOFF_USER")}
    argv = [*command, "--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=120, check=False)


PROCESS_CASES = [
    "malformed_xml",
    "external_entity",
    "dangling_flow",
    "unknown_process",
    "unknown_task",
    "already_completed",
    "missing_required_field",
    "wrong_type",
    "unknown_enum_value",
]


def test_bad_input_as_a_real_process(o2c: O2C, command: list[str], tmp_path: Path) -> None:
    for case in (c for c in CASES if c.name in PROCESS_CASES):
        proc = unchanged(
            o2c.url,
            lambda case=case: run_process(command, o2c.url, *case.argv(o2c), cwd=tmp_path, user=case.user),
        )
        assert_one_error_line(proc.returncode, proc.stderr, case.code, *case.fragments(o2c))
        assert proc.stdout == "", (case.name, proc.stdout)
    # --json: the same line as {"error": ...} on stdout.
    proc = unchanged(
        o2c.url, lambda: run_process(command, o2c.url, "complete", o2c.done_task, cwd=tmp_path, as_json=True)
    )
    line = assert_one_error_line(proc.returncode, proc.stderr, 5, "already completed")
    assert json.loads(proc.stdout) == {"error": line.removeprefix("error: ")}


def test_script_that_raises_as_a_real_process(db_url: str, command: list[str], tmp_path: Path) -> None:
    assert run_process(command, db_url, "init", cwd=tmp_path).returncode == 0
    assert run_process(command, db_url, "deploy", DATA / "bad_script.bpmn", cwd=tmp_path).returncode == 0
    proc = run_process(command, db_url, "start", "bad_script", cwd=tmp_path)
    assert_one_error_line(proc.returncode, proc.stderr, 6, "Compute total (compute) line 2", "NameError")
    listed = run_process(command, db_url, "instances", "--status", "error", cwd=tmp_path, as_json=True)
    assert listed.returncode == 0
    [instance] = json.loads(listed.stdout)
    proc = unchanged(db_url, lambda: run_process(command, db_url, "retry", instance["id"], cwd=tmp_path))
    assert_one_error_line(proc.returncode, proc.stderr, 6, "nothing changed")
    proc = run_process(
        command, db_url, "retry", instance["id"], "--data", "undefined_name=1", cwd=tmp_path, as_json=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["status"] == "completed"

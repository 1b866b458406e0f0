"""What a newcomer found at the command line (issue 14): out-of-range ids, one rule for show and history,
--json usage errors, validate's exit codes and order, task lists that say what they mean, quiet notify
failures, times with their zone, exports to stdout and HTML kept off the terminal."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA, EXAMPLE, ROOT, table_rows
from engine import Handoff, hookimpl


def cli(db_url: str, *args: str, user: str = "ann") -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", db_url, "--user", user, *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def started(app: Handoff, db_url: str) -> int:
    app.deploy([EXAMPLE], actor="designer")
    return app.start("order_to_cash", actor="web").id


# --- item 8: ids and values beyond the database's integers ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["show", "9223372036854775808"], 4, "instance 9223372036854775808 does not exist"),
        (["show", "2147483648"], 4, "instance 2147483648 does not exist"),
        (["claim", "2147483648"], 4, "task 2147483648 does not exist"),
        (["complete", "99999999999999999999"], 4, "does not exist"),
        (["retry", "2147483648"], 4, "does not exist"),
        (["history", "2147483648"], 4, "does not exist"),
        (["tasks", "--instance", "2147483648"], 2, "instance must be a whole number from 1 to 2,147,483,647"),
        (["instances", "--limit", "9223372036854775808"], 2, "limit must be a whole number"),
        (["handoffs", "--limit", "2147483648"], 2, "limit must be a whole number"),
        (["start", "order_to_cash", "--version", "2147483648"], 2, "version must be a whole number"),
        (["sla", "set", "--lane", "Finance", "P99999999999Y"], 2, "too long"),
        (["worker", "--once", "--lease", "1e308"], 2, "--lease"),
    ],
)
def test_out_of_range_values_are_refused_in_one_line(
    db_url: str, started: int, args: list[str], code: int, says: str
) -> None:
    before = table_rows(db_url)
    exit_code, out, err = cli(db_url, *args)
    assert exit_code == code, err
    assert says in err and "Traceback" not in err
    assert len(err.strip().splitlines()) <= 4  # one line, or click's usage block for --lease
    assert table_rows(db_url) == before


# --- item 9: one rule for show's timeline and history --------------------------------------------------------


def test_an_operator_reads_an_instance_but_not_its_history(app: Handoff, db_url: str, started: int) -> None:
    app.add_user("ann", role="admin", actor="ann")
    app.add_user("fay", role="operator", lanes=["Sales"], actor="ann")
    app.add_user("olga", role="analyst", actor="ann")
    code, _, err = cli(db_url, "history", str(started), user="fay")
    assert code == 9 and "fay (operator) may not read history records" in err
    code, out, _ = cli(db_url, "--json", "show", str(started), user="fay")
    shown = json.loads(out)
    assert code == 0 and shown["status"] == "running" and "timeline" not in shown
    code, out, _ = cli(db_url, "show", str(started), user="fay")
    assert code == 0 and f"timeline: for analysts and admins ('handoff history {started}')" in out
    assert "instance started" not in out
    code, out, _ = cli(db_url, "--json", "show", str(started), user="olga")
    assert code == 0 and json.loads(out)["timeline"][0]["kind"] == "instance_started"


# --- item 13: --json usage errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [["claim", "abc"], ["tasks", "--no-such-option"], ["no-such-command"], ["simulate", "p"]],
    ids=["bad-argument", "unknown-option", "unknown-command", "missing-option"],
)
def test_json_usage_errors_are_one_line_and_an_object(sqlite_url: str, args: list[str]) -> None:
    result = CliRunner().invoke(main, ["--db", sqlite_url, "--json", *args])
    assert result.exit_code == 2
    assert json.loads(result.stdout).keys() == {"error"}
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")


def test_usage_errors_without_json_keep_clicks_help(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["--db", sqlite_url, "claim", "abc"])
    assert result.exit_code == 2 and "Usage:" in result.stderr and result.stdout == ""


# --- item 15: validate ------------------------------------------------------------------------------------------


def test_validate_a_missing_file_is_not_found(sqlite_url: str, tmp_path: Path) -> None:
    code, out, err = cli(sqlite_url, "validate", str(tmp_path / "nope.bpmn"))
    assert code == 4 and "no such file" in err and "nope.bpmn" in err
    assert cli(sqlite_url, "init")[0] == 0
    code, out, err = cli(sqlite_url, "deploy", str(tmp_path / "nope.bpmn"))
    assert code == 4 and "no such file" in err


def test_validate_lists_problems_in_line_order(sqlite_url: str) -> None:
    """bad_dangling_flow.bpmn has an error (line 15) that SpiffWorkflow's parser finds before the lint
    warning of line 11."""
    code, out, err = cli(sqlite_url, "--json", "validate", str(DATA / "bad_dangling_flow.bpmn"))
    problems = json.loads(out)["problems"]
    assert code == 3 and [(p["line"], p["severity"]) for p in problems] == [(11, "warning"), (15, "error")]
    code, out, err = cli(sqlite_url, "validate", str(DATA / "bad_dangling_flow.bpmn"))
    assert ".bpmn:11: warning" in out and ".bpmn:15:" in err  # warnings on stdout, errors on stderr


# --- item 16: the task list says what it means ----------------------------------------------------------------


def test_task_list_names_who_completed_and_which_wait_on_a_suspended_instance(
    app: Handoff, db_url: str, started: int
) -> None:
    (first,) = app.show(started).tasks
    view = app.complete(first.id, data={"customer": "ACME", "amount": 100}, actor="cs")
    code, out, _ = cli(db_url, "tasks", "--all")
    completed_row = next(line for line in out.splitlines() if line.startswith(f"{first.id} "))
    assert " cs " in completed_row  # completed without a claim: who completed it
    app.suspend(started, actor="root")
    code, out, _ = cli(db_url, "tasks")
    (open_task,) = view.tasks
    row = next(line for line in out.splitlines() if line.startswith(f"{open_task.id} "))
    assert "ready (on hold)" in row
    listed = json.loads(cli(db_url, "--json", "tasks")[1])
    assert [t["on_hold"] for t in listed] == [True]
    code, out, _ = cli(db_url, "show", str(started))
    assert "handoff retry INSTANCE" not in out


def test_task_list_shows_enum_values_and_labels_but_not_simulation_hints(db_url: str, app: Handoff) -> None:
    app.deploy([EXAMPLE], actor="designer")
    view = app.start("order_to_cash", actor="web")
    app.complete(view.tasks[0].id, data={"customer": "ACME", "amount": 100}, actor="cs")
    listed = json.loads(cli(db_url, "--json", "tasks")[1])
    fields = [f for t in listed for f in t["form"]]
    assert fields and all("properties" not in f for f in fields)
    enums = [f for f in fields if f["type"] == "enum"]
    code, out, _ = cli(db_url, "tasks")
    for field in enums:
        values = "|".join(v["id"] for v in field["values"])
        assert f"{field['id']}{'*' if field['required'] else ''}:enum({values})" in out
    labelled = [f for f in fields if f["label"] != f["id"]]
    assert all(f'"{f["label"]}"' in out for f in labelled)


# --- item 18: a failing notify hook is one line, not a traceback -------------------------------------------


class Broken:
    @hookimpl
    def handoff_notify(self, events: object) -> None:
        raise RuntimeError("the mail server said no")


def test_a_failing_notify_hook_prints_no_traceback(sqlite_url: str, tmp_path: Path) -> None:
    script = tmp_path / "run.py"
    script.write_text(
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r}); sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from engine import Handoff\n"
        "from test_cli_newcomer import Broken\n"
        f"app = Handoff({sqlite_url!r}, plugins=[Broken()], load_entry_points=False)\n"
        "app.init()\n"
        f"app.deploy([{str(EXAMPLE)!r}], actor='d')\n"
        "print(app.start('order_to_cash', actor='web').status)\n"
    )
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "running"
    assert "Traceback" not in result.stderr
    assert "the mail server said no" in result.stderr and len(result.stderr.strip().splitlines()) <= 2


# --- item 24: times with their zone, to the second --------------------------------------------------------------


def test_times_name_their_zone_and_seconds(app: Handoff, db_url: str, started: int) -> None:
    code, out, _ = cli(db_url, "show", str(started))
    assert "started 2026-03-02 09:00:00 UTC" in out
    code, out, _ = cli(db_url, "tasks")
    assert "2026-03-02 09:00:00 UTC" in out


# --- item 25: exports to stdout, HTML kept off the terminal ---------------------------------------------------


def test_export_writes_to_stdout_without_out(app: Handoff, db_url: str, started: int) -> None:
    result = CliRunner().invoke(main, ["--db", db_url, "export", "--format", "csv"])
    assert result.exit_code == 0 and result.stdout.splitlines()[0].startswith("case")


def test_html_report_is_not_poured_onto_a_terminal(sqlite_url: str, tmp_path: Path) -> None:
    CliRunner().invoke(main, ["--db", sqlite_url, "init"])
    leader, follower = pty.openpty()
    env = dict(os.environ, HANDOFF_DB=sqlite_url, HANDOFF_USER="ann")
    exe = Path(sys.executable).with_name("handoff")
    command = [str(exe)] if exe.exists() else [sys.executable, str(ROOT / "cli.py")]
    proc = subprocess.run(
        [*command, "report", "--format", "html"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(follower)
    os.close(leader)
    assert proc.returncode == 2
    assert b"write it to a file with --out" in proc.stderr
    piped = subprocess.run(
        [*command, "report", "--format", "html"], capture_output=True, env=env, timeout=120, check=False
    )
    assert piped.returncode == 0 and piped.stdout.lstrip().startswith(b"<!DOCTYPE html")


# --- item 25: every version of a process -----------------------------------------------------------------


def test_processes_lists_every_version_with_its_instances(
    app: Handoff, db_url: str, started: int, tmp_path: Path
) -> None:
    changed = tmp_path / "order-to-cash.bpmn"
    changed.write_text(
        EXAMPLE.read_text().replace(
            'process id="order_to_cash" name="Order to Cash"',
            'process id="order_to_cash" name="Order to Cash, v2"',
        )
    )
    assert app.deploy([changed], actor="designer")[0].version == 2
    code, out, err = cli(db_url, "--json", "processes", "--versions")
    assert code == 0, err
    listed = [(v["process"], v["version"], v["name"], v["instances"]) for v in json.loads(out)]
    assert listed == [
        ("order_to_cash", 2, "Order to Cash, v2", 0),
        ("order_to_cash", 1, "Order to Cash", 1),
    ]
    code, out, _ = cli(db_url, "processes", "order_to_cash")
    assert code == 0 and out.splitlines()[0].split() == [
        "PROCESS", "VERSION", "NAME", "DEPLOYED", "BY", "INSTANCES", "SCRIPTS", "FILES"
    ]  # fmt: skip
    assert "order-to-cash.bpmn" in out.splitlines()[2] and " UTC " in out.splitlines()[2]
    latest = json.loads(cli(db_url, "--json", "processes")[1])
    assert [(p["process"], p["version"]) for p in latest] == [("order_to_cash", 2)]
    code, _, err = cli(db_url, "processes", "--versions", "nope")
    assert code == 4 and "process 'nope' is not deployed" in err


# --- item 23: progress on long work, on a terminal only ------------------------------------------------


def test_export_shows_progress_on_a_terminal_and_not_when_piped(
    app: Handoff, db_url: str, started: int, tmp_path: Path
) -> None:
    env = dict(os.environ, HANDOFF_DB=db_url, HANDOFF_USER="ann")
    exe = Path(sys.executable).with_name("handoff")
    command = [str(exe)] if exe.exists() else [sys.executable, str(ROOT / "cli.py")]
    events = app.export(open(os.devnull, "w"), "csv", schedule=True)  # noqa: SIM115 - counted, not kept
    assert events > 0
    leader, follower = pty.openpty()
    out = tmp_path / "log.csv"
    proc = subprocess.run(
        [*command, "export", "--format", "csv", "--schedule", "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
        timeout=120,
        check=False,
    )
    os.close(follower)
    shown = os.read(leader, 65536).decode()
    os.close(leader)
    assert proc.returncode == 0
    assert "exporting" in shown and f"{events}/{events}" in shown, shown
    assert out.read_text().count("\n") == events + 1  # the header and every event
    piped = subprocess.run(
        [*command, "export", "--format", "csv", "--schedule", "--out", str(out)],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert piped.returncode == 0 and piped.stderr == b""
    assert piped.stdout.decode().strip() == f"{events} events written to {out} (csv)"

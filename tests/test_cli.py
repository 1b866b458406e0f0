"""The command line: real processes for the operator's path, CliRunner for shapes and messages."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA, EXAMPLE, ROOT, handoff_command, table_rows


def handoff_exe() -> list[str]:
    return handoff_command()


def run(db_url: str, *args: str, user: str = "ann", check: bool = True) -> subprocess.CompletedProcess[str]:
    """One `handoff` invocation as its own OS process, as an operator would run it."""
    env = dict(os.environ, HANDOFF_DB=db_url, HANDOFF_USER=user)
    result = subprocess.run([*handoff_exe(), *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def run_json(db_url: str, *args: str, user: str = "ann"):
    return json.loads(run(db_url, "--json", *args, user=user).stdout)


def test_operators_drive_the_example_through_every_lane(db_url: str) -> None:
    assert "schema created" in run(db_url, "init").stdout
    deployed = run_json(db_url, "deploy", str(EXAMPLE), user="designer")
    assert deployed == [
        {
            "process": "order_to_cash",
            "version": 1,
            "new": True,
            "name": "Order to Cash",
            "lanes": ["Customer Service", "Sales", "Finance", "Warehouse"],
            "warnings": [],
            "trusted_scripts": False,
        }
    ]
    started = run_json(db_url, "start", "order_to_cash", "--key", "SO-77", user="web")
    assert {k: started[k] for k in ("process", "version", "status", "business_key")} == {
        "process": "order_to_cash",
        "version": 1,
        "status": "running",
        "business_key": "SO-77",
    }
    instance = started["id"]

    def only_task(lane: str) -> dict:
        tasks = run_json(db_url, "tasks", "--lane", lane)
        assert len(tasks) == 1, tasks
        return tasks[0]

    register = only_task("Customer Service")
    assert {f["id"]: f["required"] for f in register["form"]} == {
        "customer": True,
        "amount": True,
        "priority": False,
    }
    assert set(register) >= {
        "id",
        "instance",
        "process",
        "element",
        "name",
        "lane",
        "state",
        "assignee",
        "created_at",
        "due_at",
        "form",
    }
    run(db_url, "claim", str(register["id"]), user="ann")
    run(
        db_url,
        "complete",
        str(register["id"]),
        "--data",
        "customer=ACME",
        "--data",
        "amount=25000",
        user="ann",
    )

    approve = only_task("Finance")
    run(
        db_url,
        "complete",
        str(approve["id"]),
        "--data",
        "approved=false",
        "--data",
        "note=too big",
        user="fay",
    )
    revise = only_task("Sales")
    assert revise["name"] == "Revise order"
    run(db_url, "claim", str(revise["id"]), user="sam")
    run(db_url, "complete", str(revise["id"]), "--data", "amount=9000", user="sam")
    approve = only_task("Finance")
    run(db_url, "complete", str(approve["id"]), "--data", "approved=true", user="fay")
    invoice = only_task("Finance")
    pick = only_task("Warehouse")
    run(db_url, "complete", str(invoice["id"]), "--data", "invoice_number=INV-77", user="fay")
    run(db_url, "complete", str(pick["id"]), "--data", "packages=2", user="wes")
    ship = only_task("Warehouse")
    done = run_json(db_url, "complete", str(ship["id"]), "--data", "carrier=post", user="wes")
    assert done["status"] == "completed" and done["tasks"] == []
    assert (
        done["data"]["amount"] == 9000 and done["data"]["carrier"] == "post" and done["data"]["risk"] == "low"
    )

    story = run(db_url, "show", str(instance)).stdout
    assert f"instance {instance}  order_to_cash v1  COMPLETED  key=SO-77" in story
    for line in [
        "task completed Register order [Customer Service] by ann",
        "task completed Approve credit [Finance] by fay",
        "task completed Revise order [Sales] by sam",
        "task claimed Revise order [Sales] by sam",
        "task completed Pick and pack [Warehouse] by wes",
        "task completed Close order [Customer Service]",
        "instance completed",
    ]:
        assert line in story, story
    shown = run_json(db_url, "show", str(instance))
    assert shown["status"] == "completed" and len(shown["timeline"]) > 15
    listed = run_json(db_url, "instances", "--status", "completed")
    assert [i["id"] for i in listed] == [instance]


@pytest.fixture
def cli_db(db_url: str) -> str:
    runner = CliRunner()
    assert runner.invoke(main, ["--db", db_url, "init"]).exit_code == 0
    return db_url


def invoke(db: str, *args: str, user: str = "ann"):
    return CliRunner().invoke(main, ["--db", db, "--user", user, *args])


def test_every_command_help_has_an_example() -> None:
    runner = CliRunner()
    for name in main.commands:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0
        assert "Example:" in result.output and "handoff" in result.output, name


def test_commands_say_when_init_is_needed(db_url: str) -> None:
    result = invoke(db_url, "processes")
    assert result.exit_code == 7
    assert result.stderr.strip().endswith("run 'handoff init' first")
    assert len(result.stderr.strip().splitlines()) == 1


COMMANDS_ON_A_DATABASE = [
    ["processes"],
    ["tasks"],
    ["show", "1"],
    ["users", "add", "root", "--role", "admin"],
    ["deploy", str(EXAMPLE)],
    ["start", "order_to_cash"],
    ["report"],
    ["worker", "--once"],
    ["simulate", str(EXAMPLE), "-n", "2"],
    ["message", "payment received", "--key", "K1"],
]


def test_a_missing_database_is_named_and_never_created(db_url: str, tmp_path: Path) -> None:
    """Issue 14 item 14: a mistyped --db gives one line saying so and what creates it; only `init`
    (and `demo`) create a database file."""
    if db_url.startswith("sqlite"):
        missing_path = tmp_path / "mistyped.db"
        missing, says = f"sqlite:///{missing_path}", f"database file {missing_path} does not exist"
    else:
        missing, says = (
            db_url + "_mistyped",
            'database "' + db_url.rsplit("/", 1)[1] + '_mistyped" does not exist',
        )
    for argv in COMMANDS_ON_A_DATABASE:
        result = invoke(missing, *argv)
        assert result.exit_code == 7, (argv, result.output)
        [line] = result.stderr.splitlines()
        assert says in line, (argv, line)
    if db_url.startswith("sqlite"):
        assert line.endswith("to create it, run 'handoff init' first")
        assert list(tmp_path.iterdir()) == []  # no empty file left behind
        assert invoke(missing, "init").exit_code == 0
        assert missing_path.is_file() and invoke(missing, "processes").exit_code == 0


def test_validate_prints_file_line_message(cli_db: str) -> None:
    path = DATA / "refused_constructs.bpmn"
    result = invoke(cli_db, "validate", str(path))
    assert result.exit_code == 3
    assert f"{path}:5: complexGateway 'Pick some': complex gateways are not supported" in result.stderr
    ok = invoke(cli_db, "validate", str(EXAMPLE))
    assert ok.exit_code == 0 and ok.stdout.strip() == "ok: order_to_cash"
    as_json = json.loads(invoke(cli_db, "--json", "validate", str(DATA / "lint_findings.bpmn")).stdout)
    assert as_json["ok"] is True and [p["line"] for p in as_json["problems"]] == [5, 13, 13]


def test_a_pool_without_lanes_validates_without_warnings_and_names_its_tasks_lane(cli_db: str) -> None:
    path = DATA / "pool_without_lanes.bpmn"
    validated = invoke(cli_db, "validate", str(path))
    assert (validated.exit_code, validated.stdout, validated.stderr) == (0, "ok: pay_invoice\n", "")
    deployed = json.loads(invoke(cli_db, "--json", "deploy", str(path)).stdout)
    assert deployed[0]["warnings"] == []
    invoke(cli_db, "start", "pay_invoice")
    [task] = json.loads(invoke(cli_db, "--json", "tasks").stdout)
    assert (task["name"], task["lane"]) == ("Check invoice", "Accounts payable")


def test_text_output_reads_well(cli_db: str) -> None:
    assert "deployed as version 1" in invoke(cli_db, "deploy", str(EXAMPLE)).stdout
    assert "unchanged, still version 1" in invoke(cli_db, "deploy", str(EXAMPLE)).stdout
    procs = invoke(cli_db, "processes").stdout
    assert "order_to_cash" in procs and "Customer Service, Sales, Finance, Warehouse" in procs
    started = invoke(cli_db, "start", "order_to_cash", "--data-json", '{"channel": "phone"}').stdout
    assert "RUNNING" in started and "[1] Register order  (Customer Service) ready" in started
    tasks = invoke(cli_db, "tasks").stdout
    assert "customer*:string" in tasks and "priority:enum" in tasks
    assert "no open tasks" in invoke(cli_db, "tasks", "--lane", "Warehouse").stdout


def test_json_errors_go_to_both_streams(cli_db: str) -> None:
    result = invoke(cli_db, "--json", "complete", "99")
    assert result.exit_code == 4
    assert json.loads(result.stdout) == {"error": "task 99 does not exist (see 'handoff tasks')"}
    assert result.stderr == "error: task 99 does not exist (see 'handoff tasks')\n"


def test_bad_data_option_is_one_line(cli_db: str) -> None:
    invoke(cli_db, "deploy", str(EXAMPLE))
    result = invoke(cli_db, "start", "order_to_cash", "--data", "no-equals-sign")
    assert (
        result.exit_code == 2 and result.stderr == "error: --data expects KEY=VALUE, got 'no-equals-sign'\n"
    )


def test_demo_runs_and_names_the_bottleneck(tmp_path: Path) -> None:
    result = subprocess.run(
        [*handoff_exe(), "demo", "--instances", "20"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if k != "HANDOFF_DB"},
    )
    assert result.returncode == 0, result.stderr
    assert "Simulated 20 orders of order-to-cash" in result.stdout
    assert "Bottleneck: Finance" in result.stdout
    assert (tmp_path / "handoff-report.html").is_file()  # written next to the user
    assert not (tmp_path / "handoff.db").exists()  # a temporary database, not the user's


def test_demo_on_a_chosen_database_keeps_its_history(db_url: str, tmp_path: Path) -> None:
    result = invoke(db_url, "--json", "demo", "--instances", "8", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["simulation"]["started"] == 8 and summary["simulation"]["completed"] == 8
    assert summary["headline"]["waits_most"]["lane"]
    # The demo registered its people: reading the instances now needs one of them.
    listed = invoke(db_url, "--json", "instances", user="cleo")
    assert len(json.loads(listed.stdout)) == 8


def test_demo_says_how_to_look_at_it_in_the_browser(db_url: str, tmp_path: Path) -> None:
    """Issue 13 item 6: the demo ends with the `handoff serve` command on its database and a password made
    for this run, with which its analyst signs in and sees the dashboard of the demo's orders."""
    import httpx

    from tests.web_server import serve_process

    result = invoke(db_url, "demo", "--instances", "6", "--out", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    hint = result.stdout.splitlines()[-2:]
    assert hint[0] == f"Look at it in the browser: handoff --db {db_url} serve"
    password = hint[1].rsplit(" ", 1)[1]
    assert "sign in as cleo (the dashboard), fay (Finance's work) or ada (admin)" in hint[1]
    assert password.startswith("demo-") and len(password) > 10
    with serve_process(db_url) as (url, _process), httpx.Client(base_url=url, timeout=30) as browser:
        wrong = browser.post("/login", data={"username": "cleo", "password": "demo-guess", "next": "/"})
        assert wrong.status_code != 303
        signed = browser.post("/login", data={"username": "cleo", "password": password, "next": "/"})
        assert signed.status_code == 303, signed.text
        dashboard = browser.get("/dashboard")
        assert dashboard.status_code == 200 and "Finance" in dashboard.text


def test_a_temporary_demo_says_how_to_keep_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["demo", "--instances", "3", "--out", str(tmp_path / "r.html")], env={"HANDOFF_DB": None}
    )
    assert result.exit_code == 0, result.output
    assert "Look at it in the browser" not in result.stdout
    assert result.stdout.rstrip().endswith(
        "(the demo used a temporary database: --keep keeps it, --db URL chooses one; then it says how to look"
        " at it in the browser)"
    )


def test_demo_names_its_people_and_refuses_a_database_in_use(db_url: str, tmp_path: Path) -> None:
    """Issue 14 item 22: a second demo on the same database would silently add to the first one's figures
    (and on a database with people of its own, into their work); it refuses and changes nothing."""
    first = invoke(db_url, "demo", "--instances", "5", "--out", str(tmp_path / "r.html"))
    assert first.exit_code == 0, first.output
    assert "admin ada · designer dan · analyst cleo · web-shop starts the orders" in first.stdout
    assert (
        "operators: Customer Service ann · Sales sam · Finance fay, fred · Warehouse wes, wyn" in first.stdout
    )
    as_json = json.loads(invoke(db_url, "--user", "ada", "--json", "users", "list").stdout)
    assert {u["name"]: u["role"] for u in as_json}["ada"] == "admin"

    before = table_rows(db_url)
    again = invoke(db_url, "demo", "--instances", "5", "--out", str(tmp_path / "r2.html"))
    assert again.exit_code == 2
    assert again.stderr.splitlines() == [
        f"error: database {again_url(db_url)} already holds 5 instances (an earlier demo?): the demo starts "
        "from an empty database so that its figures are its own; name a new one with --db, or leave --db "
        "out for a temporary one"
    ]
    assert table_rows(db_url) == before and not (tmp_path / "r2.html").exists()


def test_demo_refuses_a_database_with_people_of_its_own(cli_db: str, tmp_path: Path) -> None:
    assert invoke(cli_db, "users", "add", "root", "--role", "admin").exit_code == 0
    before = table_rows(cli_db)
    refused = invoke(cli_db, "demo", "--instances", "5", "--out", str(tmp_path / "r.html"))
    assert refused.exit_code == 2 and "has users of its own" in refused.stderr
    assert table_rows(cli_db) == before


def again_url(db_url: str) -> str:
    """The URL as Handoff shows it (the PostgreSQL driver named, no password)."""
    return db_url.replace("postgresql://", "postgresql+psycopg://", 1)


def test_tests_run_the_handoff_of_the_interpreter_running_them(tmp_path: Path, monkeypatch) -> None:
    """Issue 14 item 20: a `handoff` first on PATH (another checkout's, an old install) is not the one under
    test; the one installed beside `sys.executable` is, else this checkout's cli.py."""
    impostor = tmp_path / "bin" / "handoff"
    impostor.parent.mkdir()
    impostor.write_text(f"#!/bin/sh\ntouch {tmp_path / 'impostor-ran'}\nexit 99\n")
    impostor.chmod(0o755)
    monkeypatch.setenv("PATH", f"{impostor.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    command = handoff_exe()
    beside = Path(sys.executable).parent / "handoff"
    assert command == ([str(beside)] if beside.is_file() else [sys.executable, str(ROOT / "cli.py")])
    result = subprocess.run([*command, "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "Handoff runs BPMN processes" in result.stdout
    assert not (tmp_path / "impostor-ran").exists()

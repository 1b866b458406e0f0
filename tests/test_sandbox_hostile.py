"""Uploaded code that a limit did not stop (issue 14, items 1 to 3 and 7), through the real `handoff`
command in a child process: a script that catches its own limit, raises SystemExit, or asks one C-level
operation for minutes now ends as an incident naming its task, and the child finishes well within its
timeout (which turns a hang into a failed test, never a hung suite).

Limits are small (0.5 s CPU, 64 MiB), as in tests/test_sandbox.py. Without the change each case below
either hangs (the timeout fails the test), exits 0 with nothing stored (SystemExit), or completes after
seconds of one C call (the incident the test expects is missing).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hostile_bpmn import (
    handoff,
    hostile_condition,
    hostile_decision,
    hostile_dmn,
    hostile_timer,
    kill_all,
    popen_handoff,
    routed_scripts,
    write,
)

from conftest import unchecked_deploys
from engine import Handoff
from storage import Database

# These tests show what the run-time sandbox does with code that reaches it: their versions are deployed
# as before the deploy-time check (tests/conftest.py `unchecked_deploys`).
pytestmark = pytest.mark.usefixtures("checked_at_run_time")

LIMITS = {"HANDOFF_SCRIPT_CPU_SECONDS": "0.5", "HANDOFF_SCRIPT_MEMORY_MIB": "64"}
CPU_TEXT = "CPU time limit (0.5 s)"
INT_TEXT = "an integer of more than 262144 bits"
DECIMAL_TEXT = "a Decimal of more than 20,000 digits"

# Item 1: code that catches the limit's exception. The three examples.
CATCHING = {
    "catch_finally": (
        "n = 0\nwhile True:\n    try:\n        while True:\n            n = n + 1\n    finally:\n        continue",
        CPU_TEXT,
    ),
    "recursive_finally": ("def f():\n    try:\n        f()\n    finally:\n        f()\n\nf()", CPU_TEXT),
    # Its `finally` would run when the generator is collected, after the script and outside every limit:
    # generator functions are refused, so it can never be left in the data.
    "generator_finally": (
        "def spin():\n    try:\n        yield 1\n    finally:\n        while True:\n            pass\n\n"
        "left = spin()\nnext(left)",
        "generator functions (yield) are not allowed",
    ),
    "except_base": (
        "n = 0\nwhile True:\n    try:\n        while True:\n            n = n + 1\n"
        "    except BaseException:\n        n = 0",
        CPU_TEXT,
    ),
    "with_statement": ("with open('x') as f:\n    pass", "with statements are not allowed"),
}
# Item 2: what would stop the process.
STOPPING = {
    "system_exit": ("raise SystemExit(0)", "ScriptStopped:SystemExit(0)"),
    "keyboard_interrupt": ("raise KeyboardInterrupt()", "ScriptStopped:KeyboardInterrupt"),
    "generator_exit": ("raise GeneratorExit()", "ScriptStopped:GeneratorExit"),
    "thrown_interrupt": ("(x for x in [1]).throw(KeyboardInterrupt)", "ScriptStopped:KeyboardInterrupt"),
}
# Item 3: one C-level operation past the CPU limit (48.5 s, 23.3 s and 5.7 s in the issue), and siblings.
C_LEVEL = {
    "decimal_to_int": ('x = int(Decimal("1e1000000"))', DECIMAL_TEXT),
    "decimal_of_huge_int": ('x = Decimal(int.from_bytes(b"\\xff" * 400000, "big"))', INT_TEXT),
    "round_far": ("x = round(1, -3 * 10**7)", INT_TEXT),
    "percent_d": ('x = "%d" % Decimal("1e1000000")', DECIMAL_TEXT),
    "integer_ratio": (
        'x = Decimal("1e999999999").as_integer_ratio()',
        "a Decimal of more than 20,000 digits",
    ),
    "hex_text": ('x = int("f" * 800000, 16)', INT_TEXT),
    "round_decimal": ('x = round(Decimal("9" * 400000))', DECIMAL_TEXT),
}
# Item 7: what the documented helpers should do, and what a builtin shows of itself.
WORKING = {
    "getattr_repr": 'shown = f"{getattr!r}"',
    "dates": (
        'year = datetime.datetime.now().strftime("%Y")\n'
        'parsed = datetime.datetime.strptime("2024-01-02", "%Y-%m-%d").date().isoformat()\n'
        'formatted = f"{date(2024, 1, 2):%d.%m.%Y}"\n'
        'day = date(2024, 1, 2).strftime("%A")'
    ),
}


def _routes() -> dict[str, str]:
    cases: dict[str, str] = {}
    for table in (CATCHING, STOPPING, C_LEVEL):
        cases.update({route: script for route, (script, _text) in table.items()})
    return cases | WORKING


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One SQLite database with the hostile processes deployed (in-process: only the attempts run as
    child processes)."""
    directory = tmp_path_factory.mktemp("hostile")
    url = f"sqlite:///{directory / 'handoff.db'}"
    app = Handoff(Database(url))
    try:
        with unchecked_deploys():
            app.init()
            app.deploy(
                [write(directory, "scripts.bpmn", routed_scripts("hostile_scripts", _routes()))], actor="dan"
            )
            bomb = 'int(Decimal("1e1000000")) > 0'
            app.deploy(
                [write(directory, "condition.bpmn", hostile_condition("hostile_condition", bomb))],
                actor="dan",
            )
            timer = '"PT%dS" % round(1, -3 * 10**7)'
            app.deploy([write(directory, "timer.bpmn", hostile_timer("hostile_timer", timer))], actor="dan")
            app.deploy(
                [
                    write(directory, "decision.bpmn", hostile_decision("hostile_decision", "bomb")),
                    write(directory, "bomb.dmn", hostile_dmn("bomb", 'Decimal(int("f" * 800000, 16))')),
                ],
                actor="dan",
            )
    finally:
        app.db.dispose()
    return url


def _failed_instance(url: str, result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The one error line of a failed `start` and the instance it names, as `show --json` gives it."""
    assert result.returncode == 6, (result.returncode, result.stdout, result.stderr[-2000:])
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line, line
    number = re.search(r"instance (\d+) is now in error", line)
    assert number is not None, line
    shown = handoff(url, "--json", "show", number.group(1), timeout=60)
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    view["line"] = line
    return view


@pytest.mark.parametrize("route", sorted(CATCHING) + sorted(C_LEVEL))
def test_a_limit_holds_against_code_that_catches_or_one_long_c_call(hostile_db: str, route: str) -> None:
    _script, expected = (CATCHING | C_LEVEL)[route]

    result = handoff(
        hostile_db, "start", "hostile_scripts", "--data", f"attempt={route}", env=LIMITS, timeout=90
    )

    view = _failed_instance(hostile_db, result)
    assert f"({route})" in view["line"] and expected in view["line"], view["line"]
    assert view["status"] == "error" and view["error"]["task"] == route
    assert expected in view["error"]["message"]
    assert "x" not in view["data"] and "left" not in view["data"]  # nothing the script made is kept


@pytest.mark.parametrize(
    ("process", "element", "expected"),
    [
        ("hostile_condition", "which", DECIMAL_TEXT),
        ("hostile_timer", "wait", INT_TEXT),
        ("hostile_decision", "decide", INT_TEXT),
    ],
)
def test_guards_hold_in_conditions_timers_and_decisions(
    hostile_db: str, process: str, element: str, expected: str
) -> None:
    """The guard's own refusal, not the CPU limit that strikes once the long C call has returned."""
    result = handoff(hostile_db, "start", process, env=LIMITS, timeout=90)

    view = _failed_instance(hostile_db, result)
    assert view["error"]["task"] == element, view["error"]
    assert "ScriptLimitExceeded" in view["line"] and expected in view["line"], view["line"]
    assert CPU_TEXT not in view["line"]


def test_documented_helpers_work_and_builtins_show_no_internals(hostile_db: str) -> None:
    shown = handoff(
        hostile_db, "--json", "start", "hostile_scripts", "--data", "attempt=getattr_repr", env=LIMITS
    )
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["data"]["shown"] == "<built-in function getattr>"

    dates = handoff(hostile_db, "--json", "start", "hostile_scripts", "--data", "attempt=dates", env=LIMITS)
    assert dates.returncode == 0, dates.stderr
    data = json.loads(dates.stdout)["data"]
    assert data["year"] == str(datetime.now(UTC).year)
    assert (data["parsed"], data["formatted"], data["day"]) == ("2024-01-02", "02.01.2024", "Tuesday")


@pytest.mark.parametrize("route", sorted(STOPPING))
def test_code_that_would_stop_the_process_is_an_incident(tmp_path: Path, db_url: str, route: str) -> None:
    """Through `handoff start` on both databases: exit code 6, the instance stored in error (before:
    exit 0 with nothing stored), and the next instance runs."""
    script, expected = STOPPING[route]
    app = Handoff(Database(db_url))
    try:
        app.init()
        app.deploy(
            [write(tmp_path, "stop.bpmn", routed_scripts("stopping", {route: script}, review=False))],
            actor="dan",
        )
    finally:
        app.db.dispose()

    result = handoff(db_url, "start", "stopping", "--data", f"attempt={route}", env=LIMITS, timeout=90)

    view = _failed_instance(db_url, result)
    assert expected in view["line"] and "uploaded code may not stop the process" in view["line"]
    assert view["error"]["task"] == route
    after = handoff(db_url, "--json", "start", "stopping", "--data", "attempt=none", env=LIMITS, timeout=90)
    assert after.returncode == 0 and json.loads(after.stdout)["status"] == "completed", after.stderr


def test_trusted_code_is_held_by_the_cpu_limit_and_the_operation_budget(
    tmp_path: Path, sqlite_url: str
) -> None:
    """`--trusted-scripts` is full Python, yet `except Exception:` cannot swallow the CPU limit, a blocked
    call ends at the operation's budget, and `sys.exit()` is an incident."""
    routes = {
        "swallow": "while True:\n    try:\n        while True:\n            pass\n    except Exception:\n        pass",
        "sleep": "import time\ntime.sleep(600)",
        "exit": "import sys\nsys.exit(3)",
    }
    app = Handoff(Database(sqlite_url))
    try:
        app.init()
        bpmn = write(tmp_path, "trusted.bpmn", routed_scripts("trusted_hostile", routes, review=False))
        app.deploy([bpmn], actor="root", trusted_scripts=True)
    finally:
        app.db.dispose()
    env = LIMITS | {"HANDOFF_OPERATION_SECONDS": "3"}
    expected = {
        "swallow": CPU_TEXT,
        "sleep": "the operation ran longer than its time budget (3 s, HANDOFF_OPERATION_SECONDS)",
        "exit": "ScriptStopped:SystemExit(3)",
    }
    for route, text in expected.items():
        result = handoff(
            sqlite_url, "start", "trusted_hostile", "--data", f"attempt={route}", env=env, timeout=90
        )
        view = _failed_instance(sqlite_url, result)
        assert view["error"]["task"] == route and text in view["line"], view["line"]


def test_a_real_ctrl_c_stops_the_command_and_stores_nothing(tmp_path: Path, sqlite_url: str) -> None:
    """A KeyboardInterrupt that a script raises is an incident; a real Ctrl-C is the person's: the
    command stops and nothing of the operation is stored."""
    app = Handoff(Database(sqlite_url))
    try:
        app.init()
        busy = "n = 0\nwhile True:\n    n = n + 1"
        app.deploy(
            [write(tmp_path, "busy.bpmn", routed_scripts("busy", {"busy": busy}, review=False))], actor="dan"
        )
    finally:
        app.db.dispose()
    child = popen_handoff(
        sqlite_url, "start", "busy", "--data", "attempt=busy", env={"HANDOFF_SCRIPT_CPU_SECONDS": "30"}
    )
    try:
        # Imports and the database take about a second of CPU time; past 2.5 s the script is running.
        deadline = time.monotonic() + 60
        while _cpu_seconds(child.pid) < 2.5 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        child.send_signal(signal.SIGINT)
        _out, err = child.communicate(timeout=60)
    finally:
        if child.returncode is None:
            kill_all(child)
    assert child.returncode != 0 and "Traceback" not in err, err
    listed = handoff(sqlite_url, "--json", "instances", timeout=60)
    assert json.loads(listed.stdout) == [], listed.stdout


def _cpu_seconds(pid: int) -> float:
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

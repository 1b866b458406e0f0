"""Work that grew without bound in one operation (issue 14, item 4): instances per multi-instance
activity, branches, call depth, processes and elements per upload, and the wall-clock budget of one
operation. Each is a setting with a default (bpmn/definition_limits.py, docs/hostile-input.md); a file
that states too much is refused at validation, data that asks for too much is an incident naming the
task. Through the real CLI in a child process whose timeout turns the old hang into a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile_bpmn import (
    calls_itself,
    handoff,
    many_processes,
    multi_instance,
    multi_instance_over,
    parallel_branches,
    routed_scripts,
    write,
)

from conftest import table_rows
from engine import Handoff
from storage import Database

LIMITS = {"HANDOFF_SCRIPT_CPU_SECONDS": "0.5", "HANDOFF_SCRIPT_MEMORY_MIB": "64"}


def _one_line_error(result_stderr: str) -> str:
    line = result_stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line, line[-2000:]
    return line


@pytest.fixture
def empty_db(db_url: str) -> str:
    app = Handoff(Database(db_url))
    try:
        app.init()
    finally:
        app.db.dispose()
    return db_url


def test_an_upload_of_twenty_thousand_processes_is_refused_at_once(tmp_path: Path, empty_db: str) -> None:
    """Before: not deployed after 25 minutes, holding SQLite's write lock all along."""
    path = write(tmp_path, "many.bpmn", many_processes(20_000))
    assert path.stat().st_size > 3_000_000
    before = table_rows(empty_db)

    result = handoff(empty_db, "deploy", str(path), timeout=120)

    assert result.returncode == 3, result.stderr[-2000:]
    line = _one_line_error(result.stderr)
    assert "the upload holds 20,000 processes, more than the limit of 50 (HANDOFF_MAX_PROCESSES)" in line
    assert table_rows(empty_db) == before


STATED = {
    "branches": (
        lambda: parallel_branches("wide", 2_000),
        "2,000 sequence flows leave element 'fork', more than the limit of 100 (HANDOFF_MAX_BRANCHES)",
    ),
    "cardinality": (
        lambda: multi_instance("many", "100000000", sequential=True),
        "scriptTask 'each' would run 100000000 instances, more than the limit of 1,000 (HANDOFF_MAX_MULTI_INSTANCE)",
    ),
}


@pytest.mark.parametrize("case", sorted(STATED))
def test_a_file_that_states_too_much_work_is_refused_at_validation(tmp_path: Path, case: str) -> None:
    build, expected = STATED[case]
    path = write(tmp_path, f"{case}.bpmn", build())

    result = handoff(f"sqlite:///{tmp_path / 'none.db'}", "validate", str(path), timeout=120)

    assert result.returncode == 3, (result.stdout, result.stderr[-2000:])
    assert expected in result.stdout + result.stderr, (result.stdout, result.stderr)


def test_the_bounds_are_settings(tmp_path: Path, sqlite_url: str) -> None:
    wide = write(tmp_path, "wide.bpmn", parallel_branches("wide", 150))
    refused = handoff(sqlite_url, "validate", str(wide), timeout=120)
    assert refused.returncode == 3 and "more than the limit of 100" in refused.stdout + refused.stderr
    allowed = handoff(sqlite_url, "validate", str(wide), env={"HANDOFF_MAX_BRANCHES": "200"}, timeout=120)
    assert allowed.returncode == 0, (allowed.stdout, allowed.stderr)
    bad = handoff(sqlite_url, "validate", str(wide), env={"HANDOFF_MAX_BRANCHES": "lots"}, timeout=120)
    assert (
        bad.returncode != 0
        and "HANDOFF_MAX_BRANCHES='lots' must be a whole number" in bad.stdout + bad.stderr
    )


def _deploy(url: str, tmp_path: Path, name: str, text: str) -> None:
    app = Handoff(Database(url))
    try:
        app.deploy([write(tmp_path, name, text)], actor="dan")
    finally:
        app.db.dispose()


def _incident(url: str, stderr: str) -> dict[str, object]:
    line = _one_line_error(stderr)
    number = line.split("instance ")[-1].split(" ")[0]
    view: dict[str, object] = json.loads(handoff(url, "--json", "show", number, timeout=60).stdout)
    view["line"] = line
    return view


@pytest.mark.parametrize("sequential", [True, False], ids=["sequential", "parallel"])
def test_a_multi_instance_activity_asking_for_too_many_instances_is_an_incident(
    tmp_path: Path, empty_db: str, sequential: bool
) -> None:
    """Cardinality 10**8 from the data: before, a sequential one hung `start` and a parallel one ran
    out of memory."""
    _deploy(empty_db, tmp_path, "many.bpmn", multi_instance("many", "n", sequential=sequential))

    result = handoff(empty_db, "start", "many", "--data-json", '{"n": 100000000}', env=LIMITS, timeout=180)

    assert result.returncode == 6, result.stderr[-2000:]
    view = _incident(empty_db, result.stderr)
    assert "Each (each)" in str(view["line"])
    assert "would run more than 1,000 instances (HANDOFF_MAX_MULTI_INSTANCE)" in str(view["line"])
    assert view["status"] == "error"


def test_a_multi_instance_over_a_long_collection_is_an_incident(tmp_path: Path, sqlite_url: str) -> None:
    app = Handoff(Database(sqlite_url))
    try:
        app.init()
    finally:
        app.db.dispose()
    _deploy(sqlite_url, tmp_path, "over.bpmn", multi_instance_over("over", "orders"))
    data = json.dumps({"orders": list(range(5000))})

    result = handoff(sqlite_url, "start", "over", "--data-json", data, env=LIMITS, timeout=180)

    assert result.returncode == 6, result.stderr[-2000:]
    assert (
        "Each item (each) failed: the multi-instance activity would run more than 1,000 instances"
        in result.stderr
    )


def test_the_multi_instance_bound_is_a_setting(tmp_path: Path, sqlite_url: str) -> None:
    app = Handoff(Database(sqlite_url))
    try:
        app.init()
    finally:
        app.db.dispose()
    _deploy(sqlite_url, tmp_path, "few.bpmn", multi_instance("few", "n", sequential=False))
    env = LIMITS | {"HANDOFF_MAX_MULTI_INSTANCE": "5"}
    refused = handoff(sqlite_url, "start", "few", "--data-json", '{"n": 6}', env=env, timeout=120)
    assert refused.returncode == 6 and "more than 5 instances" in refused.stderr, refused.stderr[-2000:]
    allowed = handoff(sqlite_url, "--json", "start", "few", "--data-json", '{"n": 5}', env=env, timeout=120)
    assert allowed.returncode == 0 and json.loads(allowed.stdout)["status"] == "completed", allowed.stderr


def test_a_process_calling_itself_is_an_incident(tmp_path: Path, empty_db: str) -> None:
    """Before: `start` hung at 100% CPU."""
    _deploy(empty_db, tmp_path, "recurse.bpmn", calls_itself("recurse"))

    result = handoff(empty_db, "start", "recurse", env=LIMITS, timeout=180)

    assert result.returncode == 6, result.stderr[-2000:]
    view = _incident(empty_db, result.stderr)
    assert "nested more than 10 deep (HANDOFF_MAX_CALL_DEPTH): does a process call itself?" in str(
        view["line"]
    )
    assert view["status"] == "error"


def test_an_operation_past_its_time_budget_is_an_incident(tmp_path: Path, empty_db: str) -> None:
    """Each script stays within its CPU limit, but the operation as a whole runs past its wall-clock
    budget: it stops at the next step, as an incident that names the task."""
    busy = "total = 0\nfor i in range(3000000):\n    total = total + i"
    text = routed_scripts("slow_steps", {"busy": busy}, review=False).replace(
        '<bpmn:scriptTask id="busy" name="Hostile busy" scriptFormat="python">',
        '<bpmn:scriptTask id="busy" name="Hostile busy" scriptFormat="python">'
        '<bpmn:multiInstanceLoopCharacteristics isSequential="true"><bpmn:loopCardinality>200'
        "</bpmn:loopCardinality></bpmn:multiInstanceLoopCharacteristics>",
    )
    _deploy(empty_db, tmp_path, "slow.bpmn", text)
    env = {"HANDOFF_SCRIPT_CPU_SECONDS": "5", "HANDOFF_OPERATION_SECONDS": "3"}

    result = handoff(empty_db, "start", "slow_steps", "--data", "attempt=busy", env=env, timeout=180)

    assert result.returncode == 6, result.stderr[-2000:]
    view = _incident(empty_db, result.stderr)
    assert "the operation ran longer than its time budget (3 s, HANDOFF_OPERATION_SECONDS)" in str(
        view["line"]
    )
    assert view["status"] == "error"

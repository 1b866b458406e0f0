"""What a script leaves in the data (issue 14, item 5) is held to the rules of people's input: JSON types
(and the helpers' dates and Decimals), 64 KiB per string, 20 levels, 64-bit whole numbers, 1 MiB for what
one script assigned. Each case below used to end as a `TypeError: ... not JSON serializable` or
`RecursionError` traceback, a value silently stored as its `repr`, or gigabytes of memory and database;
now each is an incident naming the task, and nothing of it is stored. Through the real CLI in a child
process, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hostile_bpmn import handoff, routed_scripts, write

from conftest import DATA
from engine import Handoff, ScriptFailed
from storage import Database

NOT_DATA = "which cannot be stored as task data"
# route -> (script, what the incident says)
LEFT_IN_DATA = {
    "a_set": ("x = {1, 2}", f"variable 'x' is a set, {NOT_DATA}"),
    "generator": ("x = (i for i in range(3))", f"variable 'x' is a generator, {NOT_DATA}"),
    "complex_number": ("x = complex(1, 2)", f"variable 'x' is a complex number, {NOT_DATA}"),
    "exception": ('x = ValueError("boom")', f"variable 'x' is an exception (ValueError), {NOT_DATA}"),
    "self_reference": ("x = []\nx.append(x)", "variable 'x[0]' refers to itself"),
    "helper": ("x = datetime", f"variable 'x' is the sandbox's date and time helper, {NOT_DATA}"),
    "function_in_list": ("x = [lambda: 1]", "variable 'x[0]' is a function or callable"),
    "deep_list": (
        "x = []\ny = x\nfor i in range(200000):\n    y.append([])\n    y = y[0]",
        "is nested deeper than 20 levels",
    ),
    "huge_string": ('x = "x" * (200 * 1024 * 1024)', "variable 'x' is a string of 209,715,200 bytes"),
    "not_a_number": ('x = float("nan")', "not a finite number"),
    "beyond_64_bits": ("x = 2**70", "variable 'x' is a whole number beyond 64 bits"),
    "number_keys": ('x = {1: "one"}', "variable 'x' has a key that is not text"),
    "escape_sequence": ('x = "\\x1b]0;owned\\x07"', "variable 'x' contains a control character"),
    "over_a_mebibyte": ('x = ["y" * 60000 for i in range(20)]', "more than the limit of 1 MiB"),
    "changed_in_place": ("items.append({1, 2})", "variable 'items[2]' is a set"),
    "grown_in_place": (
        'for i in range(300):\n    items.append("y" * 60000)',
        "changed is more than the limit of 1 MiB",
    ),
}
# The 200 MiB string is made within a 512 MiB script memory cap, in a child whose whole address space
# is 1 GiB: before, storing such a string took several times its size and failed with a traceback.
ENV = {"HANDOFF_SCRIPT_CPU_SECONDS": "5", "HANDOFF_SCRIPT_MEMORY_MIB": "512"}
CEILING = 1 << 30


@pytest.fixture
def output_db(tmp_path: Path, db_url: str) -> str:
    app = Handoff(Database(db_url))
    try:
        app.init()
        routes = {route: script for route, (script, _) in LEFT_IN_DATA.items()}
        app.deploy([write(tmp_path, "output.bpmn", routed_scripts("leaves_data", routes))], actor="dan")
        four = {f"bomb{i}": f'big{i} = "x" * (200 * 1024 * 1024)' for i in range(4)}
        app.deploy([write(tmp_path, "four.bpmn", _in_sequence("four_bombs", four))], actor="dan")
    finally:
        app.db.dispose()
    return db_url


def _in_sequence(pid: str, scripts: dict[str, str]) -> str:
    """Script tasks one after the other, then a user task."""
    from hostile_bpmn import BPMN_HEAD

    names = list(scripts)
    body = '    <bpmn:startEvent id="start" />\n'
    body += f'    <bpmn:sequenceFlow id="f_start" sourceRef="start" targetRef="{names[0]}" />\n'
    for i, name in enumerate(names):
        after = names[i + 1] if i + 1 < len(names) else "review"
        body += (
            f'    <bpmn:scriptTask id="{name}" name="Make {name}"><bpmn:script>{scripts[name]}</bpmn:script>'
            f'</bpmn:scriptTask>\n    <bpmn:sequenceFlow id="f_{name}" sourceRef="{name}" targetRef="{after}" />\n'
        )
    body += '    <bpmn:userTask id="review" name="Review" />\n'
    body += '    <bpmn:sequenceFlow id="f_review" sourceRef="review" targetRef="end" />\n    <bpmn:endEvent id="end" />\n'
    return (
        BPMN_HEAD.format(pid=pid)
        + f'  <bpmn:process id="{pid}" isExecutable="true">\n{body}  </bpmn:process>\n</bpmn:definitions>\n'
    )


def _incident(url: str, result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 6, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line and "Traceback" not in line, line[-2000:]
    found = re.search(r"instance (\d+) is now in error", line)
    assert found is not None, line
    shown = handoff(url, "--json", "show", found.group(1), timeout=60)
    assert shown.returncode == 0, shown.stderr
    view: dict[str, Any] = json.loads(shown.stdout)
    view["line"] = line
    return view


@pytest.mark.parametrize("route", sorted(LEFT_IN_DATA))
def test_what_a_script_leaves_in_the_data_is_checked(output_db: str, route: str) -> None:
    _script, expected = LEFT_IN_DATA[route]
    data = json.dumps({"attempt": route, "items": ["a", "b"]})

    result = handoff(
        output_db, "start", "leaves_data", "--data-json", data, env=ENV, timeout=120, address_space=CEILING
    )

    view = _incident(output_db, result)
    assert f"Hostile {route} ({route})" in view["line"] and expected in view["line"], view["line"][-600:]
    assert view["status"] == "error" and view["error"]["task"] == route
    assert view["error"]["type"] == "ScriptOutputInvalid" or "ScriptOutputInvalid" in view["error"]["message"]
    # Nothing of it was stored: the data is what the instance was started with.
    assert view["data"] == {"attempt": route, "items": ["a", "b"]}, str(view["data"])[:300]
    assert view["tasks"] == []  # the review was never reached


def test_memory_stays_bounded_when_scripts_keep_making_huge_strings(output_db: str) -> None:
    """Four scripts each leaving 200 MiB used to reach 4.2 GB: the first one is the incident now, in a
    child whose address space is 1 GiB."""
    result = handoff(output_db, "start", "four_bombs", env=ENV, timeout=120, address_space=CEILING)

    view = _incident(output_db, result)
    assert view["error"]["task"] == "bomb0" and "209,715,200 bytes" in view["line"]
    assert not {"big0", "big1"} & set(view["data"])


def test_a_trusted_script_is_held_to_the_same_rules(tmp_path: Path, db_url: str) -> None:
    """Trusted scripts are full Python, but what they leave in the data, assigned or changed in place,
    must be storable too; `retry` fails the same way."""
    app = Handoff(Database(db_url))
    try:
        app.init()
        routes = {"trusted_set": "import math\nitems.append({math.pi})"}
        bpmn = write(tmp_path, "trusted.bpmn", routed_scripts("trusted_leaves", routes))
        app.deploy([bpmn], actor="root", trusted_scripts=True)
    finally:
        app.db.dispose()
    data = json.dumps({"attempt": "trusted_set", "items": ["a"]})

    result = handoff(db_url, "start", "trusted_leaves", "--data-json", data, env=ENV, timeout=120)

    view = _incident(db_url, result)
    assert view["error"]["task"] == "trusted_set" and "variable 'items[1]' is a set" in view["line"]
    assert view["data"] == {"attempt": "trusted_set", "items": ["a"]}
    again = handoff(db_url, "retry", str(view["id"]), timeout=120)
    assert again.returncode == 6 and "variable 'items[1]' is a set" in again.stderr, again.stderr[-2000:]


def test_what_any_task_leaves_is_checked_after_the_engine_steps(db_url: str, clock: Any) -> None:
    """A task whose data comes from elsewhere than a script (here a service task handler returning a
    set and a generator) is checked after the operation's engine steps: an incident naming it, the task
    taken back so that the stored state holds nothing unstorable, and a retry fails the same way."""
    results: list[Any] = [{"credit_score": {1, 2}}, {"credit_score": (i for i in range(3))}]

    def score(_call: Any) -> dict[str, Any]:
        return results[0]

    app = Handoff(Database(db_url), clock=clock, services={"score_credit": score}, load_entry_points=False)
    try:
        app.init()
        app.deploy([DATA / "service_spiff.bpmn"], actor="dan")
        with pytest.raises(
            ScriptFailed, match=r"Score credit \(score\).*variable 'credit_score' is a set"
        ) as failed:
            app.start("credit_check", data={"amount": 1}, actor="web")
        instance = failed.value.instance_id or 0
        view = app.show(instance)
        assert view.status == "error" and view.error is not None and view.error["task"] == "score"
        assert "credit_score" not in view.data
        results.pop(0)
        with pytest.raises(ScriptFailed, match="variable 'credit_score' is a generator"):
            app.retry(instance, actor="root")
        assert app.show(instance).status == "error"
    finally:
        app.db.dispose()

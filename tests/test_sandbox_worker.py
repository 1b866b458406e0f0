"""Hostile scripts reached by a worker (issue 14, items 1 and 2): `handoff worker --concurrency 2` keeps
working while such instances exist, records each as an incident, runs the instances after them, and
stops on SIGTERM. Before, a script that caught its CPU limit held the SQLite write lock forever (the
other child died with `database is locked`, SIGTERM did nothing) and `raise SystemExit(0)` ended every
worker that reached it.

Each instance waits on a one-second timer, then its `attempt` picks the script. The worker runs as a
real process; the test waits for the instances to settle (bounded), then sends SIGTERM.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from hostile_bpmn import BPMN_HEAD, handoff, kill_all, popen_handoff, write

from engine import Handoff
from storage import Database

SCRIPTS = {
    "catch_finally": "n = 0\nwhile True:\n    try:\n        while True:\n            n = n + 1\n    finally:\n        continue",
    "recursive_finally": "def f():\n    try:\n        f()\n    finally:\n        f()\n\nf()",
    "system_exit": "raise SystemExit(0)",
    "keyboard_interrupt": "raise KeyboardInterrupt()",
    "generator_exit": "raise GeneratorExit()",
}
ENV = {"HANDOFF_SCRIPT_CPU_SECONDS": "0.5", "HANDOFF_SCRIPT_MEMORY_MIB": "64"}


def _after_timer() -> str:
    routes = "".join(
        f'    <bpmn:sequenceFlow id="to_{r}" sourceRef="which" targetRef="{r}"><bpmn:conditionExpression>'
        f'attempt == "{r}"</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
        f'    <bpmn:scriptTask id="{r}" name="Hostile {r}"><bpmn:script>{s}</bpmn:script></bpmn:scriptTask>\n'
        f'    <bpmn:sequenceFlow id="{r}_done" sourceRef="{r}" targetRef="end" />\n'
        for r, s in SCRIPTS.items()
    )
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />\n'
        '    <bpmn:intermediateCatchEvent id="wait" name="One second"><bpmn:timerEventDefinition>'
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1S"</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
        '    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="which" />\n'
        '    <bpmn:exclusiveGateway id="which" default="to_release" />\n'
        '    <bpmn:sequenceFlow id="to_release" sourceRef="which" targetRef="release" />\n'
        '    <bpmn:scriptTask id="release" name="Release"><bpmn:script>released = True</bpmn:script></bpmn:scriptTask>\n'
        '    <bpmn:sequenceFlow id="released" sourceRef="release" targetRef="end" />\n'
        f"{routes}"
        '    <bpmn:endEvent id="end" />\n'
    )
    return (
        BPMN_HEAD.format(pid="after_timer")
        + f'  <bpmn:process id="after_timer" isExecutable="true">\n{body}  </bpmn:process>\n</bpmn:definitions>\n'
    )


def test_worker_keeps_working_past_hostile_scripts_and_stops_on_sigterm(tmp_path: Path, db_url: str) -> None:
    app = Handoff(Database(db_url))
    try:
        app.init()
        app.deploy([write(tmp_path, "after_timer.bpmn", _after_timer())], actor="dan")
        # Hostile instances first, plain ones between and after them: the next instances still run.
        attempts = [a for pair in zip(SCRIPTS, ["none"] * len(SCRIPTS), strict=True) for a in pair] + ["none"]
        ids = {app.start("after_timer", data={"attempt": a}, actor="ops").id: a for a in attempts}
    finally:
        app.db.dispose()

    worker = popen_handoff(db_url, "worker", "--concurrency", "2", "--interval", "0.2", env=ENV)
    try:
        statuses = _wait_until_settled(db_url, set(ids), timeout=120)
        assert worker.poll() is None, (
            "the worker stopped by itself: " + (worker.communicate()[1] or "")[-2000:]
        )
        worker.send_signal(signal.SIGTERM)
        out, err = worker.communicate(timeout=60)  # stops, instead of hanging on a script
    finally:
        if worker.returncode is None:  # not stopped by SIGTERM: end it and its children
            kill_all(worker)
    assert worker.returncode == 0, err[-3000:]
    assert "Traceback" not in err and "database is locked" not in err, err[-3000:]
    for instance, attempt in ids.items():
        expected = "completed" if attempt == "none" else "error"
        assert statuses[instance] == expected, (instance, attempt, statuses)
    shown = {i: json.loads(handoff(db_url, "--json", "show", str(i), timeout=60).stdout) for i in ids}
    for instance, attempt in ids.items():
        if attempt != "none":
            assert shown[instance]["error"]["task"] == attempt, shown[instance]["error"]
    assert "uploaded code may not stop the process" in out
    assert "CPU time limit (0.5 s)" in out


def _wait_until_settled(url: str, ids: set[int], timeout: float) -> dict[int, str]:
    """Poll `instances --json` until every instance left `waiting`; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    statuses: dict[int, str] = {}
    while time.monotonic() < deadline:
        listed = handoff(url, "--json", "instances", timeout=60)
        if listed.returncode == 0:
            statuses = {row["id"]: row["status"] for row in json.loads(listed.stdout) if row["id"] in ids}
            if len(statuses) == len(ids) and all(s in ("completed", "error") for s in statuses.values()):
                return statuses
        time.sleep(1)
    pytest.fail(f"instances did not settle in {timeout:.0f} s: {statuses}")

"""Hostile uploads for the sandbox tests: real BPMN and DMN files written to disk, and the real `handoff`
command run in a child process under a wall-clock timeout and an outer address-space ceiling, so that a
limit that does not hold fails the test instead of hanging the suite or starving the machine.

The files are built here rather than kept in tests/data because each test needs a few lines of hostile
Python in an otherwise ordinary process: the builders keep the ordinary part in one place.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape

from conftest import ROOT

BPMN_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
    'id="Defs_{pid}" targetNamespace="http://handoff.example/tests/hostile">\n'
)
OUTER_ADDRESS_SPACE = 3 << 30  # reached only if the sandbox's own memory cap or size checks are gone


def _definitions(pid: str, body: str, name: str = "") -> str:
    label = f' name="{escape(name, {chr(34): "&quot;"})}"' if name else ""
    return (
        BPMN_HEAD.format(pid=pid)
        + f'  <bpmn:process id="{pid}"{label} isExecutable="true">\n{body}  </bpmn:process>\n</bpmn:definitions>\n'
    )


def routed_scripts(pid: str, routes: Mapping[str, str], *, review: bool = True, name: str = "") -> str:
    """A process whose data field `attempt` picks one script task (id = the route's name) to run; any
    other value runs `done = True`. With `review`, a user task follows, so that what a script left in
    the data must be stored with the waiting instance."""
    after = "review" if review else "end"
    parts = [
        '    <bpmn:startEvent id="start" />\n',
        '    <bpmn:sequenceFlow id="to_which" sourceRef="start" targetRef="which" />\n',
        '    <bpmn:exclusiveGateway id="which" default="to_plain" />\n',
        '    <bpmn:scriptTask id="plain" name="Plain work"><bpmn:script>done = True</bpmn:script></bpmn:scriptTask>\n',
        '    <bpmn:sequenceFlow id="to_plain" sourceRef="which" targetRef="plain" />\n',
        f'    <bpmn:sequenceFlow id="plain_done" sourceRef="plain" targetRef="{after}" />\n',
    ]
    for route, script in routes.items():
        parts.append(
            f'    <bpmn:sequenceFlow id="to_{route}" sourceRef="which" targetRef="{route}">'
            f'<bpmn:conditionExpression xsi:type="bpmn:tFormalExpression">attempt == "{route}"'
            "</bpmn:conditionExpression></bpmn:sequenceFlow>\n"
            f'    <bpmn:scriptTask id="{route}" name="Hostile {route}" scriptFormat="python">'
            f"<bpmn:script>{escape(script)}</bpmn:script></bpmn:scriptTask>\n"
            f'    <bpmn:sequenceFlow id="{route}_done" sourceRef="{route}" targetRef="{after}" />\n'
        )
    if review:
        parts.append('    <bpmn:userTask id="review" name="Review" />\n')
        parts.append('    <bpmn:sequenceFlow id="reviewed" sourceRef="review" targetRef="end" />\n')
    parts.append('    <bpmn:endEvent id="end" />\n')
    return _definitions(pid, "".join(parts), name)


def hostile_condition(pid: str, condition: str) -> str:
    """A gateway whose one conditional flow carries `condition`; the default flow ends at once."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="which" />\n'
        '    <bpmn:exclusiveGateway id="which" name="Which way?" default="plain" />\n'
        f'    <bpmn:sequenceFlow id="hostile" sourceRef="which" targetRef="flagged"><bpmn:conditionExpression '
        f'xsi:type="bpmn:tFormalExpression">{escape(condition)}</bpmn:conditionExpression></bpmn:sequenceFlow>\n'
        '    <bpmn:sequenceFlow id="plain" sourceRef="which" targetRef="end" />\n'
        '    <bpmn:scriptTask id="flagged" name="Flagged"><bpmn:script>flagged = True</bpmn:script></bpmn:scriptTask>\n'
        '    <bpmn:sequenceFlow id="f2" sourceRef="flagged" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def hostile_timer(pid: str, expression: str) -> str:
    """An intermediate timer whose duration is the Python expression `expression`."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />\n'
        '    <bpmn:intermediateCatchEvent id="wait" name="Wait"><bpmn:timerEventDefinition><bpmn:timeDuration '
        f'xsi:type="bpmn:tFormalExpression">{escape(expression)}</bpmn:timeDuration>'
        "</bpmn:timerEventDefinition></bpmn:intermediateCatchEvent>\n"
        '    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def hostile_decision(pid: str, decision: str) -> str:
    """A business rule task that looks `decision` up (the DMN file of `hostile_dmn`)."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="decide" />\n'
        f'    <bpmn:businessRuleTask id="decide" name="Decide" camunda:decisionRef="{decision}" />\n'
        '    <bpmn:sequenceFlow id="f2" sourceRef="decide" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def hostile_dmn(decision: str, input_expression: str) -> str:
    """A decision table of one rule whose input expression is `input_expression`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="Defs_dmn" name="Hostile" '
        'namespace="http://handoff.example/tests/hostile">\n'
        f'  <decision id="{decision}" name="Hostile decision">\n'
        '    <decisionTable id="table" hitPolicy="FIRST">\n'
        '      <input id="in1" label="Input"><inputExpression id="in1_expr" typeRef="number">'
        f"<text>{escape(input_expression)}</text></inputExpression></input>\n"
        '      <output id="out1" label="Result" name="result" typeRef="number" />\n'
        '      <rule id="r1"><inputEntry id="r1_in"><text>&gt; 0</text></inputEntry>'
        '<outputEntry id="r1_out"><text>1</text></outputEntry></rule>\n'
        "    </decisionTable>\n  </decision>\n</definitions>\n"
    )


def multi_instance(pid: str, cardinality: str, *, sequential: bool) -> str:
    """A script task run `cardinality` times (a number or an expression over the data)."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each" />\n'
        '    <bpmn:scriptTask id="each" name="Each">\n'
        f'      <bpmn:multiInstanceLoopCharacteristics isSequential="{"true" if sequential else "false"}">'
        f"<bpmn:loopCardinality>{escape(cardinality)}</bpmn:loopCardinality>"
        "</bpmn:multiInstanceLoopCharacteristics>\n"
        "      <bpmn:script>x = 1</bpmn:script>\n    </bpmn:scriptTask>\n"
        '    <bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def multi_instance_over(pid: str, collection: str) -> str:
    """A parallel multi-instance script task over the data field `collection`."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each" />\n'
        '    <bpmn:scriptTask id="each" name="Each item">\n'
        f"      <bpmn:multiInstanceLoopCharacteristics><bpmn:loopDataInputRef>{collection}</bpmn:loopDataInputRef>"
        '<bpmn:loopDataOutputRef>results</bpmn:loopDataOutputRef><bpmn:inputDataItem id="item" name="item" />'
        '<bpmn:outputDataItem id="result" name="result" /></bpmn:multiInstanceLoopCharacteristics>\n'
        "      <bpmn:script>result = item</bpmn:script>\n    </bpmn:scriptTask>\n"
        '    <bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def parallel_branches(pid: str, branches: int) -> str:
    """A parallel gateway with `branches` script tasks, joined again."""
    tasks = "".join(
        f'    <bpmn:scriptTask id="t{i}"><bpmn:script>x{i} = {i}</bpmn:script></bpmn:scriptTask>'
        f'<bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="t{i}" />'
        f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join" />\n'
        for i in range(branches)
    )
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />\n'
        '    <bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />\n'
        f"{tasks}"
        '    <bpmn:sequenceFlow id="f2" sourceRef="join" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def calls_itself(pid: str) -> str:
    """A process whose call activity calls the process itself."""
    body = (
        '    <bpmn:startEvent id="start" />\n'
        '    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again" />\n'
        f'    <bpmn:callActivity id="again" name="Do it all again" calledElement="{pid}" />\n'
        '    <bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="end" />\n'
        '    <bpmn:endEvent id="end" />\n'
    )
    return _definitions(pid, body)


def many_processes(count: int) -> str:
    """One file holding `count` small processes (start, task, end)."""
    processes = "".join(
        f'  <bpmn:process id="p{i}" isExecutable="true"><bpmn:startEvent id="s{i}" /><bpmn:task id="t{i}" '
        f'name="Task {i}" /><bpmn:endEvent id="e{i}" /><bpmn:sequenceFlow id="a{i}" sourceRef="s{i}" '
        f'targetRef="t{i}" /><bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="e{i}" /></bpmn:process>\n'
        for i in range(count)
    )
    return BPMN_HEAD.format(pid="many") + processes + "</bpmn:definitions>\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def _ceiling(size: int) -> Callable[[], None]:
    def set_ceiling() -> None:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    return set_ceiling


_outer_ceiling = _ceiling(OUTER_ADDRESS_SPACE)


def handoff(
    url: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 120,
    address_space: int = OUTER_ADDRESS_SPACE,
) -> subprocess.CompletedProcess[str]:
    """The real `handoff` command in a child process (raises subprocess.TimeoutExpired past `timeout`),
    its address space at most `address_space` bytes."""
    environment = dict(os.environ, HANDOFF_DB=url, HANDOFF_USER="ops", **(env or {}))
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=timeout,
        preexec_fn=_ceiling(address_space),
        check=False,
    )


def popen_handoff(url: str, *args: str, env: Mapping[str, str] | None = None) -> subprocess.Popen[str]:
    """The real `handoff` command running in the background (a worker), its output in pipes, in a
    session of its own so that `kill_all` ends its worker children too."""
    environment = dict(os.environ, HANDOFF_DB=url, HANDOFF_USER="ops", **(env or {}))
    return subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment,
        cwd=ROOT,
        preexec_fn=_outer_ceiling,
        start_new_session=True,
    )


def kill_all(child: subprocess.Popen[str]) -> None:
    """End a background `handoff` and every process it started (a worker's children would otherwise
    keep running, and keep its output pipes open)."""
    import contextlib
    import signal

    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(child.pid, signal.SIGKILL)
    child.communicate(timeout=60)

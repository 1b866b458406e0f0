"""Work that grows in one operation (issue 14, item 4; docs/hostile-input.md "Work bounds").

Measures, in one process on a fresh SQLite file each:
  - growth: seconds to start an instance of a sequential and a parallel multi-instance script task of
    N instances, and of a parallel gateway of N branches, with the bounds lifted (the shape of the curve
    is SpiffWorkflow's: it re-scans the task tree after every step);
  - bounded: seconds until Handoff refuses or stops what the issue reported (a cardinality of 10,000 and
    10**8 from the data, 2,000 branches, a process calling itself, 20,000 processes in one upload) with
    the default bounds.

    python benchmarks/work_bounds.py            # the default sizes (a few minutes on 2 cores)
    python benchmarks/work_bounds.py --quick    # smaller sizes
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions '
    'xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="D" targetNamespace="http://x">'
)


def _process(pid: str, body: str) -> str:
    return f'{HEAD}<bpmn:process id="{pid}" isExecutable="true">{body}</bpmn:process></bpmn:definitions>'


def multi_instance(cardinality: str, sequential: bool) -> str:
    return _process(
        "mi",
        '<bpmn:startEvent id="start" /><bpmn:scriptTask id="each"><bpmn:multiInstanceLoopCharacteristics '
        f'isSequential="{str(sequential).lower()}"><bpmn:loopCardinality>{cardinality}</bpmn:loopCardinality>'
        "</bpmn:multiInstanceLoopCharacteristics><bpmn:script>x = 1</bpmn:script></bpmn:scriptTask>"
        '<bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="each" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="each" targetRef="end" />',
    )


def branches(n: int) -> str:
    tasks = "".join(
        f'<bpmn:scriptTask id="t{i}"><bpmn:script>x{i} = 1</bpmn:script></bpmn:scriptTask>'
        f'<bpmn:sequenceFlow id="a{i}" sourceRef="fork" targetRef="t{i}" />'
        f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="join" />'
        for i in range(n)
    )
    return _process(
        "par",
        '<bpmn:startEvent id="start" /><bpmn:parallelGateway id="fork" /><bpmn:parallelGateway id="join" />'
        f'{tasks}<bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fork" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="join" targetRef="end" />',
    )


def calls_itself() -> str:
    return _process(
        "recurse",
        '<bpmn:startEvent id="start" /><bpmn:callActivity id="again" calledElement="recurse" />'
        '<bpmn:endEvent id="end" /><bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="again" />'
        '<bpmn:sequenceFlow id="f2" sourceRef="again" targetRef="end" />',
    )


def many_processes(n: int) -> str:
    return (
        HEAD
        + "".join(
            f'<bpmn:process id="p{i}" isExecutable="true"><bpmn:startEvent id="s{i}" /><bpmn:task id="t{i}" />'
            f'<bpmn:endEvent id="e{i}" /><bpmn:sequenceFlow id="a{i}" sourceRef="s{i}" targetRef="t{i}" />'
            f'<bpmn:sequenceFlow id="b{i}" sourceRef="t{i}" targetRef="e{i}" /></bpmn:process>'
            for i in range(n)
        )
        + "</bpmn:definitions>"
    )


def _timed(text: str, process: str | None, data: dict[str, object] | None = None) -> tuple[float, str]:
    """Seconds to deploy `text` (process None) or to start `process` after deploying it; and the outcome."""
    from bpmn.definition_limits import reset_work_bounds
    from engine import Handoff
    from engine.runtime import sandbox
    from storage import Database

    reset_work_bounds()
    sandbox.configure(None)
    folder = Path(tempfile.mkdtemp())
    path = folder / "x.bpmn"
    path.write_text(text)
    app = Handoff(Database(f"sqlite:///{folder / 'h.db'}"))
    try:
        app.init()
        began = time.perf_counter()
        if process is None:
            try:
                app.deploy([path], actor="bench")
                outcome = "deployed"
            except Exception as exc:  # noqa: BLE001 - the refusal is the outcome measured
                outcome = f"refused: {str(exc)[:90]}"
            return time.perf_counter() - began, outcome
        app.deploy([path], actor="bench")
        began = time.perf_counter()
        try:
            outcome = app.start(process, data=data or {}, actor="bench").status
        except Exception as exc:  # noqa: BLE001 - the incident is the outcome measured
            outcome = f"incident: {str(exc)[:90]}"
        return time.perf_counter() - began, outcome
    finally:
        app.db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args()
    sizes = [250, 500] if args.quick else [1000, 3000]
    widths = [100, 200] if args.quick else [200, 500]
    results: dict[str, list[dict[str, object]]] = {"growth": [], "bounded": []}

    lifted = {"HANDOFF_MAX_MULTI_INSTANCE": "100000", "HANDOFF_MAX_BRANCHES": "100000"}
    os.environ.update(lifted)
    for n in sizes:
        for sequential in (True, False):
            seconds, outcome = _timed(multi_instance(str(n), sequential), "mi")
            kind = "sequential" if sequential else "parallel"
            results["growth"].append(
                {"case": f"{kind} multi-instance of {n}", "seconds": round(seconds, 2), "outcome": outcome}
            )
    for n in widths:
        seconds, outcome = _timed(branches(n), "par")
        results["growth"].append(
            {"case": f"parallel gateway of {n} branches", "seconds": round(seconds, 2), "outcome": outcome}
        )
    for key in lifted:
        del os.environ[key]

    cases: list[tuple[str, str, str | None, dict[str, object] | None]] = [
        ("sequential cardinality 10,000 from the data", multi_instance("n", True), "mi", {"n": 10_000}),
        ("sequential cardinality 10**8 from the data", multi_instance("n", True), "mi", {"n": 10**8}),
        ("parallel cardinality 10**8 from the data", multi_instance("n", False), "mi", {"n": 10**8}),
        ("a gateway of 2,000 branches (deploy)", branches(2000), None, None),
        ("a process calling itself", calls_itself(), "recurse", None),
        ("20,000 processes in one upload (deploy)", many_processes(20_000), None, None),
    ]
    for label, text, process, data in cases:
        seconds, outcome = _timed(text, process, data)
        results["bounded"].append({"case": label, "seconds": round(seconds, 2), "outcome": outcome})

    if args.json:
        print(json.dumps(results, indent=2))
        return
    for section, rows in results.items():
        print(f"{section}:")
        for row in rows:
            print(f"  {row['case']:<48} {row['seconds']:>8.2f} s  {row['outcome']}")


if __name__ == "__main__":
    main()

"""The corpus: real BPMN files nobody on this team wrote, run through Handoff (docs/conformance.md).

Every file bare SpiffWorkflow 3.2 completed (`../shared/corpus/stock-spiffworkflow.csv`: `stock_run` =
completed, `flows_without_id` = 0) must deploy, start, and complete with every task completed on its
form's defaults; what a waiting instance waits for is given to it as the stock run gave it: its messages
and signals through `Handoff.message` / `Handoff.signal`, its timers by moving the clock and firing the
due work (`corpus.fire_due_work`). The files
stock SpiffWorkflow "completed" only because it dropped their id-less sequence flows must never be reported
completed after a false run: they run correctly, or stop, or are refused with a clear message.

A deterministic sample runs by default; HANDOFF_CORPUS=all (set by CI) runs every file. One SQLite database
serves the whole module. `python3 tests/corpus.py --table` prints EXPECTED_FAILURES for the engine as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import corpus
import pytest

from conftest import CORPUS, IN_CI
from engine import Handoff, ManualClock
from storage import Database

pytestmark = pytest.mark.corpus

RUN_ALL = os.environ.get("HANDOFF_CORPUS", "").strip().lower() == "all"
STOCK_COMPLETED = 1383  # stock_run = completed, flows_without_id = 0
IDLESS_COMPLETED = 674  # stock_run = completed only because id-less flows were dropped


def _by_cause(table: dict[str, tuple[str, ...]]) -> dict[str, str]:
    return {path: cause for cause, paths in table.items() for path in paths}


# Files that fail for a known cause (path -> cause; docs/conformance.md lists them). An entry that starts
# passing fails the suite (strict xfail): regenerate with `python3 tests/corpus.py --table`.
EXPECTED_FAILURES: dict[str, str] = _by_cause(
    {
        "expression error at run time: '5a6e4844d49369fb6d8468897a7cf9436f3b4086'": (
            "sample-process-models/misc/test/a425/A.4.2.5.bpmn",
        ),
        "refused by policy: compensation": (
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidSubProcessWithCompensationStartEvent.bpmn",
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidTransactionWithCompensationStartEvent.bpmn",
        ),
        "refused by policy: link events": (
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/event/link/LinkEventTest.testInvalidEventLinkMultipleTargets.bpmn20.xml",
        ),
        "refused: a call activity's version given by an expression or a version tag (Camunda beans)": (
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/callactivity/CallActivityAdvancedTest.testCallProcessByVersionAsDelegateExpression.bpmn20.xml",
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/callactivity/CallActivityAdvancedTest.testCallProcessByVersionAsExpression.bpmn20.xml",
            "camunda-bpm-platform/qa/integration-tests-engine/src/test/resources/org/camunda/bpm/integrationtest/functional/cdi/CdiCallActivityVersionTagTest.bpmn20.xml",
        ),
        "refused: a Camunda expression calling a Java bean cannot be translated": (
            "camunda-bpm-platform/qa/integration-tests-engine/src/test/resources/org/camunda/bpm/integrationtest/functional/cdi/CdiBeanCallActivityResolutionTest.callingProcessConditionalFlow.bpmn20.xml",
        ),
        "refused: error or escalation start event outside an event subprocess (Camunda's own negative tests)": (
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidSubProcessWithErrorStartEvent.bpmn",
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidSubProcessWithEscalationStartEvent.bpmn",
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidTransactionWithErrorStartEvent.bpmn",
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/parse/BpmnParseTest.testInvalidTransactionWithEscalationStartEvent.bpmn",
        ),
        # The sandbox refuses these scripts on purpose (docs/security.md): TC-S reads /etc/passwd, TC-4.0
        # imports `time` (it runs when an admin deploys it with --trusted-scripts).
        "refused by the script sandbox: an import (runs when deployed with --trusted-scripts)": (
            "sample-process-models/misc/test/tc-40/TC-4.0.bpmn",
        ),
        "refused by the script sandbox: open()": ("sample-process-models/misc/test/tc-s/TC-S.bpmn",),
        "refused: a message without a name": (
            "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/bpmn/event/message/MessageIntermediateEventTest.testEmptyMessageNameFails.bpmn20.xml",
        ),
        "refused: invalid diagram (a sequence flow without sourceRef)": (
            "spiff-example-cli/bpmn/tutorial/timer_start.bpmn",
        ),
        "refused: invalid multi-instance (SpiffWorkflow's own negative test)": (
            "SpiffWorkflow/tests/SpiffWorkflow/bpmn/data/parallel_multiinstance_invalid.bpmn",
        ),
        "refused: the process has no id": (
            "camunda-bpm-platform/model-api/bpmn-model/src/test/resources/org/camunda/bpm/model/bpmn/GenerateIdTest.bpmn",
        ),
    }
)


def _selection() -> tuple[list[corpus.Row], list[corpus.Row]]:
    if not CORPUS.exists():
        return [], []
    stock, idless = corpus.stock_completed(corpus.rows())
    if RUN_ALL:
        return stock, idless
    return corpus.sample(stock, corpus.SAMPLE_SIZE), corpus.sample(idless, corpus.SAMPLE_IDLESS)


STOCK, IDLESS = _selection()


def _params(rows: list[corpus.Row]) -> list[object]:
    params = []
    for row in rows:
        reason = EXPECTED_FAILURES.get(row.path)
        marks = pytest.mark.xfail(strict=True, reason=reason) if reason else ()
        params.append(pytest.param(row, id=row.path, marks=marks))
    return params


def _need_corpus() -> None:
    if not CORPUS.exists():
        if IN_CI:
            pytest.fail(f"CI=true but the corpus is missing at {CORPUS}")
        pytest.skip(f"no corpus at {CORPUS}")


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handoff]:
    """One Handoff over one SQLite file for every file of the module: fast enough to run all of them."""
    _need_corpus()
    path: Path = tmp_path_factory.mktemp("corpus") / "corpus.db"
    app = Handoff(Database(f"sqlite:///{path}"), clock=ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC)))
    app.init()
    yield app
    app.db.dispose()


@pytest.mark.parametrize("row", _params(STOCK))
def test_stock_completed_file_runs_through_handoff(corpus_app: Handoff, row: corpus.Row) -> None:
    run = corpus.run_file(corpus_app, row.file)
    problem = corpus.verdict(row, run)
    assert problem is None, f"{row.path}: {problem}"


@pytest.mark.parametrize("row", _params(IDLESS))
def test_idless_flows_file_is_never_completed_falsely(corpus_app: Handoff, row: corpus.Row) -> None:
    run = corpus.run_file(corpus_app, row.file)
    problem = corpus.verdict(row, run)
    assert problem is None, f"{row.path}: {problem}"


def test_selection_is_the_one_the_issue_counts() -> None:
    _need_corpus()
    stock, idless = corpus.stock_completed(corpus.rows())
    assert (len(stock), len(idless)) == (STOCK_COMPLETED, IDLESS_COMPLETED)
    selected = {r.path for r in stock} | {r.path for r in idless}
    assert sorted(set(EXPECTED_FAILURES) - selected) == []
    sample = corpus.sample(stock, corpus.SAMPLE_SIZE)
    assert len(sample) == corpus.SAMPLE_SIZE and {r.source for r in sample} == {r.source for r in stock}


def test_shortest_run_counts_activities_on_the_diagram(tmp_path: Path) -> None:
    """The yardstick for completed runs: flows count as drawn, with or without ids."""
    bpmn = tmp_path / "p.bpmn"
    bpmn.write_text(
        '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL">'
        '<process id="p"><startEvent id="s"/><sequenceFlow sourceRef="s" targetRef="a"/><userTask id="a"/>'
        '<sequenceFlow sourceRef="a" targetRef="g"/><exclusiveGateway id="g"/>'
        '<sequenceFlow sourceRef="g" targetRef="b"/><sequenceFlow sourceRef="g" targetRef="e"/>'
        '<task id="b"/><sequenceFlow sourceRef="b" targetRef="e"/><endEvent id="e"/></process>'
        '<process id="q"><startEvent id="s2"/><sequenceFlow sourceRef="s2" targetRef="a2"/><userTask id="a2"/>'
        '<boundaryEvent id="x" attachedToRef="a2"/><sequenceFlow sourceRef="a2" targetRef="c2"/><task id="c2"/>'
        '</process><process id="r"><startEvent id="s3"/><callActivity id="c" calledElement="q"/></process>'
        "</definitions>"
    )
    found = corpus.shape(bpmn)
    # p: a, then straight to e. q: c2 is an implicit end (2), the boundary event x one that cancels a2 (0).
    # r: its start event has no outgoing flow. q is called by r, so p and r are the roots.
    assert found.min_path == {"p": 1, "q": 0, "r": 0}
    assert found.roots == ("p", "r")


def test_forms_are_filled_with_defaults_and_required_values_only() -> None:
    assert corpus.form_data(
        [
            {"id": "n", "type": "long", "required": True, "default": None},
            {"id": "k", "type": "enum", "required": True, "default": None, "values": [{"id": "v1"}]},
            {"id": "d", "type": "string", "required": True, "default": "given"},
            {"id": "o", "type": "string", "required": False, "default": None},
        ]
    ) == {"n": 1, "k": "v1"}

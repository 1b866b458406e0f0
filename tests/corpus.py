"""Run corpus files through Handoff the way the stock SpiffWorkflow harness ran them (tests/test_corpus.py).

`stock-spiffworkflow.csv` says what bare SpiffWorkflow 3.2 did with each file of `../shared/corpus`. This
module selects the files it completed, deploys each one through Handoff, starts its root processes,
completes every human task with its form's defaults, and says how the instance ended.
"""

from __future__ import annotations

import csv
import heapq
import re
import time
import traceback
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.util.task import TaskState

from bpmn.inspect import ACTIVITY_TAGS, CONTAINER_TAGS, FLOW_NODE_TAGS, NS, is_bpmn, local
from conftest import CORPUS
from engine import DefinitionInvalid, Handoff, HandoffError, InstanceView, ManualClock, ScriptFailed

CSV = CORPUS / "stock-spiffworkflow.csv"
PUBLIC = CORPUS / "public"

# Constructs (the CSV's `constructs` column) for which the stock run moved the clock or sent an event; the
# runner does the same through Handoff (`_feed`). The counts of docs/conformance.md group files by them.
# Not `conditional`: all 12 such files complete without waiting (docs/conformance.md).
WAIT_CONSTRUCTS = frozenset({"timer", "message", "signal", "receive", "msgflow", "evt-GW"})

BPMN = NS["bpmn"]
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
MAX_TASKS_PER_INSTANCE = 500
MAX_WAITS_PER_INSTANCE = 50  # messages, signals and timers given to one instance (cycle timers never end)
SAMPLE_SIZE = 60
SAMPLE_IDLESS = 12


@dataclass(frozen=True)
class Row:
    path: str
    parser: str
    stock_run: str
    coverage: str
    flows_without_id: int
    constructs: frozenset[str]

    @property
    def file(self) -> Path:
        return PUBLIC / self.path

    @property
    def source(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def needs_wait(self) -> bool:
        return bool(self.constructs & WAIT_CONSTRUCTS)


def rows() -> list[Row]:
    with CSV.open(newline="", encoding="utf-8") as fh:
        return [
            Row(
                path=r["path"],
                parser=r["parser"],
                stock_run=r["stock_run"],
                coverage=r["coverage"],
                flows_without_id=int(r["flows_without_id"] or 0),
                constructs=frozenset(c.strip() for c in r["constructs"].split(",") if c.strip()),
            )
            for r in csv.DictReader(fh)
        ]


def stock_completed(all_rows: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """(files stock SpiffWorkflow truly completed, files it 'completed' only by dropping id-less flows)."""
    done = [r for r in all_rows if r.stock_run == "completed"]
    return [r for r in done if r.flows_without_id == 0], [r for r in done if r.flows_without_id > 0]


def sample(selected: list[Row], size: int) -> list[Row]:
    """A deterministic sample spread over every source: the same files on every machine."""
    by_source: dict[str, list[Row]] = defaultdict(list)
    for r in sorted(selected, key=lambda r: (zlib.crc32(r.path.encode()), r.path)):
        by_source[r.source].append(r)
    picked: list[Row] = []
    while len(picked) < min(size, len(selected)):
        for source in sorted(by_source):
            if by_source[source] and len(picked) < size:
                picked.append(by_source[source].pop(0))
    return sorted(picked, key=lambda r: r.path)


# --- what the file says ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileShape:
    executable: tuple[str, ...]  # executable process ids, in document order
    roots: tuple[str, ...]  # those no call activity of the file calls: what a run starts
    min_path: dict[str, int]  # process id -> fewest activities a run must complete to end it


def shape(path: Path) -> FileShape:
    root = etree.parse(str(path), _PARSER).getroot()
    processes = [p for p in root if is_bpmn(p, "process") and p.get("id")]
    executable = tuple(p.get("id", "") for p in processes if p.get("isExecutable", "true").lower() != "false")
    called = {c.get("calledElement") for c in root.iter(f"{{{BPMN}}}callActivity") if c.get("calledElement")}
    roots = tuple(p for p in executable if p not in called)
    return FileShape(executable, roots, {p.get("id", ""): _min_activities(p) for p in processes})


def _min_activities(container: etree._Element) -> int:
    """Fewest activities a run must complete to get from a start event of `container` to an end.

    Read from the XML's sourceRef/targetRef, so id-less flows count as drawn. An end is an end event or a
    flow node without outgoing flows (BPMN's implicit end). Leaving an activity by its outgoing flow costs
    1 (it completed); leaving it by a boundary event costs 0 (it may have been cancelled). Event
    subprocesses are not entry points. -1 when no end can be reached.
    """
    nodes = {
        n.get("id"): n for n in container if is_bpmn(n) and local(n.tag) in FLOW_NODE_TAGS and n.get("id")
    }
    edges: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for flow in container.iterfind("bpmn:sequenceFlow", NS):
        src, dst = flow.get("sourceRef"), flow.get("targetRef")
        if src in nodes and dst in nodes:
            edges[src].append((dst, 1 if local(nodes[src].tag) in ACTIVITY_TAGS else 0))
    ends = {nid for nid, n in nodes.items() if local(n.tag) == "endEvent" or nid not in edges}
    for nid, n in nodes.items():
        if local(n.tag) == "boundaryEvent" and n.get("attachedToRef") in nodes:
            edges[n.get("attachedToRef", "")].append((nid, 0))
    queue = [(0, nid) for nid, n in nodes.items() if local(n.tag) == "startEvent"]
    best: dict[str, int] = {}
    while queue:
        cost, nid = heapq.heappop(queue)
        if nid in best:
            continue
        best[nid] = cost
        for dst, step in edges.get(nid, ()):
            if dst not in best:
                heapq.heappush(queue, (cost + step, dst))
    reached = [
        best[nid] + (1 if local(nodes[nid].tag) in ACTIVITY_TAGS else 0) for nid in ends if nid in best
    ]
    return min(reached) if reached else -1


# --- the files a file needs -------------------------------------------------------------------------

_SOURCE_INDEX: dict[Path, tuple[dict[str, list[Path]], dict[str, list[Path]]]] = {}


def _source_root(path: Path) -> Path:
    return PUBLIC / path.relative_to(PUBLIC).parts[0] if path.is_relative_to(PUBLIC) else path.parent


def _index(source: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(process id -> BPMN files, decision id -> DMN files) of one corpus source, built once."""
    if source not in _SOURCE_INDEX:
        processes: dict[str, list[Path]] = defaultdict(list)
        decisions: dict[str, list[Path]] = defaultdict(list)
        for f in sorted(source.rglob("*")):
            if not f.name.lower().endswith((".bpmn", ".xml", ".dmn")) or not f.is_file():
                continue
            try:
                root = etree.parse(str(f), _PARSER).getroot()
            except (etree.LxmlError, OSError):
                continue
            for node in root:
                if not isinstance(node.tag, str) or not node.get("id"):
                    continue
                if is_bpmn(node, "process"):
                    processes[node.get("id", "")].append(f)
                elif local(node.tag) == "decision":
                    decisions[node.get("id", "")].append(f)
        _SOURCE_INDEX[source] = (processes, decisions)
    return _SOURCE_INDEX[source]


def _references(root: etree._Element) -> tuple[set[str], set[str], set[str]]:
    """(process ids defined, process ids called, decision ids referenced) by one document."""
    defined = {p.get("id", "") for p in root if is_bpmn(p, "process")}
    called = {c.get("calledElement", "") for c in root.iter(f"{{{BPMN}}}callActivity")}
    decisions = set()
    for task in root.iter(f"{{{BPMN}}}businessRuleTask"):
        for attr, value in task.attrib.items():
            if attr.endswith("}decisionRef"):
                decisions.add(value)
        for ref in task.iter():  # spiffworkflow:calledDecisionId, or a decisionId attribute
            if isinstance(ref.tag, str) and local(ref.tag) == "calledDecisionId" and ref.text:
                decisions.add(ref.text.strip())
            elif isinstance(ref.tag, str) and ref.get("decisionId"):
                decisions.add(ref.get("decisionId", ""))
    return defined, called - {""}, decisions - {""}


# Where a called name is defined in several files and the heuristic below picks another one than the
# source's own test deploys with the file (its @Deployment), the source's choice.
KNOWN_COMPANIONS: dict[str, tuple[str, ...]] = {
    # camunda StatisticsTest.java: @Deployment(resources = {...testCallActivityStatisticsQuery.bpmn20.xml,
    # ...testStatisticsQueryWithFailedJobs.bpmn20.xml})
    "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/api/mgmt/"
    "StatisticsTest.testCallActivityStatisticsQuery.bpmn20.xml": (
        "camunda-bpm-platform/engine/src/test/resources/org/camunda/bpm/engine/test/api/mgmt/"
        "StatisticsTest.testStatisticsQueryWithFailedJobs.bpmn20.xml",
    ),
}


def companions(path: Path) -> list[Path]:
    """The files that define the processes and decisions `path` calls, transitively.

    Call activities and business rule tasks name what they call, and the stock run found those names in
    other files of the same source. Handoff deploys them together with the file, as `handoff deploy`
    takes a process with the files it calls. A name defined in several files: the nearest file to the
    caller (longest common folder), then one named after it, then the first by path.
    """
    if path.is_relative_to(PUBLIC) and str(path.relative_to(PUBLIC)) in KNOWN_COMPANIONS:
        return [PUBLIC / p for p in KNOWN_COMPANIONS[str(path.relative_to(PUBLIC))]]
    wanted: list[Path] = [path]
    defined: set[str] = set()
    taken: set[str] = set()
    i = 0
    while i < len(wanted):
        try:
            root = etree.parse(str(wanted[i]), _PARSER).getroot()
        except (etree.LxmlError, OSError):
            i += 1
            continue
        own, called, decided = _references(root)
        defined |= own
        taken |= _containers(wanted[i])
        if not (called - defined or decided):
            i += 1
            continue
        processes, decisions = _index(_source_root(path))
        needed = [(pid, processes.get(pid, [])) for pid in sorted(called - defined)]
        needed += [(did, decisions.get(did, [])) for did in sorted(decided)]
        for name, candidates in needed:
            if candidates and not any(c in wanted for c in candidates):
                wanted.append(_nearest(path, name, candidates, taken))
        i += 1
    return wanted[1:]


def _nearest(path: Path, name: str, candidates: list[Path], taken: set[str]) -> Path:
    """The likeliest file for `name` among several: no id clash with the files already chosen (SpiffWorkflow
    needs process and subprocess ids unique), in the caller's folder or the nearest one, named after
    `name`, sharing most words with the caller's file name, then the smallest."""
    words = _words(path.name)

    def rank(c: Path) -> tuple[int, int, int, int, int, str]:
        common = 0
        for a, b in zip(c.parent.parts, path.parent.parts, strict=False):
            if a != b:
                break
            common += 1
        clash = 1 if _containers(c) & taken else 0
        named = 0 if c.name.split(".")[0] == name else 1
        return (clash, -common, named, -len(words & _words(c.name)), c.stat().st_size, str(c))

    return min(candidates, key=rank)


def _words(file_name: str) -> set[str]:
    stem = file_name.split(".bpmn")[0].split(".dmn")[0]
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", stem))
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w} - {"bpmn", "bpmn20", "xml", "dmn"}


def _containers(path: Path) -> set[str]:
    """Ids of the processes and embedded subprocesses of a file: SpiffWorkflow keys specs by them."""
    try:
        root = etree.parse(str(path), _PARSER).getroot()
    except (etree.LxmlError, OSError):
        return set()
    return {n.get("id", "") for n in root.iter() if is_bpmn(n, "process", *CONTAINER_TAGS) and n.get("id")}


# --- running a file ----------------------------------------------------------------------------------

_FILLERS: dict[str, Any] = {"string": "x", "long": 1, "double": 1.0, "boolean": False, "date": "2026-01-01"}


def form_data(form: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """What a person accepting every default would submit: only required fields without one get a value."""
    data: dict[str, Any] = {}
    for f in form:
        if not f.get("required") or f.get("default") is not None:
            continue
        if f.get("type") == "enum" and f.get("values"):
            data[f["id"]] = f["values"][0]["id"]
        else:
            data[f["id"]] = _FILLERS.get(f.get("type") or "string", "x")
    return data


@dataclass
class RootRun:
    process: str
    status: str  # completed, waiting, running (task cap hit), error
    message: str = ""
    human_tasks: int = 0
    activities: set[str] = field(default_factory=set)  # distinct activities completed (the timeline)
    waits_for: tuple[str, ...] = ()  # what a waiting instance waits for
    fed: Counter[str] = field(default_factory=Counter)  # messages, signals and timer firings given to it
    started: bool = False


@dataclass
class FileRun:
    path: str
    outcome: str = "crash"  # crash, refused, error, running, waiting, completed: the worst over the roots
    message: str = ""
    deployed: bool = False
    roots: list[RootRun] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def started(self) -> bool:
        return bool(self.roots) and all(r.started for r in self.roots)


_RANK = {"crash": -1, "refused": 0, "error": 1, "running": 2, "waiting": 3, "completed": 4}


def run_file(app: Handoff, path: Path) -> FileRun:
    """Deploy `path` (with the files it calls), start its roots, complete every task on form defaults."""
    began = time.perf_counter()
    result = FileRun(str(path.relative_to(PUBLIC)) if path.is_relative_to(PUBLIC) else str(path))
    try:
        _run_file(app, path, result)
    except Exception as exc:  # noqa: BLE001 - anything but a HandoffError escaping Handoff is a bug to report
        where = traceback.extract_tb(exc.__traceback__)[-1]
        result.outcome = "crash"
        result.message = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
    result.seconds = time.perf_counter() - began
    return result


def _run_file(app: Handoff, path: Path, result: FileRun) -> None:
    try:
        deployed = [d.process for d in app.deploy([path, *companions(path)], actor="corpus")]
    except DefinitionInvalid as exc:
        result.outcome, result.message = "refused", str(exc)
        return
    result.deployed = True
    if not deployed:
        result.outcome, result.message = "refused", "nothing to start"
        return
    for process in [p for p in shape(path).roots if p in deployed] or deployed[:1]:
        result.roots.append(RootRun(process, "error"))
        _run_root(app, result.roots[-1])
    worst = min(result.roots, key=lambda r: _RANK[r.status])
    result.outcome, result.message = worst.status, worst.message


def _run_root(app: Handoff, run: RootRun) -> None:
    try:
        view = app.start(run.process, actor="corpus")
    except ScriptFailed as exc:
        run.message = str(exc)
        if exc.instance_id is not None:
            run.started = True
            _history(app, exc.instance_id, run)
        return
    except HandoffError as exc:
        run.message = f"{type(exc).__name__}: {exc}"
        return
    run.started = True
    instance = view.id
    fed = 0
    while True:
        while view.status == "running" and view.tasks and run.human_tasks < MAX_TASKS_PER_INSTANCE:
            task = view.tasks[0]
            try:
                # A task the model assigns (camunda:assignee) is done by its assignee, as in Camunda
                view = app.complete(task.id, data=form_data(task.form), actor=task.assignee or "corpus")
            except ScriptFailed as exc:
                run.message = str(exc)
                _history(app, instance, run)
                return
            except HandoffError as exc:
                run.message = f"{type(exc).__name__}: completing {task.label}: {exc}"
                _history(app, instance, run)
                return
            run.human_tasks += 1
        if view.status != "waiting" or fed >= MAX_WAITS_PER_INSTANCE:
            break
        try:
            given = _feed(app, instance, view, run.fed)
        except ScriptFailed as exc:
            run.message = str(exc)
            _history(app, instance, run)
            return
        except HandoffError as exc:
            run.message = f"{type(exc).__name__}: feeding a wait: {exc}"
            _history(app, instance, run)
            return
        if given is None:
            break
        view, fed = given, fed + 1
    run.status = view.status
    if view.status == "running":
        run.message = f"still has open tasks after {run.human_tasks} completed"
    elif view.status == "waiting":
        run.waits_for = waiting_on(app, instance)
        run.message = "waits for " + (", ".join(run.waits_for) or "nothing it can name")
    elif view.status == "error":
        run.message = str((view.error or {}).get("message"))
    _history(app, instance, run)


def _feed(app: Handoff, instance: int, view: InstanceView, fed: Counter[str]) -> InstanceView | None:
    """Give a waiting instance what it waits for, as the stock harness did: its first message or signal,
    sent through the public services (to this instance), else the clock moved to its next timer and the
    due work fired. None when it waits for nothing Handoff can give."""
    for wait in app.waits_of(instance):
        if wait.kind == "message":
            app.message(wait.name, instance_id=instance, actor="corpus")
        else:
            app.signal(wait.name, instance_id=instance, actor="corpus")
        fed[wait.kind] += 1
        return app.show(instance)
    due = view.next_due_at
    if due is None or not isinstance(app.clock, ManualClock):
        return None
    if app.clock() < due:
        app.clock.set(due)
    fed["timer"] += 1
    return fire_due_work(app, instance)


def fire_due_work(app: Handoff, instance_id: int) -> InstanceView | None:
    """Fire what is due at the engine clock's now as `handoff worker --once` does: one worker pass over
    the database (its timers, and any other instance's that are due). The instance's view if it moved."""
    from engine.worker import Worker

    result = Worker(app, name="corpus").run_once()
    if not (result.fired or result.started or result.retried):
        return None
    return app.show(instance_id)


def _history(app: Handoff, instance: int, run: RootRun) -> None:
    shown = app.show(instance)
    run.activities = {e.element for e in shown.timeline if e.kind == "task_completed" and e.element}


def waiting_on(app: Handoff, instance: int) -> tuple[str, ...]:
    """What a waiting instance waits for: the event definitions it waits on (TimerEventDefinition,
    MessageEventDefinition, ...) and the tasks SpiffWorkflow left STARTED ("started ServiceTask")."""
    from engine import runtime
    from storage import repository as repo

    with app.db.reader() as session:
        row = repo.get_instance(session, instance)
        assert row is not None
        definition = app.app.definitions.get(session, row.definition_id)
        state = row.state
    workflow = runtime.load_workflow(definition, state)
    events = {str(getattr(e, "event_type", "?")) for e in workflow.waiting_events()}
    started = {
        f"started {type(t.task_spec).__name__}"
        for t in runtime.all_tasks(workflow)
        if t.state == TaskState.STARTED
    }
    return tuple(sorted(events | started))


# --- judging a run -----------------------------------------------------------------------------------

# Why a file does not meet the acceptance criterion: the first words of every verdict.
CRASH = "crash"
REFUSED = "refused"
UNCLEAR_REFUSAL = "unclear refusal"
NOT_COMPLETED = "not completed"
SHORT_RUN = "short run"

# A refusal that only shows the repr of a Python error SpiffWorkflow raised tells a designer nothing.
_PYTHON_REPR = re.compile(r"(^|: )(KeyError|TypeError|AttributeError|AssertionError|IndexError|ValueError)\(")


def verdict(row: Row, run: FileRun) -> str | None:
    """None when `run` meets the acceptance criterion for `row`, else why not.

    A file stock SpiffWorkflow truly completed must deploy, start, and complete, its messages, signals
    and timers given to it as the stock run gave them. A file with id-less flows must be refused with a
    clear message, or not complete, or complete with at least as many activities as the shortest
    start-to-end path of its diagram has.
    """
    if run.outcome == "crash":
        return f"{CRASH}: {run.message}"
    if row.flows_without_id:
        return _verdict_idless(run)
    if run.outcome == "refused":
        return f"{REFUSED}: {run.message}"
    for root in run.roots:
        if root.status == "completed":
            short = _short(run, root)
            if short:
                return short
        else:
            return f"{NOT_COMPLETED}: {root.process} is {root.status}: {root.message}"
    return None


def _verdict_idless(run: FileRun) -> str | None:
    if run.outcome == "refused":
        if _PYTHON_REPR.search(run.message):
            return f"{UNCLEAR_REFUSAL}: {run.message}"
        return None
    if run.outcome != "completed":
        return None  # not reported completed: no false completion
    for root in run.roots:
        short = _short(run, root)
        if short:
            return short
    return None


def _short(run: FileRun, root: RootRun) -> str | None:
    needed = shape(PUBLIC / run.path).min_path.get(root.process, 0)
    if len(root.activities) < needed:
        return (
            f"{SHORT_RUN}: {root.process} completed after {len(root.activities)} activities; "
            f"its diagram needs at least {needed}"
        )
    return None


def cause(text: str) -> str:
    """A verdict reduced to its cause: what the expected-failures table and docs/conformance.md group by."""
    rules = [
        (
            r"Object of type (\w+) is not JSON serializable",
            "deploy crashes: bpmn/serializer.py has no converter for {0}",
        ),
        (
            r"started ServiceTask",
            "service task left STARTED: Handoff neither runs it nor offers it as a task",
        ),
        (
            r"stopped without reaching an end event",
            "implicit end: a path ends at a flow node without outgoing flows, runtime.is_finished wants an end event",
        ),
        (r"compensation (events|handlers) are not supported", "refused by policy: compensation"),
        (r"link events are not supported", "refused by policy: link events"),
        (r"has no sourceRef", "refused: invalid diagram (a sequence flow without sourceRef)"),
        (r"no executable process", "refused: the process has no id"),
        (
            r"multiinstance task must specify",
            "refused: invalid multi-instance (SpiffWorkflow's own negative test)",
        ),
        (
            r"raise_validation_exception",
            "unclear refusal: SpiffWorkflow parser bug on an unnamed message/signal/error",
        ),
        (r"has no name: (message|signal)s are matched by name", "refused: a {0} without a name"),
        (r"^crash: (\w+): .*\(at (\S+)\)$", "crash: {0} escapes Handoff at {1}"),
        (r"(\w+Error)\([\"']", "unclear refusal: SpiffWorkflow raised {0} while parsing"),
        (
            r"import statements are not allowed in the script sandbox",
            "refused by the script sandbox: an import (runs when deployed with --trusted-scripts)",
        ),
        (r"(\w+)\(\) is not allowed in the script sandbox", "refused by the script sandbox: {0}()"),
        (r"Error evaluating expression '([^']{0,40})", "expression error at run time: '{0}'"),
    ]
    for pattern, template in rules:
        m = re.search(pattern, text, re.S)
        if m:
            return template.format(*m.groups())
    return text.split(":", 1)[0]


# --- running the whole corpus from the command line -----------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """`python3 tests/corpus.py [--table | --markdown]`: run every selected file on a fresh database and
    print counts and failures by cause (stderr); --table prints EXPECTED_FAILURES for tests/test_corpus.py,
    --markdown the counts and failures sections of docs/conformance.md, both for the engine as it is now.
    """
    import argparse
    import contextlib
    import sys
    import tempfile
    from datetime import UTC, datetime

    from engine import ManualClock
    from storage import Database

    parser = argparse.ArgumentParser(prog="tests/corpus.py")
    parser.add_argument("--table", action="store_true", help="print the expected-failures table")
    parser.add_argument("--markdown", action="store_true", help="print counts and failures as Markdown")
    args = parser.parse_args(argv)
    stock, idless = stock_completed(rows())
    began = time.perf_counter()
    failures: dict[str, str] = {}
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    with tempfile.TemporaryDirectory() as tmp:
        app = Handoff(
            Database(f"sqlite:///{tmp}/corpus.db"), clock=ManualClock(datetime(2026, 3, 2, 9, tzinfo=UTC))
        )
        app.init()
        for row in [*stock, *idless]:
            with contextlib.redirect_stdout(sys.stderr):  # scripts in the corpus print
                run = run_file(app, row.file)
            group = (
                "id-less flows" if row.flows_without_id else ("needs a wait" if row.needs_wait else "no wait")
            )
            problem = verdict(row, run)
            counts[group].update(
                files=1,
                deployed=run.deployed,
                started=run.started,
                **{run.outcome: 1},
                failing=bool(problem),
            )
            for root in run.roots:
                counts["waits for"].update(w for w in root.waits_for if w.endswith("EventDefinition"))
                counts["fed"].update(root.fed)
                counts["fed files"].update(set(root.fed))
            if problem:
                failures[row.path] = problem
        app.db.dispose()
    seconds = time.perf_counter() - began
    by_cause: dict[str, list[str]] = defaultdict(list)
    for path, problem in failures.items():
        by_cause[cause(problem)].append(path)
    for group, counter in counts.items():
        print(f"{group}: {dict(counter)}", file=sys.stderr)
    print(f"{len(failures)} failures in {seconds:.0f} s", file=sys.stderr)
    for c, paths in sorted(by_cause.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(paths):4d}  {c}  (e.g. {paths[0]})", file=sys.stderr)
    if args.table:
        print("EXPECTED_FAILURES: dict[str, str] = _by_cause(")
        print("    {")
        for c, paths in sorted(by_cause.items()):
            print(f"        {c!r}: (")
            for path in sorted(paths):
                print(f"            {path!r},")
            print("        ),")
        print("    }")
        print(")")
    if args.markdown:
        _markdown(counts, by_cause, seconds)
    return 0


def _markdown(counts: dict[str, Any], by_cause: dict[str, list[str]], seconds: float) -> None:
    columns = ["files", "deployed", "started", "completed", "waiting", "error", "refused", "crash", "failing"]
    print("| selection | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for group in ("no wait", "needs a wait", "id-less flows"):
        print(f"| {group} | " + " | ".join(str(counts[group][c]) for c in columns) + " |")
    total = {c: sum(counts[g][c] for g in ("no wait", "needs a wait", "id-less flows")) for c in columns}
    print("| **all** | " + " | ".join(f"**{total[c]}**" for c in columns) + " |")
    print()
    fed, files = counts["fed"], counts["fed files"]
    print(
        f"Given to waiting instances through the services: {fed['message']} messages ({files['message']} "
        f"roots), {fed['signal']} signals ({files['signal']} roots), {fed['timer']} timer firings "
        f"({files['timer']} roots)."
    )
    if counts["waits for"]:
        waits = ", ".join(f"{k} {v}" for k, v in counts["waits for"].most_common())
        print(f"Instances still waiting wait for: {waits}.")
    print(f"Run time: {seconds:.0f} s for {total['files']} files.")
    print()
    for c, paths in sorted(by_cause.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        print(f"<details><summary><b>{len(paths)}</b> — {c}</summary>\n")
        for path in sorted(paths):
            print(f"- `{path}`")
        print("\n</details>\n")


if __name__ == "__main__":
    import sys

    sys.path[:0] = [str(Path(__file__).resolve().parent.parent)]
    raise SystemExit(main())

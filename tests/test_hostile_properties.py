"""Property tests (hypothesis) over hostile form data and over damaged BPMN files.

(a) Form data given to `start` and `complete` (services and CLI), arbitrary JSON-ish values with wrong
    types, huge and deep ones: never a traceback; either accepted, and then what is stored is what was
    given (converted to the form's types), or refused with InvalidInput in one line naming the task,
    and the database unchanged row for row.
(b) BPMN files of ../shared/corpus mutated at random (byte flips, truncation, elements and attributes
    deleted, duplicated or moved, ids changed or reused, sourceRef/targetRef swapped, entities and
    DOCTYPEs inserted): `validate` and `deploy` (services and CLI) raise nothing but Handoff's own
    errors, print one line per problem, exit 0 or 3, and a refused deploy leaves the database unchanged.

CI runs a fixed, derandomized set of examples on SQLite and PostgreSQL in well under a minute. To search
longer with fresh random examples (failures are kept in .hypothesis/ and replayed first):

    HANDOFF_HYPOTHESIS_EXAMPLES=2000 python3 -m pytest -q tests/test_hostile_properties.py

A failure prints the shrunk example; tests/test_hostile_input.py keeps the ones found so far.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from mutate import BYTE_KINDS, KINDS, Mutation, apply

from cli import main
from conftest import CORPUS, DATA, EXAMPLE

FORMS = DATA / "hostile_forms.bpmn"
EXAMPLES = int(os.environ.get("HANDOFF_HYPOTHESIS_EXAMPLES", "0") or 0)


def budget(default: int) -> settings:
    """`default` examples, the same ones on every run, unless HANDOFF_HYPOTHESIS_EXAMPLES asks for more."""
    slow = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example]
    if EXAMPLES:
        return settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=slow)
    return settings(
        max_examples=default, deadline=None, derandomize=True, database=None, suppress_health_check=slow
    )


class Snapshot:
    """Every row of every table, through one open connection pool (cheap enough to take per example)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        from storage.models import Base

        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
        self.tables = [t.name for t in Base.metadata.sorted_tables] + ["alembic_version"]

    def __call__(self) -> dict[str, list[tuple[Any, ...]]]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return {
                t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY 1"))]
                for t in self.tables
            }

    def task_data(self, task_id: int) -> Any:
        """The form data a task was completed with, decoded by its column type (JSON)."""
        from sqlalchemy import select

        from storage.models import HumanTask

        with self.engine.connect() as conn:
            return conn.execute(select(HumanTask.data).where(HumanTask.id == task_id)).scalar_one()

    def close(self) -> None:
        self.engine.dispose()


@dataclass
class World:
    app: Any
    url: str
    snapshot: Snapshot
    seen: Counter[str]

    open_tasks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def task(self, name: str) -> tuple[int, int]:
        """(instance, task) of an open 'Enter claim' or 'Add a note'. A refused attempt leaves the task
        as it was, so the same one serves until an example is accepted (and setting up is the slow part)."""
        if name not in self.open_tasks:
            view = self.app.start("expense_claim", actor="ann")
            if name == "Add a note":
                view = self.app.complete(view.tasks[0].id, data={"title": "Taxi"}, actor="ann")
            (task,) = view.tasks
            assert task.name == name
            self.open_tasks[name] = (view.id, task.id)
        return self.open_tasks[name]

    def used(self, name: str) -> None:
        del self.open_tasks[name]

    def saw(self, outcome: str) -> None:
        event(outcome)
        self.seen[outcome] += 1

    def saw_both(self, *outcomes: str) -> None:
        """Both kinds of example ran: the checks of each branch were exercised, not skipped."""
        print(dict(self.seen))
        for outcome in outcomes:
            assert self.seen[outcome] > 0, (outcome, dict(self.seen))


@pytest.fixture
def world(db_url: str) -> Iterator[World]:
    from engine import Handoff
    from storage import Database

    app = Handoff(Database(db_url))
    app.init()
    app.deploy([FORMS], actor="ann")
    snapshot = Snapshot(db_url)
    try:
        yield World(app, db_url, snapshot, Counter())
    finally:
        snapshot.close()
        app.db.dispose()


def refused_cleanly(world: World, action: Callable[[], Any], where: str) -> tuple[bool, Any]:
    """(True, result) if `action` succeeded; (False, error) if it raised InvalidInput in one line that
    names `where`, having changed nothing. Anything else fails the test."""
    from engine import InvalidInput

    before = world.snapshot()
    try:
        result = action()
        world.saw("accepted")
        return True, result
    except InvalidInput as exc:
        world.saw("refused")
        message = str(exc)
        assert "\n" not in message and "\r" not in message, message
        assert len(message) < 400, message
        assert where in message, (where, message)
        assert world.snapshot() == before, f"the database changed although {message!r}"
        return False, exc


# --- strategies: data ----------------------------------------------------------------------------------

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x07b",
    "\x1b[2J",
    "\x9b",
    "\ud800",
    "x\udfff",
    "\u202e",
    "line\nbreak",
    "tab\there",
    "nan",
    "NaN",
    "inf",
    "-Infinity",
    "1e999",
    " 42 ",
    "1_000",
    "\u0663",
    "0x10",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "12.50",
    ".5",
    "2026-02-30",
    "2026-03-01",
    "20260301",
    "true",
    "yes",
    "off",
    "maybe",
    "travel",
    "meals",
    "bribes",
    "Taxi",
    "__import__('os')",
]
texts = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=5),
    st.sampled_from(NASTY_TEXT),
    st.integers(64 * 1024 - 1, 64 * 1024 + 1).map(lambda n: "x" * n),
    st.integers(21_000, 22_000).map(lambda n: "\u20ac" * n),  # 3 bytes each: around 64 KiB encoded
)
numbers = st.one_of(
    st.integers(),
    st.integers(-(2**64), 2**64),
    st.sampled_from([2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 10**400]),
    st.floats(),
)
# Only the Python API can pass these; none of them is JSON.
NOT_JSON = [(1, 2), frozenset({1}), b"bytes", Decimal("1.5"), date(2026, 3, 1), complex(1, 2), {1, 2}]


def mostly(
    usual: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], odds: int = 8
) -> st.SearchStrategy[Any]:
    """`usual`, but `rare` once in `odds + 1` draws (one_of would draw its branches about equally)."""
    return st.integers(0, odds).flatmap(lambda i: rare if i == 0 else usual)


# What a person would send, far likelier than what an attacker would: a tree of ten leaves holds a
# hostile one often enough, and a good share of the examples are accepted (both branches run).
plain = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(st.characters(exclude_categories=("Cc", "Cs")), max_size=20),
)
hostile = st.one_of(numbers, texts)
scalars = mostly(plain, hostile)
names = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
NASTY_NAMES = ["__builtins__", "__class__", "a b", "", "k" * 201, "x\x00", "\u202e", "title", "amount", "_ok"]
keys = mostly(names, st.one_of(st.text(max_size=8), st.sampled_from(NASTY_NAMES)), odds=10)
api_keys = mostly(keys, st.one_of(st.integers(-2, 2), st.sampled_from([None, 1.5, ("t",)])), odds=20)


def nest(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"n": value}
    return value


def json_values(key_strategy: st.SearchStrategy[Any], odd: bool) -> st.SearchStrategy[Any]:
    """JSON-ish trees; `odd` adds values only the Python API can pass. Sometimes nested near the limit."""
    leaves = mostly(scalars, st.sampled_from(NOT_JSON), odds=20) if odd else scalars
    tree = st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=3) | st.dictionaries(key_strategy, children, max_size=3),
        max_leaves=10,
    )
    return mostly(tree, st.integers(17, 21).map(nest), odds=10)


api_values = json_values(api_keys, odd=True)
payloads = st.dictionaries(api_keys, api_values, max_size=5)

# For the form: each field mostly given a value meant for its type, sometimes anything at all.
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "receipts": st.one_of(st.integers(-5, 10**20), st.sampled_from(["3", " 7 ", "1_000", "2.0", 2.0, 2.5])),
    "amount": st.one_of(
        st.floats(), st.integers(), st.sampled_from(["12.5", "1e3", "nan", "inf", ".5", "-0"])
    ),
    "urgent": st.one_of(
        st.booleans(), st.sampled_from(["yes", "No", " on ", "maybe", 1, 0, "true", " FALSE ", "True"])
    ),
    "spent_on": st.one_of(
        st.dates().map(date.isoformat), st.sampled_from(["2026-02-30", " 2026-03-01 ", 20260301])
    ),
    "category": st.sampled_from(["travel", "meals", "other", "Travel", "", None, 1]),
    "cost_centre": api_values,
}
titles = st.one_of(st.text(min_size=1, max_size=10), st.text(min_size=1, max_size=10), texts, api_values)
unknown_fields = st.one_of(
    st.just({}), st.just({}), st.just({}), st.dictionaries(api_keys, api_values, max_size=2)
)
form_payloads = st.builds(
    lambda title, fields, unknown: {**({"title": title} if title is not None else {}), **fields, **unknown},
    st.one_of(titles, titles, titles, st.none()),
    st.fixed_dictionaries(
        {}, optional={k: st.one_of(v, v, v, v, api_values) for k, v in FIELD_VALUES.items()}
    ),
    unknown_fields,
)


def stored_as(field: str, given: Any) -> Any:
    """What the form `hostile_forms.bpmn` should store for `given` (an oracle written from the docs)."""
    if field in ("title", "category", "cost_centre"):
        return given
    if field == "receipts":
        return int(given.strip()) if isinstance(given, str) else int(given)
    if field == "amount":
        return float(given.strip()) if isinstance(given, str) else float(given)
    if field == "urgent":
        return given if isinstance(given, bool) else {"true": True, "false": False}[given.strip().lower()]
    assert field == "spent_on"
    return date.fromisoformat(given.strip()).isoformat()


DEFAULTS = {"receipts": 1, "urgent": False}


# --- (a) form data, through the services ---------------------------------------------------------------


def test_start_data_property(world: World) -> None:
    app = world.app
    where = "the start of process 'expense_claim'"

    @budget(60)
    @given(data=payloads)
    def start(data: dict[Any, Any]) -> None:
        accepted, view = refused_cleanly(
            world, lambda: app.start("expense_claim", data=data, actor="ann"), where
        )
        if accepted:
            assert app.show(view.id).data == data

    start()
    world.saw_both("accepted", "refused")


def test_complete_form_property(world: World) -> None:
    app = world.app

    @budget(80)
    @given(data=form_payloads)
    def complete(data: dict[Any, Any]) -> None:
        instance, task = world.task("Enter claim")
        where = f"task {task} (Enter claim)"
        accepted, _ = refused_cleanly(world, lambda: app.complete(task, data=data, actor="ann"), where)
        if not accepted:
            return
        world.used("Enter claim")
        expected = dict(DEFAULTS)
        for name, value in data.items():
            expected[name] = stored_as(name, value) if value not in (None, "") else DEFAULTS.get(name)
        assert world.snapshot.task_data(task) == expected
        assert {k: app.show(instance).data.get(k) for k in expected} == expected

    complete()
    world.saw_both("accepted", "refused")


def test_complete_free_data_property(world: World) -> None:
    app = world.app

    @budget(60)
    @given(data=payloads)
    def complete(data: dict[Any, Any]) -> None:
        instance, note = world.task("Add a note")
        where = f"task {note} (Add a note)"
        accepted, _ = refused_cleanly(world, lambda: app.complete(note, data=data, actor="ann"), where)
        if accepted:
            world.used("Add a note")
            assert world.snapshot.task_data(note) == data
            assert app.show(instance).data == {"title": "Taxi", **DEFAULTS, **data}

    complete()
    world.saw_both("accepted", "refused")


# --- (a) form data, through the CLI --------------------------------------------------------------------


def _json_or_none(data: dict[Any, Any]) -> str | None:
    """JSON text as a person might type it (NaN and Infinity included), or None for what JSON cannot say."""
    try:
        return json.dumps(data)
    except (TypeError, ValueError):
        return None


json_texts = st.one_of(
    st.dictionaries(keys, json_values(keys, odd=False), max_size=4).map(lambda d: json.dumps(d)),
    form_payloads.map(_json_or_none).filter(lambda text: text is not None),
    st.text(max_size=30),  # anything at all
    st.integers(1, 2000).map(lambda n: '{"a": ' + "[" * n),
)


def test_cli_data_json_property(world: World) -> None:
    @budget(40)
    @given(text=json_texts, on_form=st.booleans())
    def complete(text: str, on_form: bool) -> None:
        name = "Enter claim" if on_form else "Add a note"
        _, task = world.task(name)
        before = world.snapshot()
        argv = ["--db", world.url, "--user", "ann", "--json", "complete", str(task), "--data-json", text]
        result = CliRunner().invoke(main, argv)
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code in (0, 2), (result.exit_code, result.stderr)
        world.saw(f"exit {result.exit_code}")
        if result.exit_code == 0:
            world.used(name)
        if result.exit_code == 2:
            (line,) = result.stderr.splitlines()
            assert line.startswith("error: ")
            assert json.loads(result.stdout) == {"error": line.removeprefix("error: ")}
            assert world.snapshot() == before
        elif not on_form:
            assert world.snapshot.task_data(task) == json.loads(text)

    complete()
    world.saw_both("exit 0", "exit 2")


# --- (b) damaged BPMN files ----------------------------------------------------------------------------

PUBLIC = CORPUS / "public"
SAMPLES: list[tuple[Path, ...]] = [
    (EXAMPLE,),
    (PUBLIC / "SpiffWorkflow/tests/SpiffWorkflow/bpmn/data/event-subprocess.bpmn",),
    (PUBLIC / "SpiffWorkflow/tests/SpiffWorkflow/spiff/data/user_task_variable.bpmn",),
    (PUBLIC / "SpiffWorkflow/tests/SpiffWorkflow/bpmn/data/Test-Workflows/Messages.bpmn20.xml",),
    (PUBLIC / "bpmn-elements/test/resources/forms.bpmn",),
    (PUBLIC / "bpmn-engine/test/resources/lanes.bpmn",),
    (PUBLIC / "bpmn-miwg-test-suite/Trisotech Workflow Modeler 12.6.3/A.1.0-export.bpmn",),
    (PUBLIC / "camunda-bpm-examples/deployment/embedded-spring-rest/src/main/resources/loanApproval.bpmn",),
    (PUBLIC / "camunda-modeler/test/e2e/fixtures/c7-user-task-form.bpmn",),
    (DATA / "spiff_purchase.bpmn", DATA / "purchase-form.json"),  # a SpiffArena form schema beside it
    (
        PUBLIC / "sample-process-models/misc/test/c71/C.7.1.bpmn",
        PUBLIC / "sample-process-models/misc/test/c71/C.7.1-  Business Rules.dmn",
    ),
]
NASTY_ATTRIBUTES = [
    "",
    "x",
    "${amount > 5}",
    "PT5M",
    "__import__('os').system('true')",
    "1/0",
    "Flow_1",
    "StartEvent_1",
    "a b",
    "\u202e",
    "<",
    "&",
    "true",
    "false",
    "bpmn:Process",
    "0",
    "-1",
    "None",
    "x" * 300,
]
mutations = st.builds(
    Mutation,
    kind=st.sampled_from(KINDS),
    a=st.integers(0, 10**6),
    # For byte flips, often a byte that means something: NUL, '<', '&', '"', a newline, non-ASCII.
    b=mostly(
        st.integers(0, 10**6), st.sampled_from([0x00, 0x3C, 0x26, 0x22, 0x0A, 0x80, 0xFF, 0x1B]), odds=2
    ),
    text=st.one_of(st.sampled_from(NASTY_ATTRIBUTES), st.text(max_size=12)),
)


def _damaged(tmp: Path, sample: tuple[Path, ...], which: int, changes: list[Mutation]) -> list[Path]:
    if not all(p.exists() for p in sample):
        pytest.skip(f"corpus not found at {CORPUS}")
    paths = []
    for i, original in enumerate(sample):
        content = original.read_bytes()
        if i == which % len(sample):
            content = apply(content, changes)
        path = tmp / original.name.replace(" ", "_")
        path.write_bytes(content)
        paths.append(path)
    return paths


def test_damaged_bpmn_services_property(world: World, tmp_path: Path) -> None:
    from engine import DefinitionInvalid

    app = world.app

    @budget(60)
    @given(
        sample=st.sampled_from(SAMPLES),
        which=st.integers(0, 1),
        changes=st.lists(mutations, min_size=1, max_size=3),
    )
    def deploy(sample: tuple[Path, ...], which: int, changes: list[Mutation]) -> None:
        paths = _damaged(tmp_path, sample, which, changes)
        before = world.snapshot()
        report = app.validate(paths)
        world.saw("valid" if report.ok else "invalid")
        for problem in report.problems:
            assert "\n" not in str(problem) and "\r" not in str(problem), str(problem)
        assert world.snapshot() == before
        try:
            app.deploy(paths, actor="ann")
        except DefinitionInvalid as exc:
            assert not report.ok
            assert "\n" not in str(exc) and str(exc).startswith(str(report.errors[0]))
            assert world.snapshot() == before, f"the database changed although {exc}"
            return
        assert report.ok
        assert app.processes(actor="ann")  # what was stored reads back

    deploy()
    world.saw_both("valid", "invalid")


def test_damaged_bpmn_cli_property(world: World, tmp_path: Path) -> None:
    @budget(25)
    @given(
        sample=st.sampled_from(SAMPLES),
        which=st.integers(0, 1),
        changes=st.lists(
            mutations.filter(lambda m: m.kind in BYTE_KINDS or m.a % 3 == 0), min_size=1, max_size=2
        ),
    )
    def deploy(sample: tuple[Path, ...], which: int, changes: list[Mutation]) -> None:
        paths = _damaged(tmp_path, sample, which, changes)
        names = tuple(str(p) for p in paths)
        before = world.snapshot()
        checked = CliRunner().invoke(main, ["--db", world.url, "validate", *names])
        assert checked.exception is None or isinstance(checked.exception, SystemExit), repr(checked.exception)
        assert checked.exit_code in (0, 3), checked.stderr
        world.saw(f"exit {checked.exit_code}")
        # Every problem is one line: FILE[:LINE]: MESSAGE, naming one of the files.
        for line in checked.stderr.splitlines():
            assert any(name in line for name in names), line
        result = CliRunner().invoke(main, ["--db", world.url, "--user", "ann", "deploy", *names])
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert result.exit_code == checked.exit_code, (checked.stderr, result.stderr)
        if result.exit_code == 3:
            (line,) = result.stderr.splitlines()
            assert line.startswith("error: ") and any(name in line for name in names), line
            assert world.snapshot() == before

    deploy()
    world.saw_both("exit 0", "exit 3")

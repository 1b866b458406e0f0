"""The layers stay honest (STYLE.md, docs/architecture.md).

The architecture itself is import-linter's contracts in pyproject.toml, checked by `lint-imports` in
.ci/run (and by the first test here). What import-linter cannot see is checked below: cli.py is a module,
not a package, so its imports are read from its source; `handoff --help` must import nothing heavy; and a
private name (`_x`) of a module of ours never leaves it.
"""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

OURS = ("engine", "bpmn", "storage", "web", "cli")
CHECK = """
import json, sys
import {module}
print(json.dumps(sorted(m.split('.')[0] for m in sys.modules)))
"""


def imported_by(module: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", CHECK.format(module=module)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(out.stdout))


def our_files() -> list[Path]:
    return sorted(ROOT.glob("cli*.py")) + [p for pkg in OURS[:-1] for p in sorted((ROOT / pkg).rglob("*.py"))]


# The script of the interpreter running the tests (the README's .venv need not be on PATH), else PATH's.
BESIDE = Path(sys.executable).parent / "lint-imports"
LINT_IMPORTS = str(BESIDE) if BESIDE.is_file() else shutil.which("lint-imports")


@pytest.mark.skipif(LINT_IMPORTS is None, reason="import-linter is not installed")
def test_import_linter_contracts_are_kept() -> None:
    assert LINT_IMPORTS is not None
    result = subprocess.run([LINT_IMPORTS], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout[-3000:]


def door_tree(name: str) -> ast.Module:
    return ast.parse((ROOT / name).read_text())


def test_cli_is_a_door_over_the_engine_only() -> None:
    """cli.py and its cli_*.py modules import engine, never bpmn, storage, SpiffWorkflow or the other door
    (anywhere in them, functions included)."""
    roots = set()
    door = [node for path in sorted(ROOT.glob("cli*.py")) for node in door_tree(path.name).body]
    for node in ast.walk(ast.Module(body=door, type_ignores=[])):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    assert roots & {"bpmn", "storage", "SpiffWorkflow", "sqlalchemy", "web"} == set()
    assert "engine" in roots


def test_help_imports_nothing_heavy() -> None:
    """`handoff --help` must start fast: no SpiffWorkflow, SQLAlchemy or lxml behind it."""
    loaded = imported_by("cli")
    assert loaded & {"SpiffWorkflow", "sqlalchemy", "lxml", "alembic", "engine", "storage", "bpmn"} == set()


def test_no_private_name_leaves_its_module() -> None:
    """`from x import _name` and `module._name` never name a private name of ours (nor of SpiffWorkflow)."""
    found = []
    for path in our_files():
        tree = ast.parse(path.read_text())
        ours = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = node.module or ""
                foreign = node.level == 0 and module.split(".")[0] not in (*OURS, "SpiffWorkflow")
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__") and not foreign:
                        found.append(
                            f"{path.relative_to(ROOT)}:{node.lineno}: from {module} import {alias.name}"
                        )
                    if not foreign:
                        ours.add(alias.asname or alias.name)
            elif isinstance(node, ast.Import):
                ours |= {
                    (a.asname or a.name).split(".")[0] for a in node.names if a.name.split(".")[0] in OURS
                }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in ours
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value.id}.{node.attr}")
    assert found == []


def test_cli_commands_are_short() -> None:
    """Issue 12: cli.py holds the commands (under 1,200 lines), each converting options, calling one use case
    and rendering (no body over 25 lines); what they share is in cli_base.py, the web door's commands in
    cli_web.py."""
    assert len((ROOT / "cli.py").read_text().splitlines()) < 1200
    long = []
    for node in (n for path in sorted(ROOT.glob("cli*.py")) for n in ast.walk(door_tree(path.name))):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            if body and body[-1].end_lineno - body[0].lineno + 1 > 25:  # type: ignore[operator]
                long.append(node.name)
    assert long == []


READ_COMMAND = """
import json, sys
import cli
try:
    cli.main({args!r})
except SystemExit:
    pass
heavy = (
    "SpiffWorkflow", "alembic", "RestrictedPython", "lxml", "mako", "engine.kernel.advance",
    # issue 17: a SQLite URL needs neither PostgreSQL's dialect nor its driver; no read returns these views
    "sqlalchemy.dialects.postgresql", "psycopg", "engine.views.definitions", "engine.views.repair",
)
print(json.dumps(sorted(name for name in heavy if name in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize("command", [["tasks", "--all"], ["show", "1"], ["instances"]])
def test_read_commands_import_no_workflow_runtime(tmp_path: Path, command: list[str]) -> None:
    """Issue 17: a read command starts without SpiffWorkflow, the sandbox, lxml or Alembic (it reads rows;
    the schema's newest revision comes from storage/migration_heads.py), without PostgreSQL's dialect or
    driver on a SQLite URL (storage/tables.py declares no `postgresql_where`), without the views it does not
    return, and still prints what it should."""
    from engine import Handoff

    url = f"sqlite:///{tmp_path / 'reads.db'}"
    app = Handoff(url)
    app.init()
    app.deploy([ROOT / "examples" / "order-to-cash.bpmn"], actor="dan")
    app.start("order_to_cash", actor="web", business_key="K-1")
    app.db.dispose()
    args = ["--db", url, "--user", "ann", *command]
    out = subprocess.run(
        [sys.executable, "-c", READ_COMMAND.format(args=args)], cwd=ROOT, capture_output=True, text=True
    )
    assert "K-1" in out.stdout or "Register order" in out.stdout, out.stdout + out.stderr
    assert json.loads(out.stderr.strip().splitlines()[-1]) == []


ORM_FREE = """
import json, sys
import cli
try:
    cli.main({args!r})
except SystemExit:
    pass
orm = ("sqlalchemy.orm", "storage.models", "storage.repository", "engine.kernel.work", "pluggy")
print(json.dumps(sorted(name for name in orm if name in sys.modules)), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("user", "command", "shown"),
    [
        ("ann", ["tasks"], "Register order"),
        ("ada", ["tasks", "--all", "--mine", "--lane", "Customer Service"], "Register order"),
        ("ann", ["show", "1"], "JST  ada:"),  # the comment, in ann's zone (Asia/Tokyo, no summer time)
        ("ada", ["show", "1"], "instance started by ada"),  # the timeline, for an admin
        ("ann", ["--json", "show", "1"], '"waits_for"'),
    ],
)
def test_read_commands_run_without_the_orm(tmp_path: Path, user: str, command: list[str], shown: str) -> None:
    """Issue 17: `handoff tasks` and `handoff show` read Core rows on a Connection (storage/reads.py) and
    import neither SQLAlchemy's ORM nor the ORM classes, the repository, the units of work or the hook
    manager: with registered users (the access check reads the user table, the text the reader's zone),
    a lane SLA (the due times read it) and a comment (show lists it), they still print the task, the
    timeline and the comment, in the reader's zone."""
    from engine import Handoff

    url = f"sqlite:///{tmp_path / 'reads.db'}"
    app = Handoff(url)
    app.init()
    app.add_user("ada", role="admin", actor=None)
    app.add_user("ann", role="operator", lanes=["Customer Service"], actor="ada", tz="Asia/Tokyo")
    app.deploy([ROOT / "examples" / "order-to-cash.bpmn"], actor="ada")
    app.set_sla("PT2H", lane="Customer Service", actor="ada")
    app.start("order_to_cash", actor="ada", business_key="K-1")
    app.comment("call the customer first", instance_id=1, actor="ada")
    app.db.dispose()
    args = ["--db", url, "--user", user, *command]
    out = subprocess.run(
        [sys.executable, "-c", ORM_FREE.format(args=args)], cwd=ROOT, capture_output=True, text=True
    )
    assert shown in out.stdout, out.stdout + out.stderr
    if command[-2:] == ["show", "1"]:
        assert "call the customer first" in out.stdout, out.stdout
    assert json.loads(out.stderr.strip().splitlines()[-1]) == [], out.stderr


COLLECTOR = """
import gc, json, sys
import cli
sys.argv = ["handoff", *{args!r}]
try:
    cli.main({call})
except SystemExit:
    pass
print(json.dumps({{"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}}), file=sys.stderr)
"""


def test_start_up_freezes_only_a_whole_process_and_collection_resumes(tmp_path: Path) -> None:
    """Issue 17: the `handoff` program builds its application without the garbage collector and freezes
    what it built (cli_base.Startup); afterwards the collector runs again (a long command such as
    `serve` or `demo` must not grow without bound). A caller passing arguments (a test's CliRunner, a
    tool) gets its collector back as it was, nothing frozen: its objects stay collectable."""
    url = f"sqlite:///{tmp_path / 'gc.db'}"
    subprocess.run(
        [sys.executable, "-m", "cli", "--db", url, "init"], cwd=ROOT, check=True, capture_output=True
    )
    states = {}
    for call in ("", "sys.argv[1:]"):
        out = subprocess.run(
            [sys.executable, "-c", COLLECTOR.format(args=["--db", url, "--user", "ann", "tasks"], call=call)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert out.stdout.strip() == "no open tasks", out.stdout + out.stderr
        states[call] = json.loads(out.stderr.strip().splitlines()[-1])
    assert states[""]["enabled"] and states[""]["frozen"] > 10_000
    assert states["sys.argv[1:]"] == {"enabled": True, "frozen": 0}


RACE = """
import sys, threading
from engine import facade
barrier = threading.Barrier(8)
errors = []
def read():
    barrier.wait()
    try:
        facade.tasks.complete, facade.instance_reads.show, facade.history.instance_history
    except Exception as exc:
        errors.append(repr(exc))
threads = [threading.Thread(target=read) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(errors)
"""


def test_threads_reading_a_lazy_use_case_at_once_all_find_it() -> None:
    """The web server's threads may be the first to read a use case at the same moment: each must find
    the whole module (importlib's LazyLoader, in 3.11, let a second thread see it without its names)."""
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "[]", out.stdout + out.stderr

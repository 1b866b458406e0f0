"""The layers stay honest (STYLE.md): checked in a fresh interpreter, as click's own test_imports does."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import ROOT

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


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("bpmn", {"sqlalchemy", "click", "engine", "storage", "cli"}),
        ("storage", {"SpiffWorkflow", "click", "engine", "bpmn", "cli", "lxml"}),
        ("engine", {"click", "cli"}),
    ],
)
def test_layer_imports(module: str, forbidden: set[str]) -> None:
    assert imported_by(module) & forbidden == set()


def test_help_imports_nothing_heavy() -> None:
    """`handoff --help` must start fast: no SpiffWorkflow, SQLAlchemy or lxml behind it."""
    loaded = imported_by("cli")
    assert loaded & {"SpiffWorkflow", "sqlalchemy", "lxml", "alembic", "engine", "storage", "bpmn"} == set()

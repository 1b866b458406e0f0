"""The newest schema revision, read from the migration files without importing Alembic.

Every command checks that the database's schema is current before it runs; Alembic's own `ScriptDirectory`
answers that too, but importing Alembic (with Mako and Pygments behind it) costs a read command about as
much as the rest of its start-up. The files' `revision` and `down_revision` assignments are read with
`ast` instead; tests/test_migrations.py checks the answer against Alembic's.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

VERSIONS_DIR = Path(__file__).parent / "migrations" / "versions"


def _assigned(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            if node.target.id == name:
                return ast.literal_eval(node.value)
        elif isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise LookupError(f"no {name} in the migration")


def _header(path: Path) -> ast.Module:
    """The module's statements before its first function: Alembic's template assigns the revisions there,
    and parsing only that part (not the upgrade and downgrade bodies) takes a read command's start-up
    ~1 ms instead of ~7. The whole file if the header lacks them."""
    source = path.read_text(encoding="utf-8")
    header = ast.parse(source.split("\ndef ", 1)[0], str(path))
    names = {
        t.id for node in header.body if isinstance(node, ast.Assign | ast.AnnAssign) for t in _targets(node)
    }
    return header if {"revision", "down_revision"} <= names else ast.parse(source, str(path))


def _targets(node: ast.Assign | ast.AnnAssign) -> list[ast.Name]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t for t in targets if isinstance(t, ast.Name)]


@cache
def heads(folder: Path = VERSIONS_DIR) -> tuple[str, ...]:
    """The revisions no other revision builds on: one, unless two branches of migrations have not met."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in folder.glob("*.py"):
        tree = _header(path)
        revisions.add(str(_assigned(tree, "revision")))
        down = _assigned(tree, "down_revision")
        if isinstance(down, str):
            built_on.add(down)
        elif isinstance(down, tuple | list):
            built_on.update(str(revision) for revision in down)
    return tuple(sorted(revisions - built_on))

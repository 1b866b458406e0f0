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


@cache
def heads(folder: Path = VERSIONS_DIR) -> tuple[str, ...]:
    """The revisions no other revision builds on: one, unless two branches of migrations have not met."""
    revisions: set[str] = set()
    built_on: set[str] = set()
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        revisions.add(str(_assigned(tree, "revision")))
        down = _assigned(tree, "down_revision")
        if isinstance(down, str):
            built_on.add(down)
        elif isinstance(down, tuple | list):
            built_on.update(str(revision) for revision in down)
    return tuple(sorted(revisions - built_on))

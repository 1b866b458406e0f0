"""Limits on what an uploaded definition may hold, beyond what the XML parser enforces itself."""

from __future__ import annotations

import json

from lxml import etree

from .inspect import is_bpmn, local
from .model import Problem, SourceFile

# Ids and names end up in history, task lists and reports, which keep at most this many characters
# (PostgreSQL enforces it; SQLite would store anything): refuse longer ones at validation rather than
# fail when an instance first reaches the element.
MAX_NAME_CHARS = 255
MAX_FILE_NAME_CHARS = 1024


def oversized_names(tree: etree._ElementTree, filename: str) -> list[Problem]:
    problems: list[Problem] = []
    for node in tree.iter():
        if not is_bpmn(node):
            continue
        for attribute in ("id", "name"):
            value = node.get(attribute) or ""
            if len(value) > MAX_NAME_CHARS:
                problems.append(
                    Problem(
                        filename,
                        node.sourceline,
                        f"{local(node.tag)} {attribute} '{value[:30]}...' is {len(value)} characters long, "
                        f"more than the limit of {MAX_NAME_CHARS}",
                    )
                )
    return problems


def form_schema_problem(source: SourceFile) -> Problem | None:
    """A JSON form schema (SpiffArena) that is not a JSON object: say so rather than drop the form."""
    try:
        schema = json.loads(source.content)
    except RecursionError:  # CPython's decoder guards its recursion: a clean error, never a crash
        return Problem(source.name, None, "not a JSON form schema: nested too deeply")
    except (ValueError, UnicodeDecodeError) as exc:
        return Problem(source.name, None, f"not a JSON form schema: {exc}")
    if not isinstance(schema, dict) or not isinstance(schema.get("properties", {}), dict):
        return Problem(
            source.name, None, "a JSON form schema must be an object with an object of 'properties'"
        )
    return None

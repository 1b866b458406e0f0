"""Limits on what an uploaded definition may hold, beyond what the XML parser enforces itself."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

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


# --- bounds on the work one upload or one operation can ask for --------------------------------------
#
# SpiffWorkflow re-scans an instance's whole task tree (never pruned) after every step, and a parallel
# join checks every branch whenever one arrives, so the work of one operation grows with the square (a
# join: the cube) of its width: a sequential multi-instance of 1,000 / 3,000 instances took 2.8 / 28 s to
# start, a parallel gateway of 500 / 1,000 branches 16 / 100 s. Deploying stores every source file of the
# upload with each process in it, so a file of N processes costs N times its size. Each bound below keeps
# one operation within seconds; the defaults are far above any file of the corpus (at most 1,338
# elements, 9 processes and 15 outgoing flows per element in 3,592 files).

ELEMENTS_ENV = "HANDOFF_MAX_ELEMENTS"
PROCESSES_ENV = "HANDOFF_MAX_PROCESSES"
BRANCHES_ENV = "HANDOFF_MAX_BRANCHES"
MULTI_INSTANCE_ENV = "HANDOFF_MAX_MULTI_INSTANCE"
CALL_DEPTH_ENV = "HANDOFF_MAX_CALL_DEPTH"


@dataclass(frozen=True)
class WorkBounds:
    """Per upload: BPMN elements and processes. Per element: sequence flows leaving or meeting it. Per
    multi-instance activity: its instances. Per instance: call activities and subprocesses nested."""

    elements: int = 10_000
    processes: int = 50
    branches: int = 100
    multi_instance: int = 1_000
    call_depth: int = 10

    @classmethod
    def from_env(cls) -> WorkBounds:
        """The defaults, overridden by HANDOFF_MAX_ELEMENTS, _PROCESSES, _BRANCHES, _MULTI_INSTANCE and
        _CALL_DEPTH; ValueError naming the setting for a value that is not a whole number above 0."""
        default = cls()
        values = {}
        for name, env in (
            ("elements", ELEMENTS_ENV),
            ("processes", PROCESSES_ENV),
            ("branches", BRANCHES_ENV),
            ("multi_instance", MULTI_INSTANCE_ENV),
            ("call_depth", CALL_DEPTH_ENV),
        ):
            raw = os.environ.get(env, "").strip()
            if not raw:
                values[name] = getattr(default, name)
                continue
            if not raw.isascii() or not raw.isdigit() or len(raw) > 9 or int(raw) < 1:
                raise ValueError(f"{env}={raw[:40]!r} must be a whole number from 1 to 999,999,999")
            values[name] = int(raw)
        return cls(**values)


_bounds: WorkBounds | None = None


def work_bounds() -> WorkBounds:
    """The bounds of this process, read from the environment once (ValueError: a bad setting)."""
    global _bounds
    if _bounds is None:
        _bounds = WorkBounds.from_env()
    return _bounds


def reset_work_bounds() -> None:
    """Read the environment again at the next `work_bounds()` (tests, long-lived embedding processes)."""
    global _bounds
    _bounds = None


def upload_problems(trees: dict[str, etree._ElementTree]) -> list[Problem]:
    """Refuse, before SpiffWorkflow parses anything, an upload larger than the bounds: elements and
    processes in all its BPMN files, sequence flows leaving or meeting one element, and literal
    multi-instance cardinalities."""
    try:
        bounds = work_bounds()
    except ValueError as exc:
        return [Problem("(settings)", None, str(exc))]
    problems: list[Problem] = []
    elements = processes = 0
    for name, tree in trees.items():
        outgoing: dict[str, int] = {}
        incoming: dict[str, int] = {}
        first_line: dict[str, int | None] = {}
        for node in tree.iter():
            if not is_bpmn(node):
                continue
            elements += 1
            tag = local(node.tag)
            if tag != "sequenceFlow" and node.get("id"):
                first_line[node.get("id", "")] = node.sourceline
            if tag == "process":
                processes += 1
            elif tag == "sequenceFlow":
                for ends, end in ((outgoing, node.get("sourceRef")), (incoming, node.get("targetRef"))):
                    if end:
                        ends[end] = ends.get(end, 0) + 1
                        first_line.setdefault(end, node.sourceline)
            elif tag == "loopCardinality":
                problems.extend(_cardinality_problem(node, name, bounds))
        for ends, word in ((outgoing, "leave"), (incoming, "meet at")):
            for element, count in ends.items():
                if count > bounds.branches:
                    problems.append(
                        Problem(
                            name,
                            first_line.get(element),
                            f"{count:,} sequence flows {word} element '{element[:60]}', more than the limit of "
                            f"{bounds.branches:,} ({BRANCHES_ENV})",
                        )
                    )
    where = ", ".join(trees)[:200]
    if processes > bounds.processes:
        problems.append(
            Problem(
                where,
                None,
                f"the upload holds {processes:,} processes, more than the limit of {bounds.processes:,} "
                f"({PROCESSES_ENV}); deploy them in several uploads",
            )
        )
    if elements > bounds.elements:
        problems.append(
            Problem(
                where,
                None,
                f"the upload holds {elements:,} BPMN elements, more than the limit of {bounds.elements:,} "
                f"({ELEMENTS_ENV})",
            )
        )
    return problems


def _cardinality_problem(node: etree._Element, name: str, bounds: WorkBounds) -> list[Problem]:
    text = (node.text or "").strip()
    if not (text.isascii() and text.isdigit()):
        return []  # an expression: checked when it is evaluated
    count = int(text) if len(text) <= 18 else bounds.multi_instance + 1
    if count <= bounds.multi_instance:
        return []
    activity = node.getparent()
    activity = activity.getparent() if activity is not None else None
    what = (
        f"{local(activity.tag)} '{activity.get('id')}'"
        if activity is not None
        else "a multi-instance activity"
    )
    return [
        Problem(
            name,
            node.sourceline,
            f"{what} would run {text[:20]} instances, more than the limit of {bounds.multi_instance:,} "
            f"({MULTI_INSTANCE_ENV})",
        )
    ]

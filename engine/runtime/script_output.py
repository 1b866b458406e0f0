"""What scripts leave in the data is held to the rules of people's input (docs/hostile-input.md).

Task data is stored as JSON with the instance, copied from task to task, shown by `show` and exported.
A script can put there what JSON cannot say (a set, a generator, a complex number, an exception, a
function in a list, the sandbox's `datetime` helper), data that refers to itself, data nested 200,000
deep, or a string of 200 MiB; each used to end as a traceback, a value silently stored as its `repr`, or
a database and a process grown by gigabytes. Here the same limits as for people's data apply: JSON types
(plus the date and money types the sandbox offers, which the stored state keeps exactly), 64 KiB per
string, 20 levels, 64-bit whole numbers, finite numbers, no control characters, and 1 MiB for what one
script (or one task of an operation) changed. A violation fails the task: an incident naming it.

Two checks: `check_variables` on what each sandboxed script assigned, before the data takes it (so that a
bomb never reaches the next task), and `check_script_output` after the engine steps of every operation,
on everything the operation's tasks changed however they changed it (in place, trusted scripts, DMN,
multi-instance collections).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.task import Task

from engine.input_limits import (
    MAX_DEPTH,
    MAX_INT,
    MAX_KEY_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_STRING_BYTES,
    MIN_INT,
    human_size,
)

# Beyond JSON: the helpers' types, which the serializer registry stores and restores exactly.
_HELPER_TYPES = (Decimal, datetime, date, timedelta)
_SCALARS = frozenset({str, int, float, bool, type(None)})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_MISSING = object()
# All the data one script has in reach: the data of several calls (1 MiB each) and what scripts added,
# but not a store that grows script after script (each script may use 256 MiB while it runs).
MAX_DATA_BYTES = 16 * MAX_PAYLOAD_BYTES


class ScriptOutputInvalid(Exception):
    """A task left data that cannot be stored: not JSON, too large, too deep, or referring to itself."""

    def __init__(self, message: str, task: Task | None = None) -> None:
        super().__init__(message)
        self.task = task


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _field(what: str, parts: Iterable[str | int]) -> str:
    return f"{what} '{_path(parts)}'" if what else _path(parts)


def _kind(value: Any) -> str:
    kind = type(value).__name__
    if kind == "Namespace":  # engine/runtime/sandbox/names.py (which imports this module)
        return "the sandbox's date and time helper"
    if isinstance(value, BaseException):
        return f"an exception ({kind})"
    if callable(value):
        return f"a function or callable ({kind})"
    if isinstance(value, (complex, time)):
        return f"a {kind} number" if kind == "complex" else "a time of day"
    return f"a {kind}" if kind[0] not in "aeiou" else f"an {kind}"


def _scalar_size(value: Any, field: str) -> tuple[int, int]:
    """Lower and upper bounds of a scalar's JSON size, or ScriptOutputInvalid."""
    kind = type(value)
    if kind is str:
        size = len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))
        if size > MAX_STRING_BYTES:
            raise ScriptOutputInvalid(
                f"{field} is a string of {size:,} bytes, more than the limit of {human_size(MAX_STRING_BYTES)}"
            )
        bad = _CONTROL.search(value)
        if bad:
            raise ScriptOutputInvalid(
                f"{field} contains a control character or a lone surrogate (U+{ord(bad.group()):04X})"
            )
        return size + 2, 2 * size + 2
    if kind is bool or value is None:
        return 4, 5
    if kind is int:
        if not MIN_INT <= value <= MAX_INT:
            raise ScriptOutputInvalid(f"{field} is a whole number beyond 64 bits")
        return 1, 20
    if kind is float:
        if not math.isfinite(value):
            raise ScriptOutputInvalid(
                f"{field} is {value!r}, not a finite number (NaN and Infinity are not JSON)"
            )
        return 1, 24
    if isinstance(value, _HELPER_TYPES):
        if isinstance(value, Decimal) and not value.is_finite():
            raise ScriptOutputInvalid(f"{field} is Decimal {value}, not a finite number")
        if isinstance(value, Decimal) and len(value.as_tuple()[1]) > 1000:
            raise ScriptOutputInvalid(f"{field} is a Decimal of more than 1,000 digits")
        return 10, 80
    raise ScriptOutputInvalid(
        f"{field} is {_kind(value)}, which cannot be stored as task data "
        "(JSON values, dates, datetimes, timedeltas and Decimals only)"
    )


def _check(values: Mapping[str, Any], what: str, limit: int = MAX_PAYLOAD_BYTES) -> tuple[int, int]:
    """Walk `values` (name -> value) without recursion: Python's stack and memory stay bounded whatever
    the depth, size or cycles of the data. Returns lower and upper bounds of its JSON size; stops early
    once the lower bound passes `limit`."""
    low = high = 0
    # (value, path, depth, ids of the containers above it)
    stack: list[tuple[Any, tuple[str | int, ...], int, tuple[int, ...]]] = [
        (value, (name,), 1, ()) for name, value in values.items()
    ]
    while stack and low <= limit:
        value, parts, depth, above = stack.pop()
        is_dict = isinstance(value, dict)
        if not is_dict and not isinstance(value, list):
            more_low, more_high = _scalar_size(value, _field(what, parts))
            low, high = low + more_low, high + more_high
            continue
        field = _field(what, parts)
        if id(value) in above:
            raise ScriptOutputInvalid(f"{field} refers to itself (it contains itself), which JSON cannot say")
        if depth > MAX_DEPTH:
            raise ScriptOutputInvalid(f"{field} is nested deeper than {MAX_DEPTH} levels")
        inner = (*above, id(value))
        if is_dict:
            low, high = low + 2, high + 2
            for key, item in value.items():
                if not isinstance(key, str):
                    raise ScriptOutputInvalid(
                        f"{field} has a key that is not text ({type(key).__name__} {key!r:.40})"
                    )
                if not key or len(key) > MAX_KEY_CHARS or _CONTROL.search(key):
                    raise ScriptOutputInvalid(
                        f"{field} has a key {key[:40]!r} that is empty, longer than {MAX_KEY_CHARS} characters "
                        "or holds a control character"
                    )
                low, high = low + len(key) + 3, high + 2 * len(key) + 4
                stack.append((item, (*parts, key), depth + 1, inner))
        else:
            low, high = low + len(value) + 1, high + len(value) + 2
            stack.extend((item, (*parts, i), depth + 1, inner) for i, item in enumerate(value))
    return low, high


def _check_size(
    values: Mapping[str, Any], bounds: tuple[int, int], what: str, limit: int = MAX_PAYLOAD_BYTES
) -> None:
    low, high = bounds
    if low > limit:
        raise ScriptOutputInvalid(f"{what} is more than the limit of {human_size(limit)} as JSON")
    if high <= limit:
        return
    # Between the bounds: what counts is the compact JSON that will be stored.
    size = len(json.dumps(values, ensure_ascii=False, separators=(",", ":"), default=str).encode())
    if size > limit:
        raise ScriptOutputInvalid(
            f"{what} is {size:,} bytes as JSON, more than the limit of {human_size(limit)}"
        )


def check_variables(assigned: Mapping[str, Any], kept: Mapping[str, Any]) -> None:
    """After a script ran, before the task data takes what it assigned: `assigned` (name -> value) holds
    what it assigned or changed in place, at most 1 MiB; `kept` the lists and dicts of the data it left
    as they were, at most `MAX_DATA_BYTES` with the rest, so that data cannot grow script after script.
    Functions at the top level are dropped from the data as SpiffWorkflow drops them; anywhere else they
    cannot be stored."""
    values = {k: v for k, v in assigned.items() if not callable(v)}
    if values:
        if all(type(v) in _SCALARS and (type(v) is not str or len(v) < 1024) for v in values.values()):
            for name, value in values.items():  # the common case: a few short plain values
                kind = type(value)
                if (kind is int and MIN_INT <= value <= MAX_INT) or kind is bool or value is None:
                    continue
                _scalar_size(value, f"variable '{name}'")
            low, high = len(values) * 4, len(values) * 2050
        else:
            low, high = _check(values, "variable")
            _check_size(values, (low, high), "what the script assigned or changed")
    else:
        low = high = 0
    if kept:
        kept_low, kept_high = _check(kept, "variable", MAX_DATA_BYTES - low)
        if low + kept_low > MAX_DATA_BYTES or high + kept_high > MAX_DATA_BYTES:
            _check_size(
                {**kept, **values}, (low + kept_low, high + kept_high), "the task data", MAX_DATA_BYTES
            )


def check_expression_value(value: Any) -> Any:
    """The value of an expression (a condition, a cardinality, a timer, a DMN cell) may become task data
    (a decision's result does): it is held to the same rules. Returns it."""
    kind = type(value)
    if kind is bool or kind is int or value is None:  # conditions and cardinalities: the common case
        if kind is int and not MIN_INT <= value <= MAX_INT:
            raise ScriptOutputInvalid("the expression's value is a whole number beyond 64 bits")
        return value
    named = {"the expression's value": value}
    _check_size(named, _check(named, ""), "the expression's value")
    return value


def _changed(task: Task) -> dict[str, Any]:
    """What `task` changed in its data, compared with its parent's (deep copies compare equal)."""
    parent = task.parent.data if task.parent is not None else {}
    changed = {}
    for key, value in task.data.items():
        before = parent.get(key, _MISSING)
        if before is value:
            continue
        if before is not _MISSING and type(before) is type(value):
            try:
                if before == value:
                    continue
            except (RecursionError, TypeError, ValueError):  # data that cannot even be compared
                pass
        changed[key] = value
    return changed


def check_script_output(workflow: BpmnWorkflow, completed: Iterable[Task]) -> None:
    """After the engine steps of an operation: the data each task of `completed` changed must be data
    Handoff can store. Otherwise raises ScriptOutputInvalid naming the first task that left something
    else, after taking that task back (SpiffWorkflow's reset, then ERROR): the state saved with the
    incident holds nothing that cannot be stored, and `handoff retry` runs the task again."""
    for task in completed:
        changed = _changed(task)
        if not changed:
            continue
        kept = {k: v for k, v in changed.items() if not callable(v)}
        try:
            _check_size(kept, _check(kept, "variable"), "what the task changed")
        except ScriptOutputInvalid as exc:
            _take_back(workflow, task)
            raise ScriptOutputInvalid(str(exc), task) from None


def _take_back(workflow: BpmnWorkflow, task: Task) -> None:
    """Undo `task` and what followed it (SpiffWorkflow's reset), and mark it failed. If the workflow
    completed meanwhile, SpiffWorkflow copied the last task's data into the workflow's own: undo that
    too, keeping only what can be stored."""
    workflow.reset_from_task_id(task.id)
    task.error()
    if workflow.completed:
        workflow.completed = False
        for key in list(workflow.data):
            try:
                _check({key: workflow.data[key]}, "variable")
            except ScriptOutputInvalid:
                del workflow.data[key]

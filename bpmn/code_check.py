"""Every piece of code a process carries, compiled at validate and deploy, so a broken model is refused
with `file:line: message` naming its element instead of failing later as an incident.

The code is read from the parsed spec (what SpiffWorkflow will run, after Camunda's expressions and
DMN's FEEL tests were translated): scripts, pre- and post-scripts, gateway conditions, multi-instance
cardinality and completion conditions, loop conditions, timer and conditional-event expressions, DMN
input expressions, input entries and output entries. How a text compiles is the caller's (`CodeCheck`):
the engine compiles it under the sandbox's policy, so what the sandbox would refuse at run time is
refused here, by the same words.

Timers must give an ISO 8601 text: a literal is parsed here as SpiffWorkflow will parse it, and an
expression that plainly gives something else (a number, `timedelta(...)`, `datetime(...)`) is refused.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from .model import Problem

CodeCheck = Callable[[str, str], "tuple[int, str] | None"]
"""`check(source, mode)` with mode "exec" or "eval": None when it compiles, else (line in the source,
message)."""

_TIMERS = {
    "TimeDateEventDefinition": "date",
    "DurationTimerEventDefinition": "duration",
    "CycleTimerEventDefinition": "cycle",
}
# Calls whose result is never an ISO 8601 text: a timer given one fails when the instance reaches it.
_NOT_TEXT_CALLS = frozenset(
    {"timedelta", "datetime", "date", "time", "now", "utcnow", "today", "int", "float", "len", "sum"}
)
_SPIFF_INPUT = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")  # as SpiffWorkflow's DMN engine


@dataclass(frozen=True)
class Snippet:
    """One text of code, where it is and how SpiffWorkflow runs it."""

    element: str  # bpmn id of the element (or DMN entry) it belongs to
    where: str  # how a person finds it: "scriptTask 'Compute' (script)"
    mode: str  # exec, eval, timer:<kind> or dmn-input
    text: str


def _label(task_spec: dict[str, Any]) -> str:
    kind = str(task_spec.get("typename", "element"))
    kind = kind[0].lower() + kind[1:]
    name = task_spec.get("bpmn_name") or task_spec.get("bpmn_id")
    return f"{kind} '{name}'"


def snippets(spec: dict[str, Any]) -> Iterator[Snippet]:
    """The code of a serialized process spec and its subprocess specs."""
    specs = [spec["spec"], *(spec.get("subprocess_specs") or {}).values()]
    for one in specs:
        task_specs = one.get("task_specs", {})
        for task_spec in task_specs.values():
            bpmn_id = task_spec.get("bpmn_id")
            if not bpmn_id:
                continue
            yield from _of_task(str(bpmn_id), task_spec, task_specs)


def _of_task(bpmn_id: str, ts: dict[str, Any], task_specs: dict[str, Any]) -> Iterator[Snippet]:
    label = _label(ts)
    for key, what in (("script", "script"), ("prescript", "pre-script"), ("postscript", "post-script")):
        if isinstance(ts.get(key), str) and ts[key].strip():
            yield Snippet(bpmn_id, f"{label} ({what})", "exec", ts[key])
    for branch in ts.get("cond_task_specs") or []:
        condition = branch.get("condition")
        if isinstance(condition, str):
            target = task_specs.get(branch.get("task_spec"), {})
            to = target.get("bpmn_id") or str(branch.get("task_spec", "")).split(".")[0]
            yield Snippet(bpmn_id, f"{label} (the condition of its flow to '{to}')", "eval", condition)
    if "task_spec" in ts and ("cardinality" in ts or "condition" in ts):  # multi-instance and loops
        for key, what in (("cardinality", "loop cardinality"), ("condition", "completion condition")):
            if isinstance(ts.get(key), str) and ts[key].strip():
                yield Snippet(bpmn_id, f"{label} ({what})", "eval", ts[key])
    definition = ts.get("event_definition") or {}
    kind = _TIMERS.get(definition.get("typename", ""))
    if kind is not None and isinstance(definition.get("expression"), str):
        yield Snippet(bpmn_id, f"{label} (timer {kind})", f"timer:{kind}", definition["expression"])
    elif definition.get("typename") == "ConditionalEventDefinition" and definition.get("expression"):
        yield Snippet(bpmn_id, f"{label} (condition)", "eval", str(definition["expression"]))
    table = ts.get("decision_table")
    if table:
        yield from _of_table(table)


def _of_table(table: dict[str, Any]) -> Iterator[Snippet]:
    name = table.get("name") or table.get("id")
    inputs = {i.get("id"): i for i in table.get("inputs", [])}
    for one in inputs.values():
        if one.get("expression"):
            label = one.get("label") or one.get("id")
            yield Snippet(str(one.get("id")), f"decision '{name}' input '{label}'", "eval", one["expression"])
    for rule in table.get("rules", []):
        row = rule.get("row_number")
        for entry in rule.get("input_entries", []):
            column = inputs.get(entry.get("input_id"), {})
            label = column.get("label") or entry.get("input_id")
            for lhs in entry.get("lhs") or []:
                if isinstance(lhs, str) and lhs.strip():
                    where = f"decision '{name}' rule {row}, input '{label}'"
                    yield Snippet(str(entry.get("id")), where, "dmn-input", lhs)
        for entry in rule.get("output_entries", []):
            if isinstance(entry.get("text"), str) and entry["text"].strip():
                where = f"decision '{name}' rule {row}, output '{entry.get('output_id')}'"
                yield Snippet(str(entry.get("id")), where, "eval", entry["text"])
    for child in table.get("decision_tables", []) or []:
        yield from _of_table(child)


def _timer_problem(kind: str, text: str, check: CodeCheck) -> str | None:
    failed = check(text, "eval")
    if failed is not None:
        return failed[1]
    tree = ast.parse(text.strip(), mode="eval").body
    try:
        value = ast.literal_eval(tree)
    except (ValueError, SyntaxError, TypeError):
        value = None
        if isinstance(tree, ast.Call):
            func = tree.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in _NOT_TEXT_CALLS:
                return f'{called}(...) does not give an ISO 8601 text; write a text such as "PT10M"'
        return None  # computed from the instance's data: checked when it runs
    if not isinstance(value, str):
        return f'{text.strip()!r} is not an ISO 8601 text; write a text such as "PT10M"'
    try:
        if kind == "duration":
            TimerEventDefinition.parse_iso_duration(value)
        elif kind == "date":
            TimerEventDefinition.parse_time_or_duration(value)
        else:
            TimerEventDefinition.parse_iso_recurring_interval(value)
    except Exception as exc:  # noqa: BLE001 - SpiffWorkflow's ISO 8601 parsers raise bare Exceptions
        return f"{value!r} is not a valid ISO 8601 {kind} ({exc})"
    return None


def _dmn_input_problem(text: str, check: CodeCheck) -> str | None:
    """As SpiffWorkflow's DMN engine reads an input entry: `?` for the input, else a value or `v <test>`."""
    if "?" in text and _SPIFF_INPUT.search(text):
        failed = check(_SPIFF_INPUT.sub("dmninputexpr", text), "eval")
        return None if failed is None else failed[1]
    if check(text, "eval") is None or check(f"v {text}", "eval") is None:
        return None
    failed = check(text, "eval")
    assert failed is not None
    return (
        f"'{text.strip()}' is neither a Python test nor a FEEL test Handoff translates (ranges [a..b], "
        f'comparisons < 5, lists "a","b", -, not(...)): {failed[1]}'
    )


def code_problems(
    spec: dict[str, Any], lines: Callable[[str], tuple[str, int | None]], check: CodeCheck
) -> list[Problem]:
    """A problem for each text of `spec` that does not compile or cannot work; `lines(element id)` says
    in which file and on which line an element is."""
    problems: list[Problem] = []
    seen: set[tuple[str, str, str]] = set()
    for snippet in snippets(spec):
        key = (snippet.element, snippet.where, snippet.text)
        if key in seen:  # a multi-instance child repeats its parent's script
            continue
        seen.add(key)
        if snippet.mode.startswith("timer:"):
            message = _timer_problem(snippet.mode.partition(":")[2], snippet.text, check)
        elif snippet.mode == "dmn-input":
            message = _dmn_input_problem(snippet.text, check)
        else:
            failed = check(snippet.text, snippet.mode)
            message = None if failed is None else failed[1]
        if message is not None:
            file_name, line = lines(snippet.element)
            problems.append(Problem(file_name, line, f"{snippet.where}: {message}"))
    return problems


__all__ = ["CodeCheck", "Snippet", "code_problems", "snippets"]

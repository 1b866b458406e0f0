"""Camunda DMN's common FEEL unary tests, translated to the Python tests SpiffWorkflow's DMN engine runs.

Camunda Modeler writes a rule's input entries in FEEL: ranges (`[100..500]`, `(0..10]`, `]1..5[`),
comparisons (`< 5`), lists (`"gold","silver"`), "any" (`-`) and negation (`not("a","b")`). SpiffWorkflow
reads an input entry as Python: a comparison or a single value already means the same, but a range, a
list, `-` or `not(...)` is a syntax error (or, for a list of strings, a tuple that never equals the
input) found only when an instance reaches the decision. At deploy each such entry is rewritten in place
with SpiffWorkflow's `?` (the input's value): `100 <= ? <= 500`, `? in ("gold", "silver")`,
`not (? in ("a", "b"))` (`-` SpiffWorkflow reads as "any" itself). An entry that is neither Python nor
one of these tests is refused by the code check (bpmn/code_check.py) with its file and line. Output entries are plain values in both.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from lxml import etree

from .model import Problem

_RANGE = re.compile(r"^([\[\(\]])\s*(.+?)\s*\.\.\s*(.+?)\s*([\]\)\[])$", re.DOTALL)
_COMPARISON = re.compile(r"^(<=|>=|<|>|!=|=)\s*(.+)$", re.DOTALL)
_NOT = re.compile(r"^not\s*\((.*)\)$", re.DOTALL)
# FEEL's temporal functions read as Python calls (`date and time("...")` even parses): refused by name.
_FEEL_FUNCTIONS = re.compile(
    r"\b(date and time|years and months duration|duration|date|time)\s*\(", re.IGNORECASE
)


class NotFeel(ValueError):
    """A text that is not one of the FEEL unary tests translated here."""


@dataclass(frozen=True)
class FeelTranslation:
    entry: str
    before: str
    after: str


def _endpoint(text: str) -> str:
    """A range endpoint: a number, a string or a name, as Python."""
    text = text.strip()
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        if text.isidentifier():
            return text
        raise NotFeel(f"range endpoint {text!r} is not a number, a string or a name") from None
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        raise NotFeel(f"range endpoint {text!r} is not a number, a string or a name")
    return repr(value)


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside quotes, brackets and parentheses."""
    parts: list[str] = []
    depth = 0
    quote = ""
    current = []
    for char in text:
        if quote:
            current.append(char)
            if char == quote:
                quote = ""
            continue
        if char in "\"'":
            quote = char
        elif char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    parts.append("".join(current).strip())
    return parts


def _single(test: str) -> str:
    """One unary test (no top-level comma) as a Python test of `?`."""
    test = test.strip()
    if not test:
        raise NotFeel("an empty test in a list")
    match = _RANGE.match(test)
    if match:
        opening, low, high, closing = match.groups()
        left = "<=" if opening == "[" else "<"
        right = "<=" if closing == "]" else "<"
        return f"{_endpoint(low)} {left} ? {right} {_endpoint(high)}"
    match = _COMPARISON.match(test)
    if match:
        operator, value = match.groups()
        return f"? {'==' if operator == '=' else operator} {_endpoint(value)}"
    return f"? == {_endpoint(test)}"


def translate_unary_tests(text: str) -> str | None:
    """The Python test for a FEEL input entry, or None when `text` is already a test SpiffWorkflow reads
    the same way (a single value, a comparison, `-`). Raises NotFeel for a FEEL-looking text outside the
    translated forms."""
    body = text.strip()
    function = _FEEL_FUNCTIONS.search(body)
    if function:
        raise NotFeel(f"FEEL's {function.group(1)}() function is not translated")
    if body == "-":
        return None  # SpiffWorkflow reads "-" as "any value" itself
    negated = _NOT.match(body)
    if negated:
        if negated.group(1).strip() == "-":
            raise NotFeel("not(-) matches nothing")
        inner = translate_unary_tests(negated.group(1)) or _single(negated.group(1))
        return f"not ({inner})"
    parts = _split_top_level(body)
    if len(parts) > 1:
        values = [p for p in parts if not _RANGE.match(p) and not _COMPARISON.match(p)]
        if len(values) == len(parts):
            return f"? in ({', '.join(_endpoint(v) for v in values)})"
        return " or ".join(f"({_single(p)})" for p in parts)
    if _RANGE.match(body):
        return _single(body)
    return None


def translate_dmn(tree: etree._ElementTree, filename: str) -> tuple[list[FeelTranslation], list[Problem]]:
    """Rewrite, in place, the FEEL unary tests of a DMN document's input entries; problems name the rule
    entry of each test that looks like FEEL but is not translated."""
    done: list[FeelTranslation] = []
    problems: list[Problem] = []
    for entry in tree.getroot().iter():
        if not isinstance(entry.tag, str) or etree.QName(entry.tag).localname != "inputEntry":
            continue
        text_node = next(
            (c for c in entry if isinstance(c.tag, str) and etree.QName(c.tag).localname == "text"), None
        )
        if text_node is None or not (text_node.text or "").strip():
            continue
        before = text_node.text or ""
        try:
            after = translate_unary_tests(before)
        except NotFeel as exc:
            problems.append(
                Problem(
                    filename,
                    text_node.sourceline,
                    f"DMN input entry '{entry.get('id')}': the FEEL test '{before.strip()}' is not translated "
                    f"({exc}); write it as a Python test of ? (e.g. 1 <= ? <= 5)",
                )
            )
            continue
        if after is not None:
            text_node.text = after
            done.append(FeelTranslation(str(entry.get("id")), before.strip(), after))
    return done, problems


__all__ = ["FeelTranslation", "NotFeel", "translate_dmn", "translate_unary_tests"]

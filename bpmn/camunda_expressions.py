"""Camunda expressions that SpiffWorkflow would read as Python, translated where the meaning is plain.

Camunda writes conditions in JUEL (`${amount > 100 && !rush}`) and timers as bare ISO 8601 literals
(`PT5M`); SpiffWorkflow evaluates both as Python, where they are syntax errors or unknown names. At
deploy, before SpiffWorkflow parses a file, each such text is rewritten in place (`amount > 100 and not
rush`, `"PT5M"`) when its meaning is the same in Python, and refused by name otherwise.

The JUEL subset is small and closed (names, literals, comparisons, `&&`/`||`/`!` and their word forms,
`eq`/`ne`/`lt`/`gt`/`le`/`ge`, `empty`, arithmetic, parentheses), so a tokenizer of a few regular
expressions does it; no maintained Python library parses JUEL. What it produces is then compiled by
Python and checked against the same subset on Python's own AST, so nothing else can slip through.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from lxml import etree

from .inspect import is_bpmn, local
from .model import Problem

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[<>!()+\-*/%?:])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_WORDS = {
    "and": "and",
    "or": "or",
    "not": "not",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "true": "True",
    "false": "False",
    "null": "None",
}
_SYMBOLS = {"&&": "and", "||": "or", "!": "not"}
_REFUSED_WORDS = {"instanceof": "the instanceof operator is", "function": "functions are"}
_EMPTY = "in (None, '', [], {})"
_ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Dict,
    ast.IfExp,
)


class Untranslatable(ValueError):
    """A Camunda expression whose meaning in Python would not be plainly the same; says why."""


def translate_juel(text: str) -> str:
    """`${...}` (or `#{...}`) as an equivalent Python expression; raises Untranslatable."""
    body = text.strip()
    if not (body.startswith(("${", "#{")) and body.endswith("}")) or body.count("${") + body.count("#{") != 1:
        raise Untranslatable("only one ${...} expression, with no text around it, can be translated")
    body = body[2:-1]
    out: list[str] = []
    position = 0
    while position < len(body):
        match = _TOKEN.match(body, position)
        assert match is not None  # the `other` alternative matches any character
        position = match.end()
        kind, value = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind == "other":
            what = {".": "property access", "[": "indexing", ",": "calls"}
            raise Untranslatable(f"{what.get(value, repr(value))} is not translated")
        if kind == "string":
            out.append(repr(_unescape(value)))
        elif kind == "name":
            if value in _REFUSED_WORDS:
                raise Untranslatable(f"{_REFUSED_WORDS[value]} not translated")
            if value == "empty":
                out.append("\0empty")
            else:
                out.append(_WORDS.get(value, value))
        elif kind == "op":
            out.append(_SYMBOLS.get(value, value))
        else:
            out.append(value)
    python = _apply_empty(_conditional(out))
    _check(python)
    return python


def _conditional(tokens: list[str]) -> list[str]:
    """JUEL's `a ? b : c` (lowest precedence, right-associative) as Python's `(b) if (a) else (c)`;
    parenthesized parts are translated on their own."""
    depth = 0
    for i, token in enumerate(tokens):
        depth += (token == "(") - (token == ")")
        if token == "?" and depth == 0:
            nested, inner = 0, 0
            for j in range(i + 1, len(tokens)):
                inner += (tokens[j] == "(") - (tokens[j] == ")")
                if inner == 0 and tokens[j] == "?":
                    nested += 1
                elif inner == 0 and tokens[j] == ":":
                    if nested == 0:
                        cond, then, other = tokens[:i], tokens[i + 1 : j], tokens[j + 1 :]
                        return [
                            "(", *_conditional(then), ")", "if", "(", *_conditional(cond), ")",
                            "else", "(", *_conditional(other), ")",
                        ]  # fmt: skip
                    nested -= 1
            raise Untranslatable("a conditional operator ? has no matching :")
        if token == ":" and depth == 0:
            raise Untranslatable("a : without a conditional operator ? before it")
    out: list[str] = []
    i = 0
    while i < len(tokens):  # no top-level ?: translate each parenthesized group on its own
        if tokens[i] != "(":
            out.append(tokens[i])
            i += 1
            continue
        depth, j = 0, i
        while j < len(tokens):
            depth += (tokens[j] == "(") - (tokens[j] == ")")
            if depth == 0:
                break
            j += 1
        out.extend(["(", *_conditional(tokens[i + 1 : j]), ")"])
        i = j + 1
    return out


def _unescape(literal: str) -> str:
    return re.sub(r"\\(.)", r"\1", literal[1:-1], flags=re.DOTALL)


def _apply_empty(tokens: list[str]) -> str:
    """`empty x` is true for null, "" and empty collections (never for 0 or false, unlike Python's not)."""
    parts: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "\0empty":
            operand = tokens[i + 1] if i + 1 < len(tokens) else ""
            if not operand.isidentifier() or operand in ("and", "or", "not", "True", "False", "None"):
                raise Untranslatable("empty is translated only before a variable name")
            parts.append(f"({operand} {_EMPTY})")
            i += 2
            continue
        parts.append(token)
        i += 1
    return " ".join(parts).replace("( ", "(").replace(" )", ")")


def _check(python: str) -> None:
    if not python:
        raise Untranslatable("it is empty")
    try:
        tree = ast.parse(python, mode="eval")
    except SyntaxError as exc:
        raise Untranslatable(f"it is not a well-formed expression ({exc.msg})") from exc
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise Untranslatable(f"{type(node).__name__} is outside the translated subset")


# ISO 8601 as Camunda's timers take it: a duration, a date-time, or a repeating interval.
_DURATION = (
    r"-?P(?=\d|T\d)(?:\d+Y)?(?:\d+M)?(?:\d+W)?(?:\d+D)?(?:T(?=\d)(?:\d+H)?(?:\d+M)?(?:\d+(?:[.,]\d+)?S)?)?"
)
_DATETIME = r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_ISO_LITERAL = re.compile(
    rf"^(?:{_DURATION}|{_DATETIME}|R\d*/(?:{_DURATION}|{_DATETIME})(?:/(?:{_DURATION}|{_DATETIME}))?)$"
)
_TIMER_TAGS = ("timeDuration", "timeDate", "timeCycle")
_CONDITION_TAGS = ("conditionExpression", "completionCondition", "condition", "loopCardinality")


def translate_timer(text: str) -> str | None:
    """A timer expression SpiffWorkflow can evaluate, or None when `text` needs no change."""
    body = text.strip()
    if _ISO_LITERAL.match(body):
        return repr(body).replace("'", '"')
    if body.startswith(("${", "#{")):
        return translate_juel(body)
    return None


@dataclass(frozen=True)
class Translation:
    element: str
    before: str
    after: str


def translate_document(tree: etree._ElementTree, filename: str) -> tuple[list[Translation], list[Problem]]:
    """Rewrite, in place, the JUEL conditions and bare ISO 8601 timer literals of a BPMN document;
    problems name the element of each expression that cannot be translated."""
    done: list[Translation] = []
    problems: list[Problem] = []
    for node in tree.getroot().iter():
        if not is_bpmn(node, *_TIMER_TAGS, *_CONDITION_TAGS) or node.text is None:
            continue
        text = node.text
        is_timer = local(node.tag) in _TIMER_TAGS
        if not is_timer and "${" not in text and "#{" not in text:
            continue
        owner = _owner(node)
        try:
            translated = translate_timer(text) if is_timer else translate_juel(text)
        except Untranslatable as exc:
            problems.append(
                Problem(
                    filename,
                    node.sourceline,
                    f"element '{owner}': Camunda expression '{text.strip()}' cannot be translated ({exc})",
                )
            )
            continue
        if translated is not None and translated != text:
            node.text = translated
            done.append(Translation(owner, text.strip(), translated))
    return done, problems


def _owner(node: etree._Element) -> str:
    """The id of the nearest element that has one: the flow, event or task the expression belongs to."""
    current: etree._Element | None = node
    while current is not None:
        if current.get("id") and local(current.tag) not in (
            "timerEventDefinition",
            "conditionalEventDefinition",
        ):
            return str(current.get("id"))
        current = current.getparent()
    return local(node.tag)


__all__ = ["Translation", "Untranslatable", "translate_document", "translate_juel", "translate_timer"]

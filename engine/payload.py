"""Data that people send (start, complete, retry): refuse what no form would ever need.

Every value becomes task data that scripts and conditions read as Python variables, that is stored as
JSON in SQLite and PostgreSQL, and that people see again in `show` and in exports. So, before any form
check: plain JSON types only, finite numbers, 64-bit whole numbers, bounded strings, depth and size, no
control characters, no lone surrogates, and field names that cannot reach Python's internals. Limits
are in `limits.py`; docs/hostile-input.md is the user's description of the same rules.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .errors import InvalidInput
from .input_limits import (
    MAX_DEPTH,
    MAX_INT,
    MAX_KEY_CHARS,
    MAX_NAME_CHARS,
    MAX_PAYLOAD_BYTES,
    MAX_STRING_BYTES,
    MIN_INT,
    human_size,
)

# C0 controls except tab, line feed and carriage return (a note may have several lines), DEL and C1:
# nothing a person types, and some of them drive terminals when the value is shown again.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_DECODE_DEPTH = 5 * MAX_DEPTH
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# Tokens that change the nesting depth of JSON text, skipping string literals.
# An unterminated string runs to the end (the optional closing quote), so the scan stays linear.
_JSON_NESTING = re.compile(r'"(?:[^"\\]|\\.)*+"?|[\[\]{}]', re.DOTALL)


def show(value: Any, limit: int = 40) -> str:
    """A value for an error message: its repr, cut short, so that a huge value stays a short line."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _path(parts: tuple[str | int, ...]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def check_payload(data: Mapping[Any, Any], where: str, *, names_are_variables: bool = True) -> dict[str, Any]:
    """`data` as a dict if it is safe to store and to hand to scripts, else InvalidInput naming `where`
    (e.g. "task 5 (Register order)") and the field.

    `names_are_variables`: top-level names must be Python identifiers (they become script variables);
    a form's own field ids are accepted as the designer wrote them, so `forms.check` passes False.
    """
    if not isinstance(data, Mapping):
        raise InvalidInput(f"data for {where} must be an object of fields, got {type(data).__name__}")
    data = dict(data)
    # Iterative, so that neither deep nor self-referencing data can exhaust Python's stack here, and
    # counting a lower bound of the JSON size as it goes, so that a huge payload stops the walk early.
    budget = MAX_PAYLOAD_BYTES
    stack: list[tuple[Any, tuple[str | int, ...], int]] = [(data, (), 1)]
    while stack and budget >= 0:
        value, parts, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            raise InvalidInput(f"{_field(parts, where)} is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            budget -= 2
            for key, item in value.items():
                _check_key(key, parts, where, top=names_are_variables and not parts)
                budget -= len(key) + 3
                stack.append((item, (*parts, key), depth + 1))
        elif isinstance(value, list):
            budget -= len(value) + 1
            stack.extend((item, (*parts, i), depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            budget -= _check_string(value, lambda parts=parts: _field(parts, where)) + 2  # type: ignore[misc]
        elif value is None or isinstance(value, bool):
            budget -= 4
        elif isinstance(value, int):
            if not MIN_INT <= value <= MAX_INT:
                raise InvalidInput(f"{_field(parts, where)} is a whole number beyond 64 bits ({show(value)})")
            budget -= 1
        elif isinstance(value, float):
            if not math.isfinite(value):
                raise InvalidInput(
                    f"{_field(parts, where)} must be a finite number, got {value!r} (NaN and Infinity are "
                    "not JSON)"
                )
            budget -= 3
        else:
            raise InvalidInput(
                f"{_field(parts, where)} is not JSON data: {type(value).__name__} {show(value)}"
            )
    limit = human_size(MAX_PAYLOAD_BYTES)
    if budget < 0:
        raise InvalidInput(f"data for {where} is more than the limit of {limit} as JSON")
    # The walk gave a lower bound; the figure that counts is the compact JSON that will be stored.
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidInput(f"data for {where} is {size:,} bytes as JSON, more than the limit of {limit}")
    return data


def _field(parts: tuple[str | int, ...], where: str) -> str:
    """How an error names a value (made only for an error: the walk visits every value)."""
    return f"field '{_path(parts)}' of {where}"


def _check_key(key: Any, parts: tuple[str | int, ...], where: str, *, top: bool) -> None:
    if (
        isinstance(key, str)
        and 0 < len(key) <= MAX_KEY_CHARS
        and not (top and (not key.isidentifier() or key.startswith("__")))
        and not (_CONTROL.search(key) or _SURROGATE.search(key))
    ):
        return  # the common case, without making the texts of the errors
    inside = f" in '{_path(parts)}'" if parts else ""
    if not isinstance(key, str):
        raise InvalidInput(f"field names of {where} must be strings; got {show(key)}{inside}")
    if len(key) > MAX_KEY_CHARS:
        raise InvalidInput(
            f"field name {show(key)}{inside} of {where} is longer than {MAX_KEY_CHARS} characters"
        )
    if not key:
        raise InvalidInput(f"an empty field name{inside} of {where} is not allowed")
    if _CONTROL.search(key) or _SURROGATE.search(key):
        raise InvalidInput(f"field name {show(key)}{inside} of {where} contains a control character")
    if top and not key.isidentifier():
        raise InvalidInput(
            f"field name {show(key)} of {where} is not a valid variable name (scripts read fields as variables)"
        )
    if top and key.startswith("__"):
        # `__builtins__` and friends in task data would reach the script engine's globals.
        raise InvalidInput(f"field name {show(key)} of {where} is reserved (names may not start with '__')")


def _check_string(value: str, what: Callable[[], str]) -> int:
    """The string's size in bytes at most; `what()` names it in an error (made only then)."""
    bad = _SURROGATE.search(value)
    if bad:
        raise InvalidInput(f"{what()} is not valid Unicode (a lone surrogate at position {bad.start()})")
    # 4 bytes per character at most: skip the encoding for the strings that cannot be too long.
    size = len(value) if len(value) * 4 <= MAX_STRING_BYTES else len(value.encode())
    if size > MAX_STRING_BYTES:
        raise InvalidInput(
            f"{what()} is {size:,} bytes long, more than the limit of {human_size(MAX_STRING_BYTES)}"
        )
    bad = _CONTROL.search(value)
    if bad:
        raise InvalidInput(
            f"{what()} contains a control character (U+{ord(bad.group()):04X}) at position {bad.start()}"
        )
    return size


def check_note(value: str, what: str) -> None:
    """Text people write beside data (a comment): the limits of one form value, lines allowed."""
    _check_string(value, lambda: what)


def check_text(value: str | None, what: str, max_chars: int = MAX_NAME_CHARS) -> None:
    """A short single-line text people give beside data (a business key): bounded, no control characters."""
    if value is None:
        return
    if len(value) > max_chars:
        raise InvalidInput(f"{what} is {len(value):,} characters long, more than the limit of {max_chars}")
    if _CONTROL.search(value) or _SURROGATE.search(value) or "\n" in value or "\r" in value:
        raise InvalidInput(f"{what} {show(value)} contains a control character or a line break")


def load_json_object(text: str, option: str = "--data-json") -> dict[str, Any]:
    """Decode a JSON object given on the command line, refusing before decoding what would hurt to decode.

    NaN and Infinity are decoded (as Python would) so that `check_payload` names the task and the field
    when it refuses them; duplicate names are refused here, since only one of them could be kept.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidInput(
            f"{option} is {size:,} bytes, more than the limit of {human_size(MAX_PAYLOAD_BYTES)}"
        )
    depth = deepest = 0
    for token in _JSON_NESTING.finditer(text):
        mark = token.group()
        if mark in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > _DECODE_DEPTH:
                # Refused before decoding: Python's decoder recurses once per level. Anything deeper
                # than MAX_DEPTH but shallower than this is decoded, so that check_payload can name
                # the task and the field.
                raise InvalidInput(f"{option} is nested deeper than {MAX_DEPTH} levels")
        elif mark in "]}":
            depth -= 1
    try:
        loaded = json.loads(text, object_pairs_hook=_no_duplicates(option), parse_int=_parse_int(option))
    except InvalidInput:
        raise
    except RecursionError:  # the scan above should have caught it; never a traceback regardless
        raise InvalidInput(f"{option} is nested too deeply") from None
    except ValueError as exc:
        raise InvalidInput(f"{option} is not valid JSON: {exc}") from exc
    if not isinstance(loaded, dict):
        raise InvalidInput(f"{option} must be a JSON object, like '{{\"amount\": 100}}'")
    return loaded


def _no_duplicates(option: str) -> Any:
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise InvalidInput(f"{option} gives {show(key)} twice")
            out[key] = value
        return out

    return hook


def _parse_int(option: str) -> Any:
    def parse(digits: str) -> int:
        # Python refuses to convert more than 4,300 digits with a message about sys settings: say it plainly.
        if len(digits.lstrip("-")) > 19:
            raise InvalidInput(f"{option} has a whole number beyond 64 bits ({show(digits)})")
        return int(digits)

    return parse

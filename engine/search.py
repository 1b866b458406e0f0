"""Search by data: `NAME=VALUE`, `NAME>VALUE`, `NAME<VALUE` (also `>=`, `<=`), `NAME~TEXT` over an
instance's top-level data (docs/search.md). Numbers compare as numbers, other values as text (ISO 8601
dates in order); `~` finds text containing TEXT, in any case; `=` also matches true/false."""

from __future__ import annotations

import re
from collections.abc import Iterable

from storage.repository import Condition

from .errors import InvalidInput
from .payload import check_text

# The name is what a script reads as a variable; the operator is the first of these after it.
_CONDITION = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|=|>|<|~)(.*)$", re.DOTALL)
MAX_CONDITIONS = 10


def parse(text: str) -> Condition:
    """One `NAME op VALUE`; InvalidInput saying what is wrong."""
    match = _CONDITION.match(text)
    if match is None:
        raise InvalidInput(
            f"--var {text!r} is not NAME=VALUE, NAME>VALUE, NAME<VALUE or NAME~TEXT "
            "(NAME a top-level data field, e.g. amount>1000 or region=EU)"
        )
    name, op, value = match.group(1), match.group(2), match.group(3).strip()
    check_text(value, f"the value of --var {name}")
    if op == "~" and not value:
        raise InvalidInput(f"--var {name}~ needs some text to look for")
    return Condition(name, op, value)


def parse_all(texts: Iterable[str]) -> list[Condition]:
    found = [parse(t) for t in texts]
    if len(found) > MAX_CONDITIONS:
        raise InvalidInput(f"at most {MAX_CONDITIONS} --var conditions at once (got {len(found)})")
    return found


__all__ = ["MAX_CONDITIONS", "parse", "parse_all"]

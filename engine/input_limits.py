"""The limits Handoff puts on what people send it (docs/hostile-input.md explains each one)."""

from __future__ import annotations

import os
import re

from .errors import InvalidInput

KIB = 1024
MIB = 1024 * KIB

# Uploads: a BPMN/DMN/JSON file larger than this is refused before it is parsed.
UPLOAD_ENV = "HANDOFF_MAX_UPLOAD"
DEFAULT_MAX_UPLOAD = 10 * MIB

# Form and instance data (start, complete, retry).
MAX_STRING_BYTES = 64 * KIB  # one string value, UTF-8 encoded
MAX_PAYLOAD_BYTES = 1 * MIB  # all the data of one call, as compact JSON (and the text of --data-json)
MAX_DEPTH = 20  # nesting of objects and arrays; the data object itself is level 1
MAX_KEY_CHARS = 200  # a field name, at any level
MAX_NAME_CHARS = 255  # a business key: the width of its column
MAX_ID = 2**31 - 1  # ids people type (instances, tasks) and counts: PostgreSQL's INTEGER
MAX_INT = 2**63 - 1  # whole numbers are 64-bit, as BPMN's `long` and every JSON consumer expect
MIN_INT = -(2**63)

_SIZE = re.compile(r"^\s*(\d+)\s*([kmg]?)(i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": KIB, "m": MIB, "g": 1024 * MIB}


def parse_size(text: str) -> int:
    """`10485760`, `512KiB`, `10MB`, `10m`: binary units (a MB is 1,048,576 bytes here, as for uploads)."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(text)
    return int(match.group(1)) * _UNITS[match.group(2).lower()]


def upload_limit() -> int:
    """The per-file upload limit in bytes: HANDOFF_MAX_UPLOAD if set, else 10 MiB."""
    raw = os.environ.get(UPLOAD_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_UPLOAD
    try:
        value = parse_size(raw)
    except ValueError:
        raise InvalidInput(
            f"{UPLOAD_ENV}={raw!r} is not a size; use bytes or a unit, like 10MiB or 512KiB"
        ) from None
    if value <= 0:
        raise InvalidInput(f"{UPLOAD_ENV}={raw!r} must be more than 0 bytes")
    return value


def human_size(n: int) -> str:
    """1048576 -> '1 MiB', 65536 -> '64 KiB', 1000 -> '1000 bytes'."""
    for unit, size in (("GiB", 1024 * MIB), ("MiB", MIB), ("KiB", KIB)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} bytes"


def whole(value: int, what: str, *, low: int = 1, high: int = MAX_ID) -> int:
    """`value` if low <= value <= high, else InvalidInput naming `what` (an option or a filter)."""
    if not low <= value <= high:
        raise InvalidInput(f"{what} must be a whole number from {low} to {high:,}, got {value}")
    return value


def is_id(value: int) -> bool:
    """A value that can be the id of a stored row (out of range: no such row, never a database error)."""
    return 1 <= value <= MAX_ID

"""Plain text for terminals: the CLI's tables and how each view reads (the text report shares the layout).

`engine.text.instances`, `.tasks`, `.records`, `.people` and `.definitions` render the views of
engine/views as the lines the CLI prints; this module holds what they share. Text from strangers (a BPMN
name, an exception message a script raised, a value) goes through `printable()` (engine/terminal.py):
every table cell does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from bpmn.durations import format_duration

from .. import zones
from ..terminal import MAX_MESSAGE_CHARS, printable

__all__ = ["MAX_MESSAGE_CHARS", "cut", "duration", "plural", "printable", "table", "when"]


def cut(value: Any, width: int) -> str:
    text = "" if value is None else printable(value, None)
    return text if len(text) <= width else text[: width - 1] + "~"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], limits: Sequence[int] | None = None) -> str:
    """Left-aligned columns under a dashed rule; `limits` caps each column's width (cut with ~). Every
    cell is printable (engine.text.printable): a name from an upload cannot drive the terminal."""
    if limits is None:
        cells = [["" if c is None else printable(c, None) for c in row] for row in rows]
    else:
        cells = [[cut(c, limits[i]) for i, c in enumerate(row)] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], len(c))
    lines = ["  ".join(h.ljust(widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells:
        lines.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def when(value: datetime | None) -> str:
    """A time as the CLI prints it, to the second, in the reader's zone, named (engine/zones.py; times
    are stored in UTC); empty for none."""
    if value is None:
        return ""
    shown = zones.local(value)
    return f"{shown:%Y-%m-%d %H:%M:%S} {zones.zone_name(shown)}"


def duration(seconds: float) -> str:
    """A duration as ISO 8601 (PT4H30M), as SLAs are written."""
    return format_duration(timedelta(seconds=seconds))


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"

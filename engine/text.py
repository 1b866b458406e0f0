"""Plain-text tables for terminals: the CLI's listings and the text report share one layout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def cut(value: Any, width: int) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "~"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], limits: Sequence[int] | None = None) -> str:
    """Left-aligned columns under a dashed rule; `limits` caps each column's width (cut with ~)."""
    if limits is None:
        cells = [["" if c is None else str(c) for c in row] for row in rows]
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

"""Comments as text: the line `comment` prints and the list `show` prints."""

from __future__ import annotations

from collections.abc import Sequence

from ..views import CommentView
from . import printable, when


def added(view: CommentView) -> str:
    return f"comment added to {view.subject} by {view.author or '-'}"


def listed(items: Sequence[CommentView]) -> list[str]:
    """`comments:` then one entry per comment: when, who, on what, then the text indented."""
    if not items:
        return []
    lines = ["comments:"]
    for c in items:
        on = f" on {c.subject}" if c.task else ""
        lines.append(f"  {when(c.at)}  {c.author or '-'}{on}:")
        lines += [f"    {printable(line, None)}" for line in c.text.splitlines() or [""]]
    return lines

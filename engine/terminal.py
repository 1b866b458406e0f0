"""Text from strangers made safe to print: bounded, and harmless to the terminal that shows it.

Whatever reaches a terminal may come from strangers: an exception message a script raised, a BPMN name,
a value. Terminals obey escape sequences (ESC/CSI `\\x1b[...`, OSC `\\x1b]...` that can set the title or
write to the clipboard, the single-byte C1 controls such as `\\x9b`), and bidirectional overrides
(U+202E) make text read differently from what it is. `printable()` shows each such character as an
escape (`\\x1b`, `\\u202e`) and cuts the text to a bound, so that a 100 MiB message stays one short line.
"""

from __future__ import annotations

import re
from typing import Any

# How much of an exception message Handoff stores with an incident and prints: enough for any honest
# message, and a bound for a hostile one.
MAX_MESSAGE_CHARS = 2000

# C0 and C1 controls (ESC, CSI, OSC, DEL...), bidirectional controls and marks, line and paragraph
# separators, and lone surrogates (which cannot even be encoded to a terminal).
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_KEEPING_LINES = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: Any, limit: int | None = MAX_MESSAGE_CHARS, *, lines: bool = False) -> str:
    """`text` safe to print: control, bidirectional and separator characters escaped, cut to `limit`
    characters (None: no cut) with a note of the full length. `lines=True` keeps line feeds and tabs,
    for text that is shown as several lines."""
    if not isinstance(text, str):
        text = str(text)
    total = len(text)
    if limit is not None and total > limit:
        text = text[:limit]  # cut before escaping: the work stays bounded too
    if not (text.isascii() and text.isprintable()):
        text = (_UNSAFE_KEEPING_LINES if lines else _UNSAFE).sub(_escape, text)
    if limit is not None and (total > limit or len(text) > limit):
        note = f"... ({total:,} characters in all)"
        text = text[: max(0, limit - len(note))] + note
    return text

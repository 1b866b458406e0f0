"""How long a process's finished instances are kept: Camunda's `historyTimeToLive` on the process
element (`camunda:historyTimeToLive="180"`, in days, or an ISO 8601 duration such as `P180D`)."""

from __future__ import annotations

import re
from datetime import timedelta

from .durations import parse_duration
from .inspect import processes
from .namespaces import CAMUNDA_NS
from .xml import XmlError, parse_xml, source_from_bytes

_DAYS = re.compile(r"^\s*(\d{1,6})\s*$")


def parse_time_to_live(text: str) -> timedelta | None:
    """`180` (days, as Camunda writes it) or `P180D`; None when it is neither."""
    days = _DAYS.match(text)
    if days:
        return timedelta(days=int(days.group(1)))
    try:
        return parse_duration(text.strip())
    except ValueError:
        return None


def history_time_to_live(files: list[tuple[str, bytes]], process_id: str) -> timedelta | None:
    """The time to live of `process_id`'s history, from the BPMN files of its version (None: not set)."""
    for name, content in files:
        try:
            tree = parse_xml(source_from_bytes(name, content))
        except XmlError:
            continue
        for process in processes(tree):
            if process.get("id") == process_id:
                value = process.get(f"{{{CAMUNDA_NS}}}historyTimeToLive")
                return parse_time_to_live(value) if value else None
    return None

"""An example Handoff hook: appends every lifecycle event as one JSON line to a file.

Install it as a package that declares the entry point (see pyproject.toml beside this file):

    [project.entry-points."handoff.hooks"]
    jsonl = "jsonl_hook"

and set HANDOFF_EVENTS_FILE to the file to write (default: handoff-events.jsonl here).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

from engine import LifecycleEvent, hookimpl


@hookimpl
def handoff_notify(events: Sequence[LifecycleEvent]) -> None:
    """After each committed change: one line per event, never inside the engine's transaction."""
    path = os.environ.get("HANDOFF_EVENTS_FILE", "handoff-events.jsonl")
    with open(path, "a", encoding="utf-8") as out:
        for event in events:
            out.write(
                json.dumps(
                    {
                        "id": event.id,
                        "kind": event.kind,
                        "instance": event.instance_id,
                        "process": event.process_id,
                        "element": event.element_id,
                        "name": event.element_name,
                        "lane": event.lane,
                        "actor": event.actor,
                        "at": event.at.isoformat(),
                    }
                )
                + "\n"
            )

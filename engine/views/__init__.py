"""What the use cases return: plain frozen dataclasses, with the --json shapes of DESIGN §7.

Each name loads its module on first use (PEP 562): building dataclasses costs start-up time, and
`handoff tasks` needs `TaskView`, not the people's, records' or definitions' views.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..lazy_modules import lazy_names

if TYPE_CHECKING:
    from .base import iso
    from .comments import CommentView
    from .definitions import Deployment, ProcessSummary
    from .instances import InstanceSummary, InstanceView, TaskView, TimelineEntry, Wait, failure_json
    from .people import AuditView, NewToken, TokenView, UserChange, UserView
    from .records import CrossingView, DelayView, HandoffView, HistoryEntry, InstanceHistory, SlaView

_LAZY: dict[str, tuple[str, str]] = {
    name: (module, name)
    for module, names in {
        ".base": "iso",
        ".comments": "CommentView",
        ".definitions": "Deployment ProcessSummary",
        ".instances": "InstanceSummary InstanceView TaskView TimelineEntry Wait failure_json",
        ".people": "AuditView NewToken TokenView UserChange UserView",
        ".records": "CrossingView DelayView HandoffView HistoryEntry InstanceHistory SlaView",
    }.items()
    for name in names.split()
}

__getattr__, __dir__ = lazy_names(__name__, _LAZY)

__all__ = [
    "AuditView",
    "CommentView",
    "CrossingView",
    "DelayView",
    "Deployment",
    "HandoffView",
    "HistoryEntry",
    "InstanceHistory",
    "InstanceSummary",
    "InstanceView",
    "ProcessSummary",
    "SlaView",
    "TaskView",
    "TimelineEntry",
    "UserChange",
    "NewToken",
    "TokenView",
    "UserView",
    "Wait",
    "failure_json",
    "iso",
]

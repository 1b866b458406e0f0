"""What the use cases return: plain frozen dataclasses, with the --json shapes of DESIGN §7."""

from .base import iso
from .comments import CommentView
from .definitions import Deployment, ProcessSummary
from .instances import InstanceSummary, InstanceView, TaskView, TimelineEntry, Wait, failure_json
from .people import AuditView, NewToken, TokenView, UserChange, UserView
from .records import CrossingView, DelayView, HandoffView, HistoryEntry, InstanceHistory, SlaView

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

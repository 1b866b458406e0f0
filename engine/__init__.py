"""The application: services over SpiffWorkflow and the database, the clock, and the errors users see.

Imports no click: the CLI (and any other front end) stays a thin layer over `Handoff`.
"""

from .clock import Clock, ManualClock, utc_now
from .errors import (
    Conflict,
    DefinitionInvalid,
    HandoffError,
    InvalidInput,
    NotFound,
    ScriptFailed,
    SetupRequired,
)
from .forms import parse_assignments
from .services import INSTANCE_STATUSES, Handoff
from .views import Deployment, InstanceSummary, InstanceView, ProcessSummary, TaskView, TimelineEntry, iso

__all__ = [
    "INSTANCE_STATUSES",
    "Clock",
    "Conflict",
    "DefinitionInvalid",
    "Deployment",
    "Handoff",
    "HandoffError",
    "InstanceSummary",
    "InstanceView",
    "InvalidInput",
    "ManualClock",
    "NotFound",
    "ProcessSummary",
    "ScriptFailed",
    "SetupRequired",
    "TaskView",
    "TimelineEntry",
    "iso",
    "parse_assignments",
    "utc_now",
]

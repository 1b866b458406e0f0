"""The application: services over SpiffWorkflow and the database, the clock, and the errors users see.

Imports no click: the CLI (and any other front end) stays a thin layer over `Handoff`.
"""

from .access import ROLES
from .clock import Clock, ManualClock, utc_now
from .errors import (
    Conflict,
    DefinitionInvalid,
    Forbidden,
    HandoffError,
    HookError,
    InvalidInput,
    NotFound,
    ScriptFailed,
    SetupRequired,
)
from .forms import parse_assignments
from .hooks import hookimpl
from .lifecycle import LifecycleEvent
from .runtime.messaging import Wait
from .services import INSTANCE_STATUSES, Handoff
from .views import (
    AuditView,
    Deployment,
    InstanceSummary,
    InstanceView,
    ProcessSummary,
    TaskView,
    TimelineEntry,
    UserChange,
    UserView,
    iso,
)

__all__ = [
    "AuditView",
    "INSTANCE_STATUSES",
    "Clock",
    "Conflict",
    "DefinitionInvalid",
    "Deployment",
    "Forbidden",
    "Handoff",
    "HandoffError",
    "HookError",
    "InstanceSummary",
    "InstanceView",
    "InvalidInput",
    "ManualClock",
    "NotFound",
    "ProcessSummary",
    "ROLES",
    "ScriptFailed",
    "SetupRequired",
    "TaskView",
    "TimelineEntry",
    "UserChange",
    "UserView",
    "Wait",
    "LifecycleEvent",
    "hookimpl",
    "iso",
    "parse_assignments",
    "utc_now",
]

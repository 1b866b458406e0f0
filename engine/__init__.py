"""The application: use cases over SpiffWorkflow and the database, the clock, and the errors users see.

Imports no click and no web framework: the doors (cli.py, web/) stay thin layers over the use cases
(docs/architecture.md), reached one by one (`engine.tasks.complete(app, units, ...)`) or through the
`Handoff` facade.
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
from .facade import Handoff
from .forms import parse_assignments
from .hooks import hookimpl
from .instances import INSTANCE_STATUSES
from .lifecycle import LifecycleEvent
from .runtime.messaging import Wait
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

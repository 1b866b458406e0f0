"""The application: use cases over SpiffWorkflow and the database, the clock, and the errors users see.

Imports no click and no web framework: the doors (cli.py, web/) stay thin layers over the use cases
(docs/architecture.md), reached one by one (`engine.tasks.complete(app, units, ...)`) or through the
`Handoff` facade.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .lazy_modules import lazy_names

if TYPE_CHECKING:
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
    from .instance_reads import INSTANCE_STATUSES
    from .lifecycle import LifecycleEvent
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
        Wait,
        iso,
    )

# Names load on first use (PEP 562): a command that only reads never imports what it does not run.
_LAZY: dict[str, tuple[str, str]] = {
    name: (module, name)
    for module, names in {
        ".access": "ROLES",
        ".clock": "Clock ManualClock utc_now",
        ".errors": (
            "Conflict DefinitionInvalid Forbidden HandoffError HookError InvalidInput NotFound "
            "ScriptFailed SetupRequired"
        ),
        ".facade": "Handoff",
        ".forms": "parse_assignments",
        ".hooks": "hookimpl",
        ".instance_reads": "INSTANCE_STATUSES",
        ".lifecycle": "LifecycleEvent",
        ".views": (
            "Wait AuditView Deployment InstanceSummary InstanceView ProcessSummary TaskView "
            "TimelineEntry UserChange UserView iso"
        ),
    }.items()
    for name in names.split()
}


__getattr__, __dir__ = lazy_names(__name__, _LAZY)


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

"""The application: use cases over SpiffWorkflow and the database, the clock, and the errors users see.

Imports no click and no web framework: the doors (cli.py, web/) stay thin layers over the use cases
(docs/architecture.md), reached one by one (`engine.tasks.complete(app, units, ...)`) or through the
`Handoff` facade.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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
    "ROLES": (".access", "ROLES"),
    "Clock": (".clock", "Clock"),
    "ManualClock": (".clock", "ManualClock"),
    "utc_now": (".clock", "utc_now"),
    "Conflict": (".errors", "Conflict"),
    "DefinitionInvalid": (".errors", "DefinitionInvalid"),
    "Forbidden": (".errors", "Forbidden"),
    "HandoffError": (".errors", "HandoffError"),
    "HookError": (".errors", "HookError"),
    "InvalidInput": (".errors", "InvalidInput"),
    "NotFound": (".errors", "NotFound"),
    "ScriptFailed": (".errors", "ScriptFailed"),
    "SetupRequired": (".errors", "SetupRequired"),
    "Handoff": (".facade", "Handoff"),
    "parse_assignments": (".forms", "parse_assignments"),
    "hookimpl": (".hooks", "hookimpl"),
    "INSTANCE_STATUSES": (".instance_reads", "INSTANCE_STATUSES"),
    "LifecycleEvent": (".lifecycle", "LifecycleEvent"),
    "Wait": (".views", "Wait"),
    "AuditView": (".views", "AuditView"),
    "Deployment": (".views", "Deployment"),
    "InstanceSummary": (".views", "InstanceSummary"),
    "InstanceView": (".views", "InstanceView"),
    "ProcessSummary": (".views", "ProcessSummary"),
    "TaskView": (".views", "TaskView"),
    "TimelineEntry": (".views", "TimelineEntry"),
    "UserChange": (".views", "UserChange"),
    "UserView": (".views", "UserView"),
    "iso": (".views", "iso"),
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


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

"""Hooks (DESIGN §2), as pluggy plugins: record hooks inside the transaction, notify hooks after it.

Write a hook as a module or class with `@hookimpl`-decorated functions and publish it in the
entry-point group `handoff.hooks` (docs/hooks.md).
"""

from .manager import ENTRY_POINT_GROUP, HookFailed, plugin_manager, run_notify_hooks, run_record_hooks
from .specs import CompletedStep, HookSpecs, RecordContext, hookimpl, hookspec

__all__ = [
    "ENTRY_POINT_GROUP",
    "CompletedStep",
    "HookFailed",
    "HookSpecs",
    "RecordContext",
    "hookimpl",
    "hookspec",
    "plugin_manager",
    "run_notify_hooks",
    "run_record_hooks",
]

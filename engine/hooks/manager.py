"""The hook manager (DESIGN §2): built-in recorders and installed hooks, called in order, failures named.

Write a hook as a module or class with `@hookimpl`-decorated functions and publish it in the
entry-point group `handoff.hooks`; the built-in history, handoff, crossing and delay recorders are
registered exactly the same way (see docs/hooks.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from ..lifecycle import LifecycleEvent
from . import recorders
from .specs import PROJECT, HookSpecs, RecordContext

ENTRY_POINT_GROUP = "handoff.hooks"
log = logging.getLogger("handoff.hooks")


class HookFailed(Exception):
    def __init__(self, hook: str, error: BaseException) -> None:
        super().__init__(f"record hook '{hook}' failed: {type(error).__name__}: {error}")
        self.hook = hook
        self.error = error


def plugin_manager(extra: Iterable[object] = (), *, load_entry_points: bool = True) -> pluggy.PluginManager:
    manager = pluggy.PluginManager(PROJECT)
    manager.add_hookspecs(HookSpecs)
    for name, plugin in recorders.BUILT_IN:
        manager.register(plugin, name=name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        name, n = _name_of(plugin), 1
        while manager.has_plugin(name if n == 1 else f"{name}#{n}"):
            n += 1
        manager.register(plugin, name=name if n == 1 else f"{name}#{n}")
    return manager


def _name_of(plugin: object) -> str:
    """A readable name for error messages: the module, or the module and class of an instance."""
    if isinstance(plugin, type) or hasattr(plugin, "__qualname__"):
        return f"{plugin.__module__}.{plugin.__qualname__}"  # type: ignore[attr-defined]
    if type(plugin).__name__ == "module":
        return str(plugin.__name__)  # type: ignore[attr-defined]
    kind = type(plugin)
    return f"{kind.__module__}.{kind.__qualname__}"


def _in_call_order(manager: pluggy.PluginManager, hook_name: str) -> list[Any]:
    # pluggy calls the last registered first, tryfirst before and trylast after: the reverse of this list.
    return list(reversed(getattr(manager.hook, hook_name).get_hookimpls()))


def run_record_hooks(
    manager: pluggy.PluginManager, events: Sequence[LifecycleEvent], context: RecordContext
) -> None:
    """Call every record hook, naming the one that fails (pluggy's own call would not).

    A hook object may declare `kinds`, the event kinds it acts on: it is skipped for calls without any
    (a claim is one `task_claimed` event, which only the history recorder writes).
    """
    present = {e.kind for e in events}
    for impl in _in_call_order(manager, "handoff_record"):
        wanted = getattr(impl.plugin, "kinds", None)
        if wanted is not None and wanted.isdisjoint(present):
            continue
        try:
            impl.function(events=events, context=context)
        except Exception as exc:  # noqa: BLE001 - any failure of a user's hook must name the hook
            raise HookFailed(impl.plugin_name, exc) from exc


def run_notify_hooks(
    manager: pluggy.PluginManager, events: Sequence[LifecycleEvent]
) -> list[tuple[str, str]]:
    """Call every notify hook; returns (hook, error) for each that raised, after logging it."""
    failures: list[tuple[str, str]] = []
    for impl in _in_call_order(manager, "handoff_notify"):
        try:
            impl.function(events=events)
        except Exception as exc:  # noqa: BLE001 - a notify hook never undoes a committed change
            # One line for whoever watches the log; the traceback only at debug level (a person at a
            # terminal sees their change succeed, and the failure is stored as a `hook_failed` event).
            log.warning("notify hook %s failed: %s: %s", impl.plugin_name, type(exc).__name__, exc)
            log.debug("notify hook %s failed", impl.plugin_name, exc_info=True)
            failures.append((impl.plugin_name, f"{type(exc).__name__}: {exc}"))
    return failures

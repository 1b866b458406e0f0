"""SpiffWorkflow's log details, gathered only for a log line that will be written (issue 17).

SpiffWorkflow 3.2 builds the `extra` of its log lines before it calls the logger, whether or not the
line is written: a dict of nine details on every task state change (~30 a start of ten script tasks),
and, when its logger's own level is unset (the default), the id of every task of the tree, found by a
whole-tree walk, each time a workflow is created or completes. With logging at its default (WARNING)
none of these lines is written. Here each `collect_log_extras` returns nothing when its logger will
write no INFO line (SpiffWorkflow passes the result only to `logger.info` / `logger.debug`); when it
will, SpiffWorkflow's own method gathers the same details as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from SpiffWorkflow import task as spiff_task
from SpiffWorkflow import workflow as spiff_workflow


def _only_when_logged(logger: logging.Logger, original: Callable[..., dict[str, Any]]) -> Any:
    def collect_log_extras(self: Any, dct: dict[str, Any] | None = None) -> dict[str, Any]:
        if not logger.isEnabledFor(logging.INFO):
            return {}  # the line that would carry it is not written
        return original(self, dct)

    collect_log_extras.__doc__ = original.__doc__
    return collect_log_extras


def gather_only_when_logged() -> None:
    """Install the lazy `collect_log_extras` on SpiffWorkflow's Task and Workflow (once)."""
    for cls, logger in (
        (spiff_task.Task, spiff_task.logger),
        (spiff_workflow.Workflow, spiff_workflow.logger),
    ):
        original = cls.__dict__["collect_log_extras"]
        if getattr(original, "__wrapped_lazily__", False):
            continue
        lazy = _only_when_logged(logger, original)
        lazy.__wrapped_lazily__ = True
        cls.collect_log_extras = lazy  # type: ignore[method-assign]


gather_only_when_logged()

"""Why an automated task failed, as an incident records it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task

from bpmn import ProcessModel

from .stepping import RunawayLoop
from .tasks import element_of


@dataclass(frozen=True)
class Failure:
    """Why an automated task failed: what the incident records."""

    task: Task | None
    message: str
    line: int | None
    error_type: str

    def to_json(self, model: ProcessModel) -> dict[str, Any]:
        element = element_of(model, self.task) if self.task is not None else None
        return {
            "task": element.id if element else None,
            "task_name": element.name if element else None,
            "lane": element.lane if element else None,
            "line": self.line,
            "type": self.error_type,
            "message": self.message,
        }


def describe_failure(exc: Exception) -> Failure:
    if isinstance(exc, RunawayLoop):
        return Failure(exc.task, str(exc), None, "RunawayLoop")
    if isinstance(exc, WorkflowTaskException):
        inner = getattr(exc, "error_type", "") or type(exc).__name__
        message = str(exc.error_msg if hasattr(exc, "error_msg") else exc).strip()
        cause = _user_cause(exc)
        if cause is not None and str(cause.args[0] if cause.args else cause) not in message:
            # "Error evaluating expression '...'" alone hides why (a sandbox limit, a NameError)
            message = f"{message.rstrip('.')}: {type(cause).__name__}: {cause}"
        return Failure(exc.task, message, exc.line_number or None, inner)
    if isinstance(exc, WorkflowException):
        task = getattr(exc, "task", None)
        return Failure(task, str(exc).strip(), None, type(exc).__name__)
    return Failure(getattr(exc, "task", None), f"{type(exc).__name__}: {exc}", None, type(exc).__name__)


def _user_cause(exc: BaseException) -> BaseException | None:
    """The exception a script or expression raised, under SpiffWorkflow's wrappers."""
    seen = exc.__cause__ or exc.__context__
    while isinstance(seen, SpiffWorkflowException):
        seen = seen.__cause__ or seen.__context__
    return seen

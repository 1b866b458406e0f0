"""Why an automated task failed, as an incident records it.

The message comes from uploaded code (an exception a script raised) or quotes it, so it is bounded and
made printable here, once, before it is stored with the instance, written to history, or printed:
`raise ValueError('x' * 100 MiB)` is a short line, and escape sequences or bidirectional overrides in it
reach no terminal (engine/terminal.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.task import Task

from bpmn import ProcessModel
from engine.terminal import MAX_MESSAGE_CHARS, printable

from .bounds import RunawayLoop
from .sandbox import OperationTimeout
from .script_output import ScriptOutputInvalid
from .tasks import element_of


@dataclass(frozen=True)
class Failure:
    """Why an automated task failed: what the incident records (`message` bounded and printable)."""

    task: Task | None
    message: str
    line: int | None
    error_type: str

    def to_json(self, model: ProcessModel) -> dict[str, Any]:
        element = element_of(model, self.task) if self.task is not None else None
        return {
            "task": element.id if element else None,
            # The name comes from the upload and is printed with the failure: made printable like the message.
            "task_name": printable(element.name, 300) if element and element.name else None,
            "lane": element.lane if element else None,
            "line": self.line,
            "type": self.error_type,
            "message": self.message,
        }


def _failure(task: Task | None, message: str, line: int | None, error_type: str) -> Failure:
    # Line feeds and tabs stay (a traceback-like message keeps its shape in `show --json`; one-line
    # outputs join the lines); every other control character is escaped.
    text = printable(message.strip(), MAX_MESSAGE_CHARS, lines=True)
    return Failure(task, text, line, printable(error_type, 100))


def describe_failure(exc: Exception) -> Failure:
    failure = _describe(exc)
    if failure.task is None:
        # SpiffWorkflow raises some errors (a timer's value that is not ISO 8601) outside any task's
        # wrapper: the task it was working on is still in the traceback, so the incident names it.
        task = _task_in_traceback(exc)
        if task is not None:
            return Failure(task, failure.message, failure.line, failure.error_type)
    return failure


def _task_in_traceback(exc: BaseException) -> Task | None:
    """The innermost task SpiffWorkflow was working on when `exc` was raised (`my_task` or `task`)."""
    found: Task | None = None
    tb = exc.__traceback__
    while tb is not None:
        names = tb.tb_frame.f_locals
        for name in ("my_task", "task"):
            candidate = names.get(name)
            if isinstance(candidate, Task) and candidate.task_spec.bpmn_id is not None:
                found = candidate
                break
        tb = tb.tb_next
    return found


def _describe(exc: Exception) -> Failure:
    if isinstance(exc, RunawayLoop):
        return _failure(exc.task, str(exc), None, "RunawayLoop")
    if isinstance(exc, ScriptOutputInvalid):
        return _failure(exc.task, str(exc), None, "ScriptOutputInvalid")
    if isinstance(exc, OperationTimeout):
        return _failure(getattr(exc, "task", None), str(exc), None, "OperationTimeout")
    if isinstance(exc, WorkflowTaskException):
        inner = getattr(exc, "error_type", "") or type(exc).__name__
        message = _text(exc.error_msg if hasattr(exc, "error_msg") else exc)
        cause = _user_cause(exc)
        if cause is not None:
            said = _text(cause.args[0] if cause.args else cause)
            if said not in message:
                # "Error evaluating expression '...'" alone hides why (a sandbox limit, a NameError)
                message = f"{message.rstrip('.')}: {type(cause).__name__}: {said}"
        return _failure(exc.task, message, exc.line_number or None, inner)
    if isinstance(exc, WorkflowException):
        return _failure(getattr(exc, "task", None), _text(exc), None, type(exc).__name__)
    return _failure(
        getattr(exc, "task", None), f"{type(exc).__name__}: {_text(exc)}", None, type(exc).__name__
    )


def _text(value: Any) -> str:
    """A message, cut before it is copied further (str() of a 100 MiB message is the only full copy)."""
    try:
        text = value if isinstance(value, str) else str(value)
    except Exception:  # noqa: BLE001 - an exception whose message cannot be made: say so
        return "(a message that cannot be shown)"
    if len(text) <= MAX_MESSAGE_CHARS:
        return text
    return text[: MAX_MESSAGE_CHARS - 40] + f"... ({len(text):,} characters in all)"


def _user_cause(exc: BaseException) -> BaseException | None:
    """The exception a script or expression raised, under SpiffWorkflow's wrappers."""
    seen = exc.__cause__ or exc.__context__
    while isinstance(seen, SpiffWorkflowException):
        seen = seen.__cause__ or seen.__context__
    return seen

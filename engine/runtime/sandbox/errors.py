"""What the sandbox raises, and the one exception it raises *inside* uploaded code to stop it."""

from __future__ import annotations

from typing import Any


class ScriptNotAllowed(SyntaxError):
    """The sandbox does not compile this script: a construct, name or attribute it does not allow. A
    SyntaxError so that SpiffWorkflow reports its line, as for a script that does not parse."""


class ScriptRefused(Exception):
    """The sandbox refused a call while the script ran (`open()`, `vars(object)`, ...)."""


class ScriptLimitExceeded(Exception):
    """The script ran out of CPU time, memory or its operation's time, or asked for a result larger than
    the sandbox allows."""


class ScriptStopped(Exception):
    """Uploaded code raised what would stop the process (`SystemExit`, `KeyboardInterrupt`,
    `GeneratorExit`, any other BaseException): it ends the script as an incident instead."""


class OperationTimeout(Exception):
    """A whole operation (start, complete, a timer firing, ...) ran past its wall-clock budget: the engine
    stopped at the next step it could stop at safely (`task`: the last one it completed, if known)."""

    def __init__(self, message: str, task: Any = None) -> None:
        super().__init__(message)
        self.task = task


class LimitInterrupt(BaseException):  # noqa: N818 - it is not an error of the code it interrupts
    """Raised *inside* running uploaded code when a limit strikes (the CPU timer, the operation's budget).

    A BaseException, so that trusted code's `except Exception:` does not swallow it; sandboxed code cannot
    swallow it either (every handler and `finally` compiled from a script re-raises once a limit struck).
    The evaluation's boundary turns it into `ScriptLimitExceeded`, an ordinary failure of the task.
    """

"""Errors the engine raises: each a thing a user can act on, with the exit code the CLI ends with (the web
door maps them to HTTP statuses)."""

from __future__ import annotations


class HandoffError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1

    def __init_subclass__(cls, *, exit_code: int | None = None, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if exit_code is not None:  # else the parent's
            cls.exit_code = exit_code


class InvalidInput(HandoffError, exit_code=2):
    """Bad form data, options or values. `fields` names the form fields at fault (when known), so that
    a form can show the error beside them."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class DefinitionInvalid(HandoffError, exit_code=3):
    """BPMN/DMN files that do not validate; `problems` holds every finding."""

    def __init__(self, message: str, problems: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(HandoffError, exit_code=4):
    """No such process, instance, task, user or message receiver."""


class Conflict(HandoffError, exit_code=5):
    """Someone else changed the same thing first, or the thing is not in a state that allows this."""


class ScriptFailed(HandoffError, exit_code=6):
    """A script or expression raised: the instance is now in `error` (an incident)."""

    def __init__(self, message: str, instance_id: int | None = None) -> None:
        super().__init__(message)
        self.instance_id = instance_id


class SetupRequired(HandoffError, exit_code=7):
    """The database is missing, unreachable, or its schema needs `handoff init`."""


class HookError(HandoffError, exit_code=8):
    """A record hook raised: the whole operation was rolled back; the message names the hook."""


class Forbidden(HandoffError, exit_code=9):
    """The acting user may not do this: not registered, a role without this right, or not in the task's
    lane. Nothing was changed."""


class CannotWrite(HandoffError, exit_code=1):
    """An output file (a report, an export) could not be written; an older file stays as it was."""

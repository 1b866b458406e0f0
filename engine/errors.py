"""Errors the engine raises; the CLI turns each into one line on stderr and its exit code."""

from __future__ import annotations


class HandoffError(Exception):
    """Base of every error a user can act on."""

    exit_code = 1


class InvalidInput(HandoffError):
    """Bad form data, options or values. `fields` names the form fields at fault (when known), so that
    a form can show the error beside them."""

    exit_code = 2

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class DefinitionInvalid(HandoffError):
    """BPMN/DMN files that do not validate; `problems` holds every finding."""

    exit_code = 3

    def __init__(self, message: str, problems: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(HandoffError):
    exit_code = 4


class Conflict(HandoffError):
    """Someone else changed the same thing first, or the thing is not in a state that allows this."""

    exit_code = 5


class ScriptFailed(HandoffError):
    """A script or expression raised: the instance is now in `error` (an incident)."""

    exit_code = 6

    def __init__(self, message: str, instance_id: int | None = None) -> None:
        super().__init__(message)
        self.instance_id = instance_id


class SetupRequired(HandoffError):
    """The database is missing, unreachable, or its schema needs `handoff init`."""

    exit_code = 7


class HookError(HandoffError):
    """A record hook raised: the whole operation was rolled back; the message names the hook."""

    exit_code = 8


class Forbidden(HandoffError):
    """The acting user may not do this: not registered, a role without this right, or not in the task's
    lane. Nothing was changed."""

    exit_code = 9

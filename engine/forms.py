"""Form data: converting `--data k=v` strings to the field's type and checking data against the form."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from bpmn import FormField

from .errors import InvalidInput
from .input_limits import MAX_INT, MIN_INT
from .payload import check_payload, load_json_object, show

# What a boolean field takes, as strictly as the other types take theirs (docs/hostile-input.md): JSON's
# true and false, or those two words as text, whichever way the value came (`--data approved=true` or
# `{"approved": "true"}`). "yes", "1" or "on" are refused like "maybe": nobody can tell what they meant.
_BOOLEAN_TEXTS = {"true": True, "false": False}
# A boolean field's default is the process designer's text: older Camunda models write "Yes"/"No".
_DEFAULT_BOOLEAN_TEXTS = {**_BOOLEAN_TEXTS, "yes": True, "y": True, "1": True, "on": True}
_DEFAULT_BOOLEAN_TEXTS.update({"no": False, "n": False, "0": False, "off": False})


def parse_assignments(pairs: Iterable[str], data_json: str | None = None) -> dict[str, Any]:
    """`k=v` strings (values stay strings until checked against a form) and an optional JSON object."""
    data: dict[str, Any] = {}
    if data_json is not None:  # an empty --data-json is a mistake, not "no data"
        data.update(load_json_object(data_json))
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--data expects KEY=VALUE, got {show(pair)}")
        if not key.isidentifier():
            raise InvalidInput(f"--data key {show(key)} is not a valid variable name")
        data[key] = value
    return data


_WHOLE = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")


def _convert(field: FormField, value: Any, task_label: str, *, default: bool = False) -> Any:
    """`value` (already checked by `payload.check_payload`) as the field's type within its limits, or
    InvalidInput naming the field. `default`: the value is the field's default from the BPMN file, not a
    person's input."""
    try:
        return _within(field, _typed(field, value, task_label, default=default), task_label)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), (field.id,)) from None


def _within(field: FormField, value: Any, task_label: str) -> Any:
    """The form's limits (Camunda's min/max/minlength/maxlength constraints, JSON Schema's
    minimum/maximum/minLength/maxLength)."""
    where = f"field '{field.id}' of {task_label}"
    limits = field.constraints
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "min" in limits and value < limits["min"]:
            raise InvalidInput(f"{where} must be at least {_number(limits['min'])}, got {show(value)}")
        if "max" in limits and value > limits["max"]:
            raise InvalidInput(f"{where} must be at most {_number(limits['max'])}, got {show(value)}")
    if isinstance(value, str) and field.type in ("string", "text"):
        if "minlength" in limits and len(value) < limits["minlength"]:
            raise InvalidInput(f"{where} must have at least {_number(limits['minlength'])} characters")
        if "maxlength" in limits and len(value) > limits["maxlength"]:
            raise InvalidInput(f"{where} must have at most {_number(limits['maxlength'])} characters")
    return value


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _typed(field: FormField, value: Any, task_label: str, *, default: bool = False) -> Any:
    where = f"field '{field.id}' of {task_label}"
    if value is None:
        return None
    kind = field.type
    if kind in ("string", "text"):
        if not isinstance(value, str):
            raise InvalidInput(f"{where} must be a string, got {show(value)}")
        return value
    if kind in ("long", "integer", "int"):
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif isinstance(value, str) and _WHOLE.fullmatch(value.strip()):
            # Only ASCII digits: Python's int() would also take '1_000' and other scripts' digits.
            number = int(value.strip()) if len(value.strip()) <= 20 else MAX_INT + 1
        if number is None:
            raise InvalidInput(f"{where} must be a whole number, got {show(value)}")
        if not MIN_INT <= number <= MAX_INT:
            raise InvalidInput(f"{where} must be a whole number within 64 bits, got {show(value)}")
        return number
    if kind in ("double", "number", "float"):
        real: float | None = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            real = float(value)
        elif isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
            real = float(value.strip())  # never 'nan' or 'inf': the pattern admits digits only
        if real is None:
            raise InvalidInput(f"{where} must be a number, got {show(value)}")
        if not math.isfinite(real):
            raise InvalidInput(f"{where} must be a finite number, got {show(value)}")
        return real
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        texts = _DEFAULT_BOOLEAN_TEXTS if default else _BOOLEAN_TEXTS
        if isinstance(value, str) and value.strip().lower() in texts:
            return texts[value.strip().lower()]
        raise InvalidInput(f"{where} must be true or false, got {show(value)}")
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise InvalidInput(f"{where} must be a date like 2026-01-31, got {show(value)}")
    if kind == "enum":
        allowed = [v for v, _ in field.values]
        if isinstance(value, str) and value in allowed:
            return value
        raise InvalidInput(f"{where} must be one of {_listing(allowed)}; got {show(value)}")
    # A custom Camunda type: kept as given (check_payload has bounded it already).
    return value


def _listing(names: Sequence[str], most: int = 8) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def fields_from_json(form: Iterable[Mapping[str, Any]]) -> tuple[FormField, ...]:
    """A stored form (a task row's or a start event's, DESIGN §7's shape) as the fields `check` takes."""
    return tuple(FormField.from_json(dict(f)) for f in form)


def check(form: Sequence[FormField], data: Mapping[str, Any], task_label: str) -> dict[str, Any]:
    """The data to store for a task: converted to the form's types, defaults filled, unknown fields refused.

    A task without form fields takes any data that `payload.check_payload` accepts (as SpiffWorkflow
    itself would take any data); a task with a form takes its fields only, so that a mistyped name is
    an error rather than a value nobody reads.
    """
    data = check_payload(data, task_label, names_are_variables=not form)
    if not form:
        return data
    fields = {f.id: f for f in form}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise InvalidInput(
            f"{task_label} has no field {_listing([show(k) for k in unknown], 5)}; its fields are "
            f"{_listing(list(fields), 20)}",
            tuple(unknown),
        )
    out: dict[str, Any] = {}
    missing: list[str] = []
    for field in form:
        if field.id in data and data[field.id] not in (None, ""):
            out[field.id] = _convert(field, data[field.id], task_label)
        elif field.default is not None:
            out[field.id] = (
                _convert(field, field.default, task_label, default=True)
                if field.type != "string"
                else field.default
            )
        elif field.required:
            missing.append(field.id)
        elif field.id in data:
            out[field.id] = None
    if missing:
        raise InvalidInput(
            f"{task_label} needs {_listing([repr(m) for m in missing])} (required)", tuple(missing)
        )
    return out

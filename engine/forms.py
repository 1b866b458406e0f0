"""Form data: converting `--data k=v` strings to the field's type and checking data against the form."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from bpmn import FormField

from .errors import InvalidInput

MAX_STRING = 100_000
MAX_JSON_DEPTH = 20

_TRUE = {"true", "yes", "y", "1", "on"}
_FALSE = {"false", "no", "n", "0", "off"}


def parse_assignments(pairs: Iterable[str], data_json: str | None = None) -> dict[str, Any]:
    """`k=v` strings (values stay strings until checked against a form) and an optional JSON object."""
    data: dict[str, Any] = {}
    if data_json:
        try:
            loaded = json.loads(data_json)
        except ValueError as exc:
            raise InvalidInput(f"--data-json is not valid JSON: {exc}") from exc
        if not isinstance(loaded, dict):
            raise InvalidInput("--data-json must be a JSON object, like '{\"amount\": 100}'")
        _check_depth(loaded)
        data.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--data expects KEY=VALUE, got {pair!r}")
        if not key.isidentifier():
            raise InvalidInput(f"--data key {key!r} is not a valid variable name")
        data[key] = value
    return data


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise InvalidInput(f"data is nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, dict):
        for v in value.values():
            _check_depth(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            _check_depth(v, depth + 1)


def _convert(field: FormField, value: Any, task_label: str) -> Any:
    where = f"field '{field.id}' of {task_label}"
    if value is None:
        return None
    kind = field.type
    if kind in ("string", "text"):
        if not isinstance(value, str):
            raise InvalidInput(f"{where} must be a string, got {json.dumps(value)}")
        if len(value) > MAX_STRING:
            raise InvalidInput(f"{where} is longer than {MAX_STRING} characters")
        return value
    if kind in ("long", "integer", "int"):
        if isinstance(value, bool):
            raise InvalidInput(f"{where} must be a whole number, got {json.dumps(value)}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise InvalidInput(f"{where} must be a whole number, got {value!r}")
    if kind in ("double", "number", "float"):
        if isinstance(value, bool):
            raise InvalidInput(f"{where} must be a number, got {json.dumps(value)}")
        if isinstance(value, int | float):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise InvalidInput(f"{where} must be a number, got {value!r}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise InvalidInput(f"{where} must be true or false, got {value!r}")
    if kind == "date":
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip()).isoformat()
            except ValueError:
                pass
        raise InvalidInput(f"{where} must be a date like 2026-01-31, got {value!r}")
    if kind == "enum":
        allowed = [v for v, _ in field.values]
        if isinstance(value, str) and value in allowed:
            return value
        raise InvalidInput(f"{where} must be one of {', '.join(allowed)}; got {value!r}")
    # A custom Camunda type: keep the value as given, but never an unbounded string.
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise InvalidInput(f"{where} is longer than {MAX_STRING} characters")
    return value


def check(form: Sequence[FormField], data: Mapping[str, Any], task_label: str) -> dict[str, Any]:
    """The data to store for a task: converted to the form's types, defaults filled, unknown fields refused.

    A task without form fields takes any JSON-safe data (as SpiffWorkflow itself would).
    """
    _check_depth(dict(data))
    if not form:
        for key, value in data.items():
            if isinstance(value, str) and len(value) > MAX_STRING:
                raise InvalidInput(
                    f"value of '{key}' for {task_label} is longer than {MAX_STRING} characters"
                )
        return dict(data)
    fields = {f.id: f for f in form}
    unknown = [k for k in data if k not in fields]
    if unknown:
        raise InvalidInput(
            f"{task_label} has no field {', '.join(repr(k) for k in unknown)}; its fields are "
            f"{', '.join(fields)}"
        )
    out: dict[str, Any] = {}
    missing: list[str] = []
    for field in form:
        if field.id in data and data[field.id] not in (None, ""):
            out[field.id] = _convert(field, data[field.id], task_label)
        elif field.default is not None:
            out[field.id] = (
                _convert(field, field.default, task_label) if field.type != "string" else field.default
            )
        elif field.required:
            missing.append(field.id)
        elif field.id in data:
            out[field.id] = None
    if missing:
        raise InvalidInput(f"{task_label} needs {', '.join(repr(m) for m in missing)} (required)")
    return out

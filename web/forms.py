"""Task and start forms for the pages: the fields to draw, the values a browser posts, the errors beside
each field.

A form is the task's `form` (DESIGN §7's field list: from `camunda:formData`, or a SpiffArena JSON
Schema with its uiSchema basics, bpmn/inspect.py). The engine's own check (engine/forms.py) decides what
is valid; this module only turns HTML's strings into what it checks and its refusals into messages
beside the fields.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine import InvalidInput
from engine.forms import check, fields_from_json

PREFIX = "f-"  # form field names are prefixed: a field may be called `csrf_token` or `action`
MAX_FIELDS = 200
NUMBER_TYPES = frozenset({"long", "integer", "int", "double", "number", "float"})


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    selected: bool


@dataclass(frozen=True)
class Field:
    """One input as a template draws it."""

    id: str
    name: str  # the HTML name and id
    label: str
    type: str  # the form type: string, long, double, boolean, date, enum, ...
    control: str  # text, number, textarea, select, radio, checkbox, date, password, email, url, hidden
    required: bool
    value: str
    checked: bool
    options: tuple[Option, ...]
    help: str | None
    placeholder: str | None
    readonly: bool
    error: str | None
    inputmode: str | None
    attrs: tuple[tuple[str, str], ...]  # min, max, minlength, maxlength as the browser's hints

    @property
    def help_id(self) -> str:
        return f"{self.name}-help"

    @property
    def error_id(self) -> str:
        return f"{self.name}-error"


def _control(field: Mapping[str, Any]) -> str:
    kind, widget = field.get("type") or "string", field.get("widget")
    if widget == "hidden":
        return "hidden"
    if kind == "boolean":
        return "radio" if widget == "radio" else "checkbox"
    if kind == "enum":
        return "radio" if widget == "radio" else "select"
    if kind == "date":
        return "date"
    if widget in ("textarea", "password", "email"):
        return str(widget)
    if widget == "uri":
        return "url"
    # Numbers stay text inputs: the engine says what is wrong with a value, beside the field, rather
    # than the browser refusing keys silently.
    return "text"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _limit(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def fields(
    form: Sequence[Mapping[str, Any]],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, str] | None = None,
) -> list[Field]:
    """The inputs of a form, filled with `values` (what was posted, or the instance's data) or else
    each field's default, with `errors` beside the fields they name."""
    values = values or {}
    errors = errors or {}
    out: list[Field] = []
    for field in list(form)[:MAX_FIELDS]:
        fid = str(field.get("id") or "")
        if not fid:
            continue
        kind = str(field.get("type") or "string")
        current = values[fid] if fid in values else field.get("default")
        text = _text(current)
        control = _control(field)
        options: list[Option] = []
        if kind == "enum":
            for v in field.get("values") or ():
                value = str(v.get("id", ""))
                options.append(Option(value, str(v.get("name") or value), value == text))
        elif kind == "boolean" and control == "radio":
            options = [Option("true", "Yes", text == "true"), Option("false", "No", text == "false")]
        limits = field.get("constraints") or {}
        wanted = ("min", "max") if kind in NUMBER_TYPES else ("minlength", "maxlength")
        attrs = tuple(
            (key, _limit(limits[key])) for key in wanted if isinstance(limits.get(key), int | float)
        )
        out.append(
            Field(
                id=fid,
                name=PREFIX + fid,
                label=str(field.get("label") or fid),
                type=kind,
                control=control,
                required=bool(field.get("required")),
                value=text,
                checked=kind == "boolean" and text == "true",
                options=tuple(options),
                help=field.get("help"),
                placeholder=field.get("placeholder"),
                readonly=bool(field.get("readonly")),
                error=errors.get(fid),
                inputmode={
                    "long": "numeric",
                    "integer": "numeric",
                    "double": "decimal",
                    "number": "decimal",
                }.get(kind),
                attrs=attrs,
            )
        )
    return out


def submitted(form: Sequence[Mapping[str, Any]], posted: Mapping[str, Any]) -> dict[str, Any]:
    """The values a browser posted for the form's fields (others are ignored), as the strings the
    engine converts: an unticked checkbox is posted as nothing, so it is `false` here."""
    data: dict[str, Any] = {}
    for field in form:
        fid = str(field.get("id") or "")
        if not fid or field.get("readonly"):
            continue
        raw = posted.get(PREFIX + fid)
        if field.get("type") == "boolean" and _control(field) == "checkbox":
            data[fid] = "true" if raw is not None else "false"
        elif isinstance(raw, str):
            data[fid] = raw
    return data


def field_errors(form: Sequence[Mapping[str, Any]], data: Mapping[str, Any], label: str) -> dict[str, str]:
    """Every field's error at once (the engine stops at the first): each field checked alone by the
    engine's own rules, so that a person fixes the whole form in one go."""
    errors: dict[str, str] = {}
    for field in fields_from_json(form):
        try:
            check([field], {field.id: data[field.id]} if field.id in data else {}, label)
        except InvalidInput as exc:
            errors[field.id] = message_for(exc, field.id)
    return errors


def errors_of(exc: InvalidInput, form: Sequence[Mapping[str, Any]]) -> tuple[dict[str, str], str | None]:
    """The engine's refusal of form data: (message per field it names, message for the form as a
    whole when it names no field of this form)."""
    known = {str(f.get("id")) for f in form}
    named = [f for f in getattr(exc, "fields", ()) if f in known]
    if not named:
        return {}, str(exc)
    return {f: message_for(exc, f) for f in named}, None


def message_for(exc: InvalidInput, field_id: str) -> str:
    """The engine's message, said of the field beside which it is shown."""
    text = str(exc)
    if text.endswith("(required)"):
        return "required: please fill this in"
    marker = f"field '{field_id}' of "
    if marker in text:
        _, _, rest = text.partition(marker)
        # "field 'amount' of task 3 (Register order) must be ..." -> "must be ..."
        for verb in (" must ", " is ", " has "):
            if verb in rest:
                return rest[rest.index(verb) + 1 :]
    return text


def checked(form: Sequence[Mapping[str, Any]], data: Mapping[str, Any], label: str) -> dict[str, Any]:
    """The data converted to the form's types (as a task's completion would), or InvalidInput."""
    if not form:
        return {}
    return check(fields_from_json(form), data, label)

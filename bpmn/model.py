"""Plain, frozen descriptions of BPMN documents: what the rest of Handoff sees of a definition.

SpiffWorkflow's spec objects stay inside `bpmn/` and `engine/`; these dataclasses cross every other
boundary (storage rows, CLI output, reports) and round-trip through JSON.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .service_bindings import ServiceBinding

Severity = Literal["error", "warning"]


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _one_line(text: str) -> str:
    text = " ".join(text.split())
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


@dataclass(frozen=True)
class Problem:
    """One finding of validation, printed as `file:line: message`."""

    file: str
    line: int | None
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        # One problem, one line: messages quote element ids, names and parser text from the upload,
        # which may hold line breaks or terminal control characters.
        object.__setattr__(self, "file", _one_line(self.file))
        object.__setattr__(self, "message", _one_line(self.message))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{where}: {prefix}{self.message}"


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str  # string, long, double, boolean, date, enum
    required: bool = False
    default: Any = None
    values: tuple[tuple[str, str], ...] = ()  # (id, name) for an enum
    properties: dict[str, str] = field(default_factory=dict)
    # How a form shows the field (SpiffArena's uiSchema and JSON Schema `description`): help text under
    # it, a widget (textarea, radio, select, checkbox, password, hidden), a placeholder, read-only.
    help: str | None = None
    widget: str | None = None
    placeholder: str | None = None
    readonly: bool = False
    # Limits the engine checks on completion: min, max (numbers), minlength, maxlength (text).
    constraints: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "label": self.label,
            "type": self.type,
            "required": self.required,
            "default": self.default,
            "values": [{"id": v, "name": n} for v, n in self.values],
            "properties": dict(self.properties),
        }
        for key in ("help", "widget", "placeholder"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.readonly:
            out["readonly"] = True
        if self.constraints:
            out["constraints"] = dict(self.constraints)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> FormField:
        return cls(
            id=d["id"],
            label=d.get("label") or d["id"],
            type=d.get("type") or "string",
            required=bool(d.get("required")),
            default=d.get("default"),
            values=tuple((v["id"], v.get("name") or v["id"]) for v in d.get("values") or ()),
            properties=dict(d.get("properties") or {}),
            help=d.get("help"),
            widget=d.get("widget"),
            placeholder=d.get("placeholder"),
            readonly=bool(d.get("readonly")),
            constraints=dict(d.get("constraints") or {}),
        )


ASSIGNMENT_FIELDS = (
    "assignee",
    "candidate_users",
    "candidate_groups",
    "due_date",
    "follow_up_date",
    "priority",
)


@dataclass(frozen=True)
class Value:
    """A literal, or a Python expression to evaluate against the task's data (bpmn/assignment.py)."""

    text: str
    expression: bool = False


@dataclass(frozen=True)
class Assignment:
    """Who should do a human task and by when, as modelled (docs/assignment.md); None: not modelled."""

    assignee: Value | None = None
    candidate_users: Value | None = None
    candidate_groups: Value | None = None
    due_date: Value | None = None
    follow_up_date: Value | None = None
    priority: Value | None = None

    def to_json(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in ASSIGNMENT_FIELDS}
        return {k: {"text": v.text, "expression": v.expression} for k, v in values.items() if v is not None}

    @classmethod
    def from_json(cls, d: dict[str, Any] | None) -> Assignment | None:
        if not d:
            return None
        return cls(
            **{k: Value(v["text"], bool(v.get("expression"))) for k, v in d.items() if k in ASSIGNMENT_FIELDS}
        )


@dataclass(frozen=True)
class Element:
    """A flow element of a process, with what the engine and the reports need to know of it."""

    id: str
    type: str  # the BPMN tag's local name: userTask, scriptTask, exclusiveGateway, ...
    name: str | None
    lane: str | None
    line: int | None
    properties: dict[str, str] = field(default_factory=dict)
    form: tuple[FormField, ...] = ()
    service: ServiceBinding | None = None  # a service task's handler (bpmn/service_bindings.py)
    documentation: str | None = None  # bpmn:documentation, as the modeller wrote it
    instructions: str | None = None  # SpiffArena's instructionsForEndUser (Markdown with {{ data }})
    assignment: Assignment | None = None  # assignee, candidates, due and follow-up dates, priority

    @property
    def label(self) -> str:
        return self.name or self.id

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["form"] = [f.to_json() for f in self.form]
        d["service"] = self.service.to_json() if self.service is not None else None
        d["assignment"] = self.assignment.to_json() if self.assignment is not None else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Element:
        service = d.get("service")
        return cls(
            id=d["id"],
            type=d["type"],
            name=d.get("name"),
            lane=d.get("lane"),
            line=d.get("line"),
            properties=dict(d.get("properties") or {}),
            form=tuple(FormField.from_json(f) for f in d.get("form") or ()),
            service=ServiceBinding.from_json(service) if service else None,
            documentation=d.get("documentation"),
            instructions=d.get("instructions"),
            assignment=Assignment.from_json(d.get("assignment")),
        )


@dataclass(frozen=True)
class SourceFile:
    name: str
    kind: Literal["bpmn", "dmn", "json"]
    content: bytes
    checksum: str


@dataclass(frozen=True)
class CallBinding:
    """Which version of a called process a call activity runs (docs/conformance.md, "Call activities").

    `binding` is `latest` (the latest version deployed when the instance starts; the default),
    `version` (the deployed version `version`), or `deployment` (the copy deployed with the caller).
    `external` is true when the called process was not among the files deployed with the caller.
    """

    process: str
    binding: str = "latest"
    version: int | None = None
    external: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> CallBinding:
        return cls(d["process"], d.get("binding") or "latest", d.get("version"), bool(d.get("external")))


@dataclass(frozen=True)
class ProcessModel:
    """What Handoff keeps of one executable process, beside SpiffWorkflow's serialized spec."""

    process_id: str
    name: str | None
    dialect: str  # camunda, spiff or bpmn: which SpiffWorkflow parser and serializer it needs
    pool: str | None
    lanes: tuple[str, ...]
    properties: dict[str, str]
    elements: dict[str, Element]
    # event subprocess id -> whether its start event interrupts (SpiffWorkflow keeps neither)
    event_subprocesses: dict[str, bool] = field(default_factory=dict)
    # call activity id -> how it binds its called process (see CallBinding)
    calls: dict[str, CallBinding] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "event_subprocesses": dict(self.event_subprocesses),
            "calls": {k: c.to_json() for k, c in self.calls.items()},
            "process_id": self.process_id,
            "name": self.name,
            "dialect": self.dialect,
            "pool": self.pool,
            "lanes": list(self.lanes),
            "properties": dict(self.properties),
            "elements": {k: e.to_json() for k, e in self.elements.items()},
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProcessModel:
        return cls(
            process_id=d["process_id"],
            name=d.get("name"),
            dialect=d["dialect"],
            pool=d.get("pool"),
            lanes=tuple(d.get("lanes") or ()),
            properties=dict(d.get("properties") or {}),
            elements={k: Element.from_json(e) for k, e in (d.get("elements") or {}).items()},
            event_subprocesses=dict(d.get("event_subprocesses") or {}),
            calls={k: CallBinding.from_json(c) for k, c in (d.get("calls") or {}).items()},
        )


@dataclass(frozen=True)
class ParsedProcess:
    """An executable process ready to be stored: its model, serialized spec and the files it came from."""

    model: ProcessModel
    spec: dict[str, Any]  # {"spec": ..., "subprocess_specs": ...} in SpiffWorkflow's serializer format
    files: tuple[SourceFile, ...]
    checksum: str


@dataclass(frozen=True)
class ValidationReport:
    processes: tuple[ParsedProcess, ...]
    problems: tuple[Problem, ...]

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        """`handoff validate --json`: ok, the processes found, every problem with file and line."""
        return {
            "ok": self.ok,
            "processes": [p.model.process_id for p in self.processes],
            "problems": [
                {"file": p.file, "line": p.line, "severity": p.severity, "message": p.message}
                for p in self.problems
            ],
        }

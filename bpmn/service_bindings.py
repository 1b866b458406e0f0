"""How a service task names the code that does its work, in each dialect Handoff reads (docs/services.md).

SpiffWorkflow keeps only SpiffArena's operator in its specs; Camunda's `camunda:class`, `camunda:topic`,
`camunda:delegateExpression` and BPMN's `implementation`/`operationRef` are read here, with lxml, at
deploy time, and kept with the element as a `ServiceBinding`: the handler name the engine looks up in
the `handoff.services` entry points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from .namespaces import BPMN_NS, CAMUNDA_NS, SPIFF_NS

_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS, "spiffworkflow": SPIFF_NS}
_EXPRESSION = re.compile(r"^\s*[$#]\{\s*(?P<body>.*?)\s*\}\s*$", re.S)
_VARIABLE = re.compile(r"^\s*\$\{\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\}\s*$")


@dataclass(frozen=True)
class ServiceBinding:
    """The handler a service task calls, where its name came from, and the parameters it is given.

    `strict` says what happens when no handler of that name is installed: True (the name can only mean a
    Handoff handler: the `handler` property, a SpiffArena operator) makes it an incident; False (a name
    from another engine: Camunda's class, bean or external topic, a BPMN implementation URI) leaves the
    task waiting as open work for an outside worker or a person, as Camunda does with external tasks.
    """

    handler: str
    source: str  # handler, operator, topic, class, delegateExpression, expression, implementation, operation
    strict: bool
    params: tuple[tuple[str, str], ...] = ()  # Camunda input parameters and fields: literal or ${variable}

    def to_json(self) -> dict[str, Any]:
        return {
            "handler": self.handler,
            "source": self.source,
            "strict": self.strict,
            "params": [list(p) for p in self.params],
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ServiceBinding:
        return cls(
            handler=d["handler"],
            source=d.get("source") or "handler",
            strict=bool(d.get("strict")),
            params=tuple((str(k), str(v)) for k, v in d.get("params") or ()),
        )


def variable_of(text: str) -> str | None:
    """`${amount}` -> `amount`: a parameter that passes one data value on (else the text is a literal)."""
    match = _VARIABLE.match(text)
    return match.group("name") if match else None


def _expression_name(text: str) -> str:
    """`${mailer}` -> `mailer`, `${orders.confirm(execution)}` -> `orders.confirm`."""
    match = _EXPRESSION.match(text)
    body = match.group("body") if match else text.strip()
    return body.split("(", 1)[0].strip()


def _camunda_params(node: etree._Element) -> tuple[tuple[str, str], ...]:
    params: list[tuple[str, str]] = []
    ext = node.find("bpmn:extensionElements", _NS)
    if ext is None:
        return ()
    for param in ext.iterfind("camunda:inputOutput/camunda:inputParameter", _NS):
        name = param.get("name")
        if name and len(param) == 0:  # a literal or an expression; lists, maps and scripts are not read
            params.append((name, (param.text or "").strip()))
    for field in ext.iterfind("camunda:field", _NS):
        name = field.get("name")
        if not name:
            continue
        value = field.get("stringValue") or field.get("expression")
        if value is None:
            child = field.find("camunda:string", _NS)
            if child is None:
                child = field.find("camunda:expression", _NS)
            value = child.text if child is not None else None
        if value is not None:
            params.append((name, value.strip()))
    return tuple(params)


def _operation_name(node: etree._Element, ref: str) -> str:
    """BPMN's `operationRef` names an `operation` of an `interface` of the same document."""
    local = ref.split(":", 1)[-1]
    for operation in node.getroottree().iterfind(".//bpmn:interface/bpmn:operation", _NS):
        if operation.get("id") == local:
            return (operation.get("name") or "").strip() or local
    return local


def binding(node: etree._Element, properties: dict[str, str]) -> ServiceBinding | None:
    """The handler a `serviceTask` element names; None when it names none (it waits as open work)."""
    params = _camunda_params(node)
    explicit = (properties.get("handler") or "").strip()
    if explicit:
        return ServiceBinding(explicit, "handler", True, params)
    operator = node.find("bpmn:extensionElements/spiffworkflow:serviceTaskOperator", _NS)
    if operator is not None and operator.get("id"):
        # SpiffWorkflow evaluates the operator's parameters itself and passes them at run time.
        return ServiceBinding(operator.get("id", "").strip(), "operator", True)
    attr = node.get
    if attr(f"{{{CAMUNDA_NS}}}type") == "external" and attr(f"{{{CAMUNDA_NS}}}topic"):
        return ServiceBinding(attr(f"{{{CAMUNDA_NS}}}topic", "").strip(), "topic", False, params)
    if attr(f"{{{CAMUNDA_NS}}}class"):
        return ServiceBinding(attr(f"{{{CAMUNDA_NS}}}class", "").strip(), "class", False, params)
    for source in ("delegateExpression", "expression"):
        text = attr(f"{{{CAMUNDA_NS}}}{source}")
        if text and _expression_name(text):
            return ServiceBinding(_expression_name(text), source, False, params)
    implementation = (attr("implementation") or "").strip()
    if implementation and not implementation.startswith("##"):
        return ServiceBinding(implementation, "implementation", False, params)
    ref = (attr("operationRef") or "").strip()
    if ref:
        return ServiceBinding(_operation_name(node, ref), "operation", False, params)
    return None

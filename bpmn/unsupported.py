"""Camunda attributes and extension elements Handoff does not act on: each a warning that names it.

A modeller who sets `camunda:asyncBefore` or adds a task listener expects it to do something; a deploy
that keeps quiet about it would leave them to find out in production. What Handoff (or SpiffWorkflow's
Camunda parser) does act on is listed here; everything else in Camunda's namespace is reported once per
element and name, so nothing is silently ignored.
"""

from __future__ import annotations

from lxml import etree

from .model import Problem
from .namespaces import CAMUNDA_NS

ACTED_ON_ATTRIBUTES = frozenset(
    {
        # who and when (bpmn/assignment.py)
        "assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority",
        # multi-instance (SpiffWorkflow's Camunda parser)
        "collection", "elementVariable",
        # call activities (bpmn/parsing.py, CallBinding)
        "calledElementBinding", "calledElementVersion",
        # service tasks (bpmn/service_bindings.py), business rule tasks, message payloads
        "class", "delegateExpression", "expression", "topic", "type", "decisionRef", "resultVariable",
        # how long finished instances are kept (bpmn/retention.py, handoff cleanup)
        "historyTimeToLive",
    }
)  # fmt: skip
ACTED_ON_ELEMENTS = frozenset(
    {
        "properties", "property",  # extension properties (sla, handler, retries, ...)
        "formData", "formField", "validation", "constraint", "value",  # forms
        "failedJobRetryTimeCycle",  # retries (bpmn/retry.py)
        "inputOutput", "inputParameter", "field", "string", "expression",  # service task parameters
    }
)  # fmt: skip


def _owner(node: etree._Element) -> str:
    current: etree._Element | None = node
    while current is not None:
        if current.get("id") and etree.QName(current).namespace != CAMUNDA_NS:
            name = (current.get("name") or "").strip()
            return f"{etree.QName(current).localname} '{name or current.get('id')}'"
        current = current.getparent()
    return "the definitions"


def warnings(tree: etree._ElementTree, filename: str) -> list[Problem]:
    """A warning for each Camunda attribute and outermost extension element Handoff does not act on."""
    out: list[Problem] = []
    for node in tree.getroot().iter():
        if not isinstance(node.tag, str):
            continue
        qname = etree.QName(node)
        if qname.namespace == CAMUNDA_NS and qname.localname not in ACTED_ON_ELEMENTS:
            parent = node.getparent()
            if parent is None or etree.QName(parent).namespace != CAMUNDA_NS:  # report the outermost only
                out.append(
                    Problem(
                        filename,
                        node.sourceline,
                        f"{_owner(node)}: camunda:{qname.localname} is not supported by Handoff and is ignored",
                        "warning",
                    )
                )
            continue
        for attribute in node.attrib:
            attr = etree.QName(attribute)
            if attr.namespace == CAMUNDA_NS and attr.localname not in ACTED_ON_ATTRIBUTES:
                out.append(
                    Problem(
                        filename,
                        node.sourceline,
                        f"{_owner(node)}: camunda:{attr.localname} is not supported by Handoff and is ignored",
                        "warning",
                    )
                )
    return out


__all__ = ["ACTED_ON_ATTRIBUTES", "ACTED_ON_ELEMENTS", "warnings"]

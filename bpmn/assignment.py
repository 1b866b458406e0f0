"""Who should do a human task and by when, as the modeller drew it (docs/assignment.md).

Camunda Modeler writes `camunda:assignee`, `candidateUsers`, `candidateGroups`, `dueDate`,
`followUpDate` and `priority` as attributes of a user task: each a literal (`bob`, `fin, hr`,
`2026-12-31T12:00:00`, `P2D`) or one JUEL expression (`${starter}`, `${amount > 1000 ? 'cfo' : 'fin'}`)
that is translated to Python here, like the conditions (bpmn/camunda_expressions.py). SpiffArena has no
such attributes: the same names as `spiffworkflow:properties` of the task hold Python expressions, as
everything SpiffArena evaluates does. The engine evaluates expressions in the sandbox against the
instance's data when the task becomes ready (engine/assignment.py).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

from lxml import etree

from .camunda_expressions import Untranslatable, translate_juel
from .model import ASSIGNMENT_FIELDS, Assignment, Problem, Value
from .namespaces import CAMUNDA_NS, SPIFF_NS

# The attribute names of Camunda, which SpiffArena's properties reuse, -> the field of Assignment.
ATTRIBUTES = dict(
    zip(
        ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority"),
        ASSIGNMENT_FIELDS,
        strict=True,
    )
)
_SPIFF_PROPERTIES = f"{{{SPIFF_NS}}}properties/{{{SPIFF_NS}}}property"


def read(node: etree._Element) -> tuple[Assignment | None, list[str]]:
    """The assignment of a task node (Camunda attributes, else SpiffArena properties), and why any part of
    it cannot be used (each message names the attribute)."""
    found: dict[str, Value] = {}
    problems: list[str] = []
    for attribute, field_name in ATTRIBUTES.items():
        raw = node.get(f"{{{CAMUNDA_NS}}}{attribute}")
        if raw is None or not raw.strip():
            continue
        raw = raw.strip()
        if raw.startswith(("${", "#{")):
            try:
                found[field_name] = Value(translate_juel(raw), True)
            except Untranslatable as exc:
                problems.append(f"camunda:{attribute} '{raw}' cannot be translated ({exc})")
        else:
            found[field_name] = Value(raw)
    for prop in node.iterfind(f"{{*}}extensionElements/{_SPIFF_PROPERTIES}"):
        field_name = ATTRIBUTES.get(prop.get("name") or "") or ""
        value = (prop.get("value") or "").strip()
        if not field_name or not value or field_name in found:
            continue
        try:
            ast.parse(value, mode="eval")
        except SyntaxError as exc:
            problems.append(
                f"spiffworkflow property {prop.get('name')} '{value}' is not an expression ({exc.msg})"
            )
            continue
        found[field_name] = Value(value, True)
    return (Assignment(**found) if found else None), problems


def of_trees(trees: Iterable[etree._ElementTree], human_tags: set[str]) -> dict[str, Assignment]:
    """Element id -> its assignment, for the human tasks of these documents that have one."""
    found: dict[str, Assignment] = {}
    for tree in trees:
        for node in tree.getroot().iter():
            if isinstance(node.tag, str) and etree.QName(node).localname in human_tags and node.get("id"):
                modelled = read(node)[0]
                if modelled is not None:
                    found[str(node.get("id"))] = modelled
    return found


def problems(tree: etree._ElementTree, filename: str, human_tags: set[str]) -> list[Problem]:
    """Warnings for assignment attributes that cannot be used, with the element they belong to. Not errors:
    Camunda files that ran before assignment was read (a Spring bean's `${ldap.findManager(emp)}`) still
    deploy; their tasks are not assigned from that attribute, and the warning says so."""
    out: list[Problem] = []
    for node in tree.getroot().iter():
        if not isinstance(node.tag, str) or etree.QName(node).localname not in human_tags:
            continue
        for message in read(node)[1]:
            text = f"element '{node.get('id')}': {message}; ignored: the task is not assigned from it"
            out.append(Problem(filename, node.sourceline, text, "warning"))
    return out


__all__ = ["ATTRIBUTES", "of_trees", "problems", "read"]

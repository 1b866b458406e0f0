"""Damage BPMN files the ways uploads get damaged: the mutations of tests/test_hostile.py.

A mutation is plain data (`Mutation`), so that hypothesis can generate and shrink it and a failing
example can be written down in a regression test. `apply` is deterministic: the same file and the same
mutations give the same bytes. Tree mutations (on lxml elements) run first, byte mutations last.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from lxml import etree

TREE_KINDS = (
    "delete_element",
    "duplicate_element",
    "move_element",
    "delete_attribute",
    "set_attribute",
    "set_id",
    "reuse_id",
    "swap_refs",
    "set_text",
    "long_name",
)
BYTE_KINDS = ("flip", "truncate", "entity", "insert")
KINDS = TREE_KINDS + BYTE_KINDS

# Attributes worth changing: references, ids, types, expressions.
ATTRIBUTES = (
    "id",
    "name",
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "calledElement",
    "isExecutable",
    "default",
    "processRef",
    "messageRef",
    "signalRef",
    "errorRef",
    "bpmnElement",
    "scriptFormat",
    "cancelActivity",
    "{http://camunda.org/schema/1.0/bpmn}formKey",
    "{http://camunda.org/schema/1.0/bpmn}decisionRef",
    "{http://www.w3.org/2001/XMLSchema-instance}type",
)

# What goes into DOCTYPEs and entity references: the classic XML attacks.
ENTITY_ATTACKS = (
    b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    b'<!DOCTYPE d [<!ENTITY xxe SYSTEM "http://127.0.0.1:9/evil">]>',
    b'<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
    b'<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY xxe "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
    b'<!DOCTYPE d [<!ENTITY xxe "' + b"x" * 5000 + b'">]>',
    b'<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">',
    b"",  # no declaration: a reference to an entity nobody declared
)


@dataclass(frozen=True)
class Mutation:
    kind: str
    a: int = 0  # which element / byte position
    b: int = 0  # which attribute / second element / byte value / attack
    text: str = ""  # a new value

    def __str__(self) -> str:
        return f"{self.kind}(a={self.a}, b={self.b}, text={self.text!r})"


def apply(content: bytes, mutations: Sequence[Mutation]) -> bytes:
    tree_mutations = [m for m in mutations if m.kind in TREE_KINDS]
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, remove_comments=False)
    try:
        root = etree.fromstring(content, parser) if tree_mutations else None
    except etree.XMLSyntaxError:
        root = None  # not XML (a JSON form schema): only byte mutations apply
    if root is not None:
        for mutation in tree_mutations:
            _apply_tree(root, mutation)
        content = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    for mutation in mutations:
        if mutation.kind in BYTE_KINDS:
            content = _apply_bytes(content, mutation)
    return content


def _elements(root: etree._Element) -> list[etree._Element]:
    return [e for e in root.iter() if isinstance(e.tag, str)]


def _safe(text: str) -> str:
    # lxml only stores XML-compatible text; what it refuses could never be in a parsed upload either.
    return "".join(c for c in text if c in "\t\n\r" or (" " <= c <= "\ud7ff") or ("\ue000" <= c <= "\ufffd"))


def _apply_tree(root: etree._Element, m: Mutation) -> None:
    elements = _elements(root)
    target = elements[m.a % len(elements)]
    other = elements[m.b % len(elements)]
    attribute = ATTRIBUTES[m.b % len(ATTRIBUTES)]
    parent = target.getparent()
    if m.kind == "delete_element" and parent is not None:
        parent.remove(target)
    elif m.kind == "duplicate_element" and parent is not None:
        target.addnext(copy.deepcopy(target))
    elif m.kind == "move_element" and parent is not None and target not in list(other.iterancestors()):
        if other is not target:
            other.append(target)
    elif m.kind == "delete_attribute" and target.attrib:
        keys = list(target.attrib)
        del target.attrib[keys[m.b % len(keys)]]
    elif m.kind == "set_attribute":
        target.set(attribute, _safe(m.text))
    elif m.kind == "set_id":
        target.set("id", _safe(m.text))
    elif m.kind == "reuse_id" and other.get("id"):
        target.set("id", other.get("id", ""))
    elif m.kind == "swap_refs":
        flows = [e for e in elements if e.get("sourceRef") is not None or e.get("targetRef") is not None]
        if flows:
            flow = flows[m.a % len(flows)]
            source, target_ref = flow.get("sourceRef"), flow.get("targetRef")
            for name, value in (("sourceRef", target_ref), ("targetRef", source)):
                if value is None:
                    flow.attrib.pop(name, None)
                else:
                    flow.set(name, value)
    elif m.kind == "set_text":
        target.text = _safe(m.text)
    elif m.kind == "long_name":
        target.set("name" if m.b % 2 else "id", "N" * (200 + m.a % 400))


def _apply_bytes(content: bytes, m: Mutation) -> bytes:
    if not content:
        return content
    at = m.a % (len(content) + 1)
    if m.kind == "flip":
        at = m.a % len(content)
        return content[:at] + bytes([m.b % 256]) + content[at + 1 :]
    if m.kind == "truncate":
        return content[:at]
    if m.kind == "insert":
        return content[:at] + m.text.encode("utf-8", "surrogatepass") + content[at:]
    # "entity": a DOCTYPE after the XML declaration (or at the start) and a reference in the body.
    attack = ENTITY_ATTACKS[m.b % len(ENTITY_ATTACKS)]
    declaration_end = content.find(b"?>") + 2 if content.startswith(b"<?xml") else 0
    body = content[declaration_end:]
    name_at = body.find(b' name="')
    if name_at >= 0:
        body = body[: name_at + 7] + b"&xxe;" + body[name_at + 7 :]
    return content[:declaration_end] + attack + body

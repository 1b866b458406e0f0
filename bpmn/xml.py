"""Hardened XML loading: uploaded BPMN is untrusted input."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lxml import etree

from .model import Problem, SourceFile

MAX_FILE_BYTES = 10 * 1024 * 1024

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
DMN_NAMESPACES = (
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",
    "https://www.omg.org/spec/DMN/20191111/MODEL/",
    "http://www.omg.org/spec/DMN/20180521/MODEL/",
    "https://www.omg.org/spec/DMN/20230324/MODEL/",
)


class XmlError(Exception):
    """A file that cannot be read as safe XML; carries the Problem to report."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _parser() -> etree.XMLParser:
    # No DTDs, no entities, no network: external-entity and billion-laughs files fail here.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


def read_source(path: str | Path, *, max_bytes: int = MAX_FILE_BYTES) -> SourceFile:
    """Read a BPMN, DMN or JSON (form schema) file from disk, refusing oversized ones."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise XmlError(Problem(str(path), None, f"cannot read file: {exc.strerror}")) from exc
    if size > max_bytes:
        raise XmlError(Problem(str(path), None, f"file is {size} bytes, more than the limit of {max_bytes}"))
    content = p.read_bytes()
    return source_from_bytes(str(path), content)


def source_from_bytes(name: str, content: bytes) -> SourceFile:
    lower = name.lower()
    kind: str
    if lower.endswith(".json"):
        kind = "json"
    elif lower.endswith(".dmn") or any(ns.encode() in content[:4096] for ns in DMN_NAMESPACES):
        kind = "dmn"
    else:
        kind = "bpmn"
    return SourceFile(name=name, kind=kind, content=content, checksum=hashlib.sha256(content).hexdigest())  # type: ignore[arg-type]


def parse_xml(source: SourceFile) -> etree._ElementTree:
    """Parse with the hardened parser; any DOCTYPE is refused (entities are the classic XML attacks)."""
    try:
        tree = etree.ElementTree(etree.fromstring(source.content, parser=_parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        msg = exc.msg if hasattr(exc, "msg") and exc.msg else str(exc)
        raise XmlError(Problem(source.name, line, f"malformed XML: {msg}")) from exc
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlError(
            Problem(source.name, 1, "DOCTYPE and entity declarations are not allowed in uploaded files")
        )
    for node in tree.iter(etree.Entity):
        raise XmlError(Problem(source.name, node.sourceline, "entity references are not allowed"))
    return tree

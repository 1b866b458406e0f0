"""Hardened XML loading: uploaded BPMN is untrusted input."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from lxml import etree

from .model import Problem, SourceFile

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_FILE_NAME_CHARS = 1024  # stored with the definition

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
    if len(str(path)) > MAX_FILE_NAME_CHARS:
        raise XmlError(
            Problem(
                f"{str(path)[:60]}...", None, f"file path is longer than {MAX_FILE_NAME_CHARS} characters"
            )
        )
    try:
        # Read one byte past the limit rather than trusting stat(): a device or a pipe (/dev/zero)
        # reports size 0 and never ends, and a file may grow between stat() and read().
        with p.open("rb") as handle:
            content = handle.read(max_bytes + 1)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise XmlError(Problem(str(path), None, f"cannot read file: {reason}")) from exc
    if len(content) > max_bytes:
        try:
            size = f"{p.stat().st_size:,} bytes"
        except OSError:
            size = "too large"
        if size == "0 bytes":
            size = "endless (not a regular file)"
        raise XmlError(
            Problem(
                str(path),
                None,
                f"file is {size}, more than the limit of {_size(max_bytes)} (HANDOFF_MAX_UPLOAD)",
            )
        )
    return source_from_bytes(str(path), content)


def _size(n: int) -> str:
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n // size} {unit}" if n % size == 0 else f"{n / size:.1f} {unit} ({n:,} bytes)"
    return f"{n:,} bytes"


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


_BOMS = (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_UTF16_32_START = (b"<\x00", b"\x00<")
# The prolog is all that may come before a DOCTYPE: the XML declaration, processing instructions,
# comments and whitespace. A DOCTYPE anywhere else is a syntax error that libxml2 reports itself.
_PROLOG_DOCTYPE = re.compile(rb"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE", re.DOTALL)
_LINE_COLUMN = re.compile(r",? line (\d+), column (\d+)\s*$")
# libxml2's words for its resource limits, and what they mean to whoever uploaded the file.
_EXPLAINED = (
    ("Excessive depth in document", "elements are nested deeper than 256 levels"),
    ("amplification", "entity expansion is too large (entities are not allowed)"),
    ("Resource limit exceeded", "a text or attribute value is larger than 10 MB"),
    ("huge text node", "a text or attribute value is larger than 10 MB"),
    ("Invalid bytes in character encoding", "bytes that are not valid in the file's encoding "),
)


def _markup_view(content: bytes) -> bytes:
    """The bytes with a byte-order mark removed and, for UTF-16/32, the NUL bytes between ASCII
    characters dropped: enough to look for markup without decoding."""
    for bom in _BOMS:
        if content.startswith(bom):
            content = content[len(bom) :]
            return content.replace(b"\x00", b"") if len(bom) != 3 else content
    if content.startswith(_UTF16_32_START):
        return content.replace(b"\x00", b"")
    return content


def _looks_binary(content: bytes) -> bool:
    head = _markup_view(content[:4096])
    if not head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return controls * 20 > len(head)  # more than 5%: not text in any encoding XML allows


def _syntax_message(exc: etree.XMLSyntaxError, content: bytes) -> str:
    raw = " ".join((exc.msg if getattr(exc, "msg", None) else str(exc)).split())
    column = ""
    match = _LINE_COLUMN.search(raw)
    if match:
        raw = raw[: match.start()].rstrip(" ,")
        column = f" (column {match.group(2)})"
    if raw.startswith(("Document is empty", "Start tag expected")) and _looks_binary(content):
        return "not an XML file: it holds binary data"
    for needle, meaning in _EXPLAINED:
        if needle in raw:
            if needle.startswith("Invalid bytes"):
                return f"malformed XML: {meaning}(UTF-8 unless the XML declaration names another){column}"
            return f"refused: {meaning}"
    return f"malformed XML: {raw}{column}"


def parse_xml(source: SourceFile) -> etree._ElementTree:
    """Parse with the hardened parser; any DOCTYPE is refused (entities are the classic XML attacks)."""
    content = source.content
    if not content.strip():
        what = "file is empty" if not content else "file holds only whitespace, no XML"
        raise XmlError(Problem(source.name, None, what))
    view = _markup_view(content)
    doctype = _PROLOG_DOCTYPE.match(view)
    if doctype:
        # Refused before libxml2 reads the internal subset: entity bombs never start expanding.
        raise XmlError(Problem(source.name, view.count(b"\n", 0, doctype.end()) + 1, _NO_DOCTYPE))
    try:
        tree = etree.ElementTree(etree.fromstring(content, parser=_parser()))
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if exc.lineno else None
        raise XmlError(Problem(source.name, line, _syntax_message(exc, content))) from exc
    except ValueError as exc:  # lxml refuses some inputs before libxml2 sees them
        raise XmlError(Problem(source.name, None, f"malformed XML: {exc}")) from exc
    docinfo = tree.docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise XmlError(Problem(source.name, 1, _NO_DOCTYPE))
    for node in tree.iter(etree.Entity):
        raise XmlError(Problem(source.name, node.sourceline, "entity references are not allowed"))
    return tree


_NO_DOCTYPE = "DOCTYPE and entity declarations are not allowed in uploaded files"

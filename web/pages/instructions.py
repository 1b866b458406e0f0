"""Instructions for the person doing a task: SpiffArena's `instructionsForEndUser` (Markdown with Jinja
`{{ name }}` placeholders) or the element's `bpmn:documentation` (plain text).

Markdown is rendered by markdown-it-py with raw HTML off, so the text a modeller wrote (or a value from
the instance's data) can never add markup of its own; links keep only http(s) and mailto targets.
Placeholders are filled with the instance's data as text, never evaluated: an uploaded process cannot
run template code on the server.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")
_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*\}\}")
_SAFE_LINK = re.compile(r"^(https?:|mailto:|/|#)", re.IGNORECASE)
MAX_CHARS = 20_000


def _validate_link(url: str) -> bool:
    return bool(_SAFE_LINK.match(url.strip()))


_md.validateLink = _validate_link  # type: ignore[method-assign]


def _lookup(data: Mapping[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def fill(text: str, data: Mapping[str, Any]) -> str:
    """`{{ name }}` and `{{ a.b }}` replaced by the data's values (as text); unknown ones stay as written."""

    def one(match: re.Match[str]) -> str:
        value = _lookup(data, match.group(1))
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(one, text)


def instructions_html(text: str | None, data: Mapping[str, Any]) -> Markup | None:
    """SpiffArena instructions as safe HTML, or None."""
    if not text:
        return None
    return Markup(_md.render(fill(text[:MAX_CHARS], data)))  # noqa: S704 - markdown-it escapes; HTML off


def documentation_html(text: str | None) -> Markup | None:
    """`bpmn:documentation` as escaped text with its paragraphs kept."""
    if not text:
        return None
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text[:MAX_CHARS]) if p.strip()]
    return Markup("".join(f"<p>{escape(p)}</p>" for p in paragraphs))  # noqa: S704 - escaped

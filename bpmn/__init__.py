"""BPMN as a document: hardened loading, validation, SpiffWorkflow's parser and serializer, lanes and forms.

Knows nothing of the database, of click or of the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .model import Element, FormField, ParsedProcess, Problem, ProcessModel, SourceFile, ValidationReport
    from .parsing import load_files, validate, validate_files

# Names load on first use (PEP 562): a command that only reads never imports what it does not run.
_LAZY: dict[str, tuple[str, str]] = {
    name: (module, name)
    for module, names in {
        ".model": "Element FormField ParsedProcess Problem ProcessModel SourceFile ValidationReport",
        ".parsing": "load_files validate validate_files",
    }.items()
    for name in names.split()
}


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module, __name__), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Element",
    "FormField",
    "ParsedProcess",
    "Problem",
    "ProcessModel",
    "SourceFile",
    "ValidationReport",
    "load_files",
    "validate",
    "validate_files",
]

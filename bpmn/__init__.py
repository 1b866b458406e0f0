"""BPMN as a document: hardened loading, validation, SpiffWorkflow's parser and serializer, lanes and forms.

Knows nothing of the database, of click or of the engine.
"""

from .model import Element, FormField, ParsedProcess, Problem, ProcessModel, SourceFile, ValidationReport
from .parsing import load_files, validate, validate_files

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

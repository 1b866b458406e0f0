"""Validate BPMN/DMN files and turn them into deployable processes with SpiffWorkflow's parser."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from pathlib import Path

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from . import assignment, camunda_expressions, definition_limits, dmn_feel, inspect, lint, retry, unsupported
from .code_check import CodeCheck, code_problems
from .inspect import local
from .model import CallBinding, ParsedProcess, Problem, ProcessModel, SourceFile, ValidationReport
from .serializer import codec
from .spiff_parsers import PARSERS, settle_event_subprocesses
from .xml import MAX_FILE_BYTES, XmlError, parse_xml, read_source


def load_files(
    paths: Iterable[str | Path], *, max_bytes: int = MAX_FILE_BYTES
) -> tuple[list[SourceFile], list[Problem]]:
    sources: list[SourceFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            sources.append(read_source(path, max_bytes=max_bytes))
        except XmlError as exc:
            problems.append(exc.problem)
    return sources, problems


def validate_files(
    paths: Sequence[str | Path], *, max_bytes: int = MAX_FILE_BYTES, check_code: CodeCheck | None = None
) -> ValidationReport:
    """Read (each file at most `max_bytes`), parse and lint files; nothing is stored. With `check_code`,
    every script and expression is compiled by it (bpmn/code_check.py)."""
    sources, problems = load_files(paths, max_bytes=max_bytes)
    if problems:
        return ValidationReport((), tuple(problems))
    report = validate(sources, check_code=check_code)
    return ValidationReport(report.processes, in_line_order(tuple(problems) + report.problems))


def in_line_order(problems: Sequence[Problem]) -> tuple[Problem, ...]:
    """Problems file by file (in the order the files came), each file's by line; those without a line
    (the file as a whole) first."""
    files: dict[str, int] = {}
    for problem in problems:
        files.setdefault(problem.file, len(files))
    return tuple(sorted(problems, key=lambda p: (files[p.file], p.line or 0)))


def _spiff_problem(exc: Exception, lines: dict[str, dict[str, int]], default_file: str) -> Problem:
    file_name = getattr(exc, "file_name", "") or default_file
    element_id = getattr(exc, "id", "") or getattr(exc, "task_id", "")
    line = getattr(exc, "line_number", "") or None
    if not line and element_id:
        line = lines.get(file_name, {}).get(element_id) or next(
            (idx[element_id] for idx in lines.values() if element_id in idx), None
        )
    message = str(exc).strip() or type(exc).__name__
    if re.match(r"\w+(Error|Exception)\(", message):
        # SpiffWorkflow wrapped a Python error of its own: say so rather than show only its repr
        message = (
            f"SpiffWorkflow cannot read this element ({message.rstrip('. ')}); check its references and ids"
        )
    tag = getattr(exc, "tag", "")
    if element_id and element_id not in message:
        message = f"{tag or 'element'} '{element_id}': {message}"
    return Problem(file_name, int(line) if line else None, message)


def validate(sources: Sequence[SourceFile], *, check_code: CodeCheck | None = None) -> ValidationReport:
    """Parse and lint `sources` together (a process and the files it calls); nothing is stored. With
    `check_code`, every script and expression of the parsed processes is compiled by it."""
    problems: list[Problem] = []
    trees: dict[str, etree._ElementTree] = {}
    for source in sources:
        if source.kind == "json":
            schema_problem = definition_limits.form_schema_problem(source)
            if schema_problem is not None:
                problems.append(schema_problem)
            continue
        try:
            trees[source.name] = parse_xml(source)
        except XmlError as exc:
            problems.append(exc.problem)
    if problems:
        return ValidationReport((), tuple(problems))

    bpmn_trees = {n: t for n, t in trees.items() if _kind(sources, n) == "bpmn"}
    dmn_trees = {n: t for n, t in trees.items() if _kind(sources, n) == "dmn"}
    if not bpmn_trees and dmn_trees:
        # A decision is part of the process version that uses it (SpiffWorkflow binds it at parse time).
        message = (
            "a DMN file is deployed together with the BPMN file whose business rule tasks use it "
            "(handoff deploy process.bpmn decision.dmn)"
        )
        return ValidationReport((), tuple(Problem(name, None, message) for name in dmn_trees))
    if not bpmn_trees:
        return ValidationReport((), (Problem(", ".join(trees) or "(no file)", None, "no BPMN file given"),))
    # Before anything else reads them: an upload beyond the work bounds is refused in linear time.
    oversized = definition_limits.upload_problems(bpmn_trees)
    if oversized:
        return ValidationReport((), tuple(oversized))
    decisions = {
        d.get("id") for t in dmn_trees.values() for d in t.getroot().iter() if local(d.tag) == "decision"
    }

    for name, tree in bpmn_trees.items():
        problems.extend(definition_limits.oversized_names(tree, name))
        problems.extend(lint.refused_constructs(tree, name))
        problems.extend(lint.dangling_flows(tree, name))
        problems.extend(lint.event_references(tree, name))
        problems.extend(lint.decision_references(tree, name, decisions))
        problems.extend(camunda_expressions.translate_document(tree, name)[1])
        problems.extend(assignment.problems(tree, name, inspect.HUMAN_TAGS))
        problems.extend(unsupported.warnings(tree, name))
        lint.name_anonymous_flows(tree)
        problems.extend(lint.warnings(tree, name))
    for name, tree in dmn_trees.items():
        problems.extend(dmn_feel.translate_dmn(tree, name)[1])
    if any(p.severity == "error" for p in problems):
        return ValidationReport((), tuple(problems))

    lines = {name: inspect.line_index(tree) for name, tree in trees.items()}
    dialect = inspect.dialect_of(bpmn_trees.values())
    parser = PARSERS[dialect]()
    current = ""
    try:
        for name, tree in dmn_trees.items():
            current = name
            parser.add_dmn_xml(tree.getroot(), filename=name)
        for name, tree in bpmn_trees.items():
            current = name
            parser.add_bpmn_xml(tree, filename=name)
    except (ValidationException, SpiffWorkflowException) as exc:
        problems.append(_spiff_problem(exc, lines, current))
        return ValidationReport((), tuple(problems))
    except (KeyError, AttributeError, TypeError, ValueError, AssertionError, IndexError) as exc:
        # SpiffWorkflow's parser trips over what it does not expect (an attribute it needs is missing)
        problems.append(Problem(current, None, f"SpiffWorkflow cannot read this file ({exc!r})"))
        return ValidationReport((), tuple(problems))
    except etree.LxmlError as exc:
        problems.append(Problem(current, None, f"cannot be parsed: {exc}"))
        return ValidationReport((), tuple(problems))

    json_files = {Path(s.name).name: s for s in sources if s.kind == "json"}
    assigned = assignment.of_trees(bpmn_trees.values(), inspect.HUMAN_TAGS)
    executable: list[tuple[str, etree._Element, str]] = []
    pools: dict[str, str] = {}
    for name, tree in bpmn_trees.items():
        pools.update(inspect.pool_names(tree))
        for process in inspect.processes(tree):
            if process.get("isExecutable", "true").lower() != "false" and process.get("id"):
                executable.append((name, process, process.get("id", "")))
    if not executable:
        files = ", ".join(bpmn_trees)
        return ValidationReport((), tuple(problems) + (Problem(files, None, "no executable process"),))

    all_processes = {pid: (name, node) for name, node, pid in executable}
    for name, tree in bpmn_trees.items():
        for process in inspect.processes(tree):
            all_processes.setdefault(process.get("id", ""), (name, process))

    checksum = hashlib.sha256(
        "\n".join(f"{s.name}:{s.checksum}" for s in sorted(sources, key=lambda s: s.name)).encode()
    ).hexdigest()
    parsed: list[ParsedProcess] = []
    for file_name, node, pid in executable:
        try:
            spec = parser.get_spec(pid)
            # A called process missing from these files is resolved among the deployed ones (CallBinding)
            subprocess_specs = parser.get_subprocess_specs(pid, require_call_activity_specs=False)
            missing = {name for name, sub in subprocess_specs.items() if sub is None}
            subprocess_specs = {name: sub for name, sub in subprocess_specs.items() if sub is not None}
            for one in (spec, *subprocess_specs.values()):
                settle_event_subprocesses(one)
            spec_dict = codec(dialect).spec_to_dict(spec, subprocess_specs)
        except (ValidationException, SpiffWorkflowException) as exc:
            problems.append(_spiff_problem(exc, lines, file_name))
            continue
        except (KeyError, AttributeError, TypeError, ValueError) as exc:
            problems.append(Problem(file_name, node.sourceline, f"process '{pid}' cannot be parsed: {exc!r}"))
            continue
        # Called processes' tasks run inside this instance: their elements (and lanes) come along.
        elements = {}
        for called in subprocess_specs:
            if called in all_processes and called != pid:
                elements.update(inspect.elements_of(all_processes[called][1], pools.get(called), json_files))
        elements.update(inspect.elements_of(node, pools.get(pid), json_files))
        elements = {
            k: replace(e, assignment=assigned[k]) if k in assigned else e for k, e in elements.items()
        }
        nodes = [node] + [all_processes[c][1] for c in subprocess_specs if c in all_processes and c != pid]
        calls, call_problems = _call_bindings(file_name, nodes, missing)
        if any(p.severity == "error" for p in call_problems):
            problems.extend(call_problems)
            continue
        problems.extend(p for p in call_problems if p not in problems)
        model = ProcessModel(
            process_id=pid,
            name=(node.get("name") or "").strip() or pools.get(pid) or None,
            dialect=dialect,
            pool=pools.get(pid),
            lanes=tuple(inspect.lane_names(node)),
            properties=inspect.extension_properties(node),
            elements=elements,
            event_subprocesses={k: v for n in nodes for k, v in inspect.event_subprocesses(n).items()},
            calls=calls,
        )
        problems.extend(retry.model_problems(model, file_name, node.sourceline))
        if check_code is not None:
            problems.extend(code_problems(spec_dict, _locator(lines, file_name), check_code))
        parsed.append(ParsedProcess(model=model, spec=spec_dict, files=tuple(sources), checksum=checksum))
    return ValidationReport(tuple(parsed), tuple(problems))


def _call_bindings(
    file_name: str, nodes: Sequence[etree._Element], missing: set[str]
) -> tuple[dict[str, CallBinding], list[Problem]]:
    """How each call activity of a process (and of the processes deployed with it) binds its called
    process; problems for bindings Handoff cannot honour."""
    calls: dict[str, CallBinding] = {}
    problems: list[Problem] = []
    by_process: dict[str, tuple[str, str]] = {}
    for node in nodes:
        for activity, (called, binding, problem, line) in inspect.call_bindings(node).items():
            where = f"callActivity '{activity}'"
            if problem is not None:
                problems.append(Problem(file_name, line, f"{where}: {problem}"))
                continue
            external = called in missing
            if binding == "deployment" and external:
                problems.append(
                    Problem(
                        file_name,
                        line,
                        f"{where} is bound to the deployment, but process '{called}' is not among the files "
                        "deployed with it",
                    )
                )
                continue
            earlier = by_process.setdefault(called, (activity, binding))
            if earlier[1] != binding:
                problems.append(
                    Problem(
                        file_name,
                        line,
                        f"{where} and callActivity '{earlier[0]}' call process '{called}' in different "
                        "versions: an instance runs one version of each called process",
                    )
                )
                continue
            kind, _, number = binding.partition(":")
            calls[activity] = CallBinding(called, kind, int(number) if number else None, external)
            if external:
                problems.append(
                    Problem(
                        file_name,
                        line,
                        f"{where} calls process '{called}', which is not in these files: it runs the "
                        + (f"deployed version {number}" if number else "latest deployed version")
                        + " when an instance starts",
                        "warning",
                    )
                )
    return calls, problems


def _locator(lines: dict[str, dict[str, int]], first: str) -> Callable[[str], tuple[str, int | None]]:
    """element id -> (file, line): in the process's own file first, then in the files deployed with it."""

    def locate(element_id: str) -> tuple[str, int | None]:
        if element_id in lines.get(first, {}):
            return first, lines[first][element_id]
        for name, index in lines.items():
            if element_id in index:
                return name, index[element_id]
        return first, None

    return locate


def _kind(sources: Sequence[SourceFile], name: str) -> str:
    for s in sources:
        if s.name == name:
            return s.kind
    return "bpmn"

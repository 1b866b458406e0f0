"""Definitions as text: validation problems, deployments, the deployed processes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import bpmn

from ..views import Deployment, ProcessSummary
from . import table, when


def validated(report: bpmn.ValidationReport) -> str:
    """The `ok` line of a validation without errors (problems are printed one per line, in order)."""
    names = ", ".join(p.model.process_id for p in report.processes)
    return f"ok: {names}" + (f" ({len(report.warnings)} warnings)" if report.warnings else "")


def deployed(results: Sequence[Deployment]) -> str:
    lines = []
    for r in results:
        status = "deployed as version" if r.new else "unchanged, still version"
        lanes = f"  lanes: {', '.join(r.lanes)}" if r.lanes else ""
        trust = "  scripts: trusted (full Python)" if r.trusted_scripts else ""
        lines.append(f"{r.process} {status} {r.version}{lanes}{trust}")
    return "\n".join(lines)


def processes(items: Sequence[ProcessSummary]) -> str:
    if not items:
        return "no process deployed yet: handoff deploy FILE.bpmn"
    rows = [
        (
            p.process,
            p.name or "",
            p.version,
            ", ".join(p.lanes),
            " ".join(f"{k}={v}" for k, v in sorted(p.instances.items())) or "none",
            "trusted" if p.trusted_scripts else "sandboxed",
        )
        for p in items
    ]
    return table(["PROCESS", "NAME", "VERSION", "LANES", "INSTANCES", "SCRIPTS"], rows)


def versions(items: Sequence[Mapping[str, Any]]) -> str:
    """`processes --versions`: every deployed version (the JSON of engine.lookups.process_versions)."""
    if not items:
        return "no process deployed yet: handoff deploy FILE.bpmn"
    rows = [
        (
            v["process"],
            v["version"],
            v["name"] or "",
            when(datetime.fromisoformat(v["deployed_at"])),
            v["deployed_by"] or "",
            v["instances"],
            "trusted" if v["trusted_scripts"] else "sandboxed",
            ", ".join(v["files"]),
        )
        for v in items
    ]
    return table(["PROCESS", "VERSION", "NAME", "DEPLOYED", "BY", "INSTANCES", "SCRIPTS", "FILES"], rows)

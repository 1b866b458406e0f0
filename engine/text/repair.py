"""Repairing running work as text: a migration's report, instance by instance, then its summary."""

from __future__ import annotations

from ..retention import CleanupReport
from ..views.repair import BatchReport, InstanceMove, MigrationReport


def _changes(move: InstanceMove) -> str:
    parts = []
    if move.added:
        parts.append(f"adds {', '.join(move.added)}")
    if move.removed:
        parts.append(f"removes {', '.join(move.removed)}")
    if move.changed:
        parts.append(f"changes {', '.join(move.changed)}")
    if move.moved_tasks:
        parts.append("moves " + ", ".join(f"{a} -> {b}" for a, b in move.moved_tasks))
    return "; ".join(parts) or "no element changes"


def instance_move(move: InstanceMove, to_version: int) -> str:
    where = f"at {', '.join(move.at)}" if move.at else "at no open work"
    head = f"instance {move.id} ({move.status}, v{move.from_version} {where})"
    if move.error is not None:
        return f"{head}: FAILED, nothing changed: {move.error}"
    if move.reason is not None:
        return f"{head}: cannot move: {move.reason}"
    verb = "moved" if move.migrated else "can move"
    return f"{head}: {verb} to v{to_version} ({_changes(move)})"


def migration(report: MigrationReport) -> str:
    lines = [instance_move(m, report.to_version) for m in report.instances]
    if not report.instances:
        lines.append(f"no unfinished instance of '{report.process}' to move to version {report.to_version}")
    moved = report.count("can move") if report.dry_run else report.count("migrated")
    summary = (
        f"{'dry run: ' if report.dry_run else ''}{len(report.instances)} selected, "
        f"{moved} {'can move' if report.dry_run else 'moved'} to v{report.to_version}, "
        f"{report.count('cannot move')} cannot move, {report.count('failed')} failed"
    )
    if report.dry_run:
        summary += " (nothing changed)"
    return "\n".join([*lines, summary])


_DONE = {"retry": "retried", "suspend": "suspended", "resume": "resumed", "terminate": "terminated"}


def batch(report: BatchReport) -> str:
    verb = _DONE.get(report.operation, report.operation)
    lines = []
    for item in report.items:
        head = f"instance {item.id} (v{item.version}, {item.status})"
        if item.outcome == "done":
            lines.append(f"{head}: {verb}")
        elif item.outcome == "would":
            lines.append(f"{head}: would be {verb}")
        elif item.outcome == "skipped":
            lines.append(f"{head}: skipped: {item.message}")
        else:
            lines.append(f"{head}: FAILED, nothing changed: {item.message}")
    if not report.items:
        lines.append("no instance matches")
    if report.dry_run:
        summary = f"dry run: {len(report.items)} selected, {report.count('would')} would be {verb}"
    else:
        summary = f"{len(report.items)} selected, {report.count('done')} {verb}"
    summary += f", {report.count('skipped')} skipped, {report.count('failed')} failed"
    if report.dry_run:
        summary += " (nothing changed)"
    return "\n".join([*lines, summary])


def cleanup(report: CleanupReport, export_to: str | None) -> str:
    if not report.cutoffs:
        return "nothing to clean up: no process has a time to live (give --older-than)"
    rows = ", ".join(f"{n} {t}" for t, n in sorted(report.counts.items()) if t != "process_instance" and n)
    verb = "would delete" if report.dry_run else "deleted"
    first = f"{verb} {report.instances} finished instance(s)" + (f" ({rows})" if rows else "")
    if not report.dry_run:
        first += f" in {report.batches} batch(es)"
    lines = [first]
    if report.exported is not None:
        lines.append(f"exported {report.exported} events of them to {export_to} first")
    if report.instances:
        gone = " (nothing changed)" if report.dry_run else " for good"
        lines.append(f"what is deleted is gone from reports and exports{gone}")
    return "\n".join(lines)

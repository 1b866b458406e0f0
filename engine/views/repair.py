"""What repairing running work returns: a migration's report, instance by instance."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class InstanceMove:
    """One instance in a migration: what the move changes for it, whether it can move, whether it did."""

    id: int
    from_version: int
    status: str
    movable: bool
    at: tuple[str, ...] = ()  # the elements its open work is at
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    moved_tasks: tuple[tuple[str, str], ...] = ()
    reason: str | None = None  # why it cannot move
    migrated: bool = False
    error: str | None = None  # why the move failed (nothing of it changed)

    @property
    def outcome(self) -> str:
        if self.error is not None:
            return "failed"
        if self.migrated:
            return "migrated"
        return "can move" if self.movable else "cannot move"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "from_version": self.from_version,
            "status": self.status,
            "movable": self.movable,
            "migrated": self.migrated,
            "outcome": self.outcome,
            "at": list(self.at),
            "added": list(self.added),
            "removed": list(self.removed),
            "changed": list(self.changed),
            "moved": [{"from": a, "to": b} for a, b in self.moved_tasks],
            "reason": self.reason,
            "error": self.error,
        }


@dataclass(frozen=True)
class MigrationReport:
    process: str
    to_version: int
    dry_run: bool
    instances: tuple[InstanceMove, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for m in self.instances if m.outcome == outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "to_version": self.to_version,
            "dry_run": self.dry_run,
            "instances": [m.to_json() for m in self.instances],
            "summary": {
                "selected": len(self.instances),
                "can_move": self.count("can move"),
                "migrated": self.count("migrated"),
                "cannot_move": self.count("cannot move"),
                "failed": self.count("failed"),
            },
        }


@dataclass(frozen=True)
class BatchItem:
    """One instance of a batch: done, would be done (dry run), skipped (its status), or failed (why)."""

    id: int
    version: int
    status: str  # after the operation when done, else as selected
    outcome: str
    message: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "outcome": self.outcome,
            "message": self.message,
        }


@dataclass(frozen=True)
class BatchReport:
    operation: str
    dry_run: bool
    items: tuple[BatchItem, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for i in self.items if i.outcome == outcome)

    def to_json(self) -> dict[str, Any]:
        return {
            "operation": self.operation,
            "dry_run": self.dry_run,
            "instances": [i.to_json() for i in self.items],
            "summary": {
                "selected": len(self.items),
                "done": self.count("done"),
                "would": self.count("would"),
                "skipped": self.count("skipped"),
                "failed": self.count("failed"),
            },
        }

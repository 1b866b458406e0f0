"""Views of deployed processes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import iso


@dataclass(frozen=True)
class Deployment:
    process: str
    version: int
    new: bool
    name: str | None
    lanes: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    trusted_scripts: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "version": self.version,
            "new": self.new,
            "name": self.name,
            "lanes": list(self.lanes),
            "warnings": list(self.warnings),
            "trusted_scripts": self.trusted_scripts,
        }


@dataclass(frozen=True)
class ProcessSummary:
    process: str
    name: str | None
    version: int
    lanes: tuple[str, ...]
    instances: dict[str, int]
    deployed_at: datetime
    deployed_by: str | None
    trusted_scripts: bool = False  # of the latest version: full Python instead of the script sandbox

    def to_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "name": self.name,
            "version": self.version,
            "lanes": list(self.lanes),
            "instances": dict(self.instances),
            "deployed_at": iso(self.deployed_at),
            "deployed_by": self.deployed_by,
            "trusted_scripts": self.trusted_scripts,
        }

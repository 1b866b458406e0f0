"""A comment on a task or an instance (docs/comments.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .base import iso


@dataclass(frozen=True)
class CommentView:
    instance: int
    task: int | None  # None: on the instance as a whole
    element: str | None
    name: str | None
    author: str | None
    at: datetime
    text: str

    @property
    def subject(self) -> str:
        return f"task {self.task} ({self.name or self.element})" if self.task else f"instance {self.instance}"

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "task": self.task,
            "element": self.element,
            "name": self.name,
            "author": self.author,
            "at": iso(self.at),
            "text": self.text,
        }

"""An instance's comments as `show` and the pages list them: a read of history rows, no workflow runtime
(engine/lazy_modules.py). Writing one is engine/comments.py."""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage import reads

from .views import CommentView

if TYPE_CHECKING:
    from storage.reads import Reader

KIND = "comment_added"


def comments_of(reader: Reader, instance_id: int) -> tuple[CommentView, ...]:
    """The instance's comments, oldest first (read on a Connection by `show`, on a session by others)."""
    return tuple(
        CommentView(
            e.instance_id,
            e.task_id,
            e.element_id if e.task_id else None,
            e.element_name if e.task_id else None,
            e.actor,
            e.at,
            str((e.data or {}).get("text", "")),
        )
        for e in reads.events_of(reader, instance_id, KIND)
    )


__all__ = ["KIND", "comments_of"]

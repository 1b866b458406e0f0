"""An instance's comments as `show` and the pages list them: a read of history rows, no workflow runtime
(engine/lazy_modules.py). Writing one is engine/comments.py."""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage import repository as repo

from .views import CommentView

KIND = "comment_added"


def comments_of(session: Session, instance_id: int) -> tuple[CommentView, ...]:
    """The instance's comments, oldest first."""
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
        for e in repo.events_of_kind(session, instance_id, KIND)
    )


__all__ = ["KIND", "comments_of"]

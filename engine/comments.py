"""Comments on tasks and instances: `handoff comment TASK TEXT`, `handoff comment --instance I TEXT`.

A comment is a `comment_added` event of the instance's history (its author the actor, its time the
clock's, the text in its data), written through the record hooks like every event: `history` and the
timeline show it, exports carry it as an attribute (engine/export.py), notify hooks hear of it. `show`
and the web pages list an instance's comments to everyone who may read the instance. The text is
checked as a form value is (engine/payload.py: size, control characters).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from storage import repository as repo

from .errors import InvalidInput
from .kernel import rows
from .kernel.app import App
from .kernel.events import instance_event, row_event
from .kernel.operation import Operation
from .kernel.recording import record
from .kernel.units import Units
from .payload import check_note
from .views import CommentView

KIND = "comment_added"


def comment(
    app: App,
    units: Units,
    text: str,
    *,
    task_id: int | None = None,
    instance_id: int | None = None,
    actor: str | None,
) -> CommentView:
    """Add a comment to a task (who may work on it may comment) or an instance (operators and admins)."""
    app.ready()
    if (task_id is None) == (instance_id is None):
        raise InvalidInput("a comment is on a task or on an instance: give one of them")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a comment needs some text")
    check_note(text, "the comment")
    now = app.clock()
    with units.operation() as work:
        if task_id is not None:
            task = rows.task(work, task_id)
            app.permissions.authorize_task(actor, task, "comment")
            instance = rows.instance(work, task.instance_id)
            definition = app.definitions.for_instance(work.session, instance)
            event = row_event(task, KIND, definition, now, actor=actor, data={"text": text})
            view = CommentView(instance.id, task.id, task.element_id, task.name, actor, now, text)
        else:
            assert instance_id is not None
            app.permissions.authorize(actor, "comment")
            instance = rows.instance(work, instance_id)
            definition = app.definitions.for_instance(work.session, instance)
            op = Operation(work, now, actor)
            op.instance_id = instance.id
            event = instance_event(definition, KIND, op, data={"text": text})
            view = CommentView(instance.id, None, None, None, actor, now, text)
        record(app, work, definition.model, [event])
    return view


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


__all__ = ["KIND", "comment", "comments_of"]

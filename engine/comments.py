"""Comments on tasks and instances: `handoff comment TASK TEXT`, `handoff comment --instance I TEXT`.

A comment is a `comment_added` event of the instance's history (its author the actor, its time the
clock's, the text in its data), written through the record hooks like every event: `history` and the
timeline show it, exports carry it as an attribute (engine/export.py), notify hooks hear of it. `show`
and the web pages list an instance's comments to everyone who may read the instance. The text is
checked as a form value is (engine/payload.py: size, control characters).
"""

from __future__ import annotations

from .comment_reads import KIND
from .errors import InvalidInput
from .kernel import rows
from .kernel.app import App
from .kernel.events import instance_event, row_event
from .kernel.operation import Operation
from .kernel.recording import record
from .kernel.units import Units
from .payload import check_note
from .views import CommentView


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


__all__ = ["KIND", "comment"]

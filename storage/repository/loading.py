"""Rows read with prepared statements and put in the session as if the ORM had loaded them.

`Session.get` and an ORM `select` cost ~130 us and ~250 us of SQLAlchemy's own Python on the path of
every completion (issue 17), several times SQLite's work; a prepared statement and one object built
from its row cost a third of that. The object joins the session as a persistent row (its values as
loaded, no history), so everything the ORM does with it afterwards - refresh, expunge, a flush of a
change - works as before; a row the session already holds is returned as it is (the identity map).
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import instance_dict, manager_of_class
from sqlalchemy.orm.util import identity_key

T = TypeVar("T")


def held(session: Session, model: type[T], row_id: int) -> T | None:
    """The row of `model` with this id if the session holds it already."""
    return session.identity_map.get(identity_key(model, row_id))  # type: ignore[return-value]


def attach(session: Session, model: type[T], values: dict[str, Any]) -> T:
    """The object of a row read by Core, persistent in the session (or the one it already holds)."""
    found = held(session, model, values["id"])
    if found is not None:
        return found
    row = detached(model, values)
    session.add(row)
    return row


def detached(model: type[T], values: dict[str, Any]) -> T:
    """The object of a row read by Core, outside any session, its values as loaded (no history)."""
    # As the ORM's own loading does: a new instance without __init__, its values put in its state's
    # dict (the constructor would set them one by one through the instrumented attributes, each
    # recording a change that make_transient_to_detached then discards: ~40% of a row's load).
    row = manager_of_class(model).new_instance()
    instance_dict(row).update(values)
    make_transient_to_detached(row)
    return row


def new_row(model: type[T], **values: Any) -> T:
    """A new row object for a prepared INSERT (insert_task, insert_instance), its values in its state's
    dict: the constructor would set them one by one through the instrumented attributes, recording
    changes that no flush will ever read (~20 us a task row on the path of every operation)."""
    row = manager_of_class(model).new_instance()
    instance_dict(row).update(values)
    return row


def flush_pending(session: Session) -> None:
    """What the ORM's autoflush would do before a query: write pending changes of loaded rows first."""
    # `dirty` counts rows whose attributes were set, also when a prepared UPDATE has written them since
    # (update_loaded_instance): ask which still differ from what the database holds.
    if session.new or session.deleted or any(session.is_modified(row) for row in session.dirty):
        session.flush()

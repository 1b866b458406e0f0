"""Process instances: read, inserted with one Core statement, updated under their version counter."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError

from ..models import ProcessDefinition, ProcessInstance
from .buffer import INSTANCE, INSTANCE_COLUMNS, buffer_of
from .loading import attach, detached, held
from .prepared import Prepared
from .variables import Condition, where_all

_INSERT_INSTANCE = Prepared(
    insert(INSTANCE).values({c: bindparam(c) for c in INSTANCE_COLUMNS}).returning(INSTANCE.c.id)
)


_INSTANCE_BY_ID = Prepared(select(INSTANCE).where(INSTANCE.c.id == bindparam("id")))


def get_instance(session: Session, instance_id: int, *, attached: bool = True) -> ProcessInstance | None:
    """The instance row; `attached=False`: outside the session, for one operation to change (written by
    `update_loaded_instance`, never by an ORM flush), unless the session holds the row already."""
    if held(session, ProcessInstance, instance_id) is not None:
        return session.get(ProcessInstance, instance_id)  # the session's own, refreshed if it was expired
    values = _INSTANCE_BY_ID.first(session, {"id": instance_id})
    if values is None:
        return None
    return attach(session, ProcessInstance, values) if attached else detached(ProcessInstance, values)


def list_instances(
    session: Session,
    *,
    process_id: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    limit: int = 100,
    conditions: Sequence[Condition] = (),
) -> Sequence[tuple[ProcessInstance, int]]:
    """Instances with their version, newest first; `conditions` on their top-level data (all must hold)."""
    query = select(ProcessInstance, ProcessDefinition.version).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
    )
    if process_id:
        query = query.where(ProcessInstance.process_id == process_id)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    for clause in where_all(session, conditions):
        query = query.where(clause)
    rows = session.execute(query.order_by(ProcessInstance.id.desc()).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def insert_instance(session: Session, instance: ProcessInstance) -> int:
    """INSERT a new instance row with one Core statement (no unit-of-work flush); sets and returns its id.

    The object stays outside the session: callers only read it afterwards.
    """
    instance.version_counter = 1
    buffer = buffer_of(session)
    if buffer is not None:
        # Written by `flush_writes` with the values the object has then.
        instance.id = buffer.allocate(session, INSTANCE, 1)[0]
        buffer.born_subjects.add(f"instance:{instance.id}")
        buffer.instances[instance.id] = instance
        buffer.grown(session, 1)
        return instance.id
    values = {key: getattr(instance, key) for key in INSTANCE_COLUMNS}
    instance.id = _INSERT_INSTANCE.execute(session, values).fetchone()[0]
    return instance.id


_WRITTEN_FIELDS: tuple[str, ...] = (
    "status",
    "state",
    "data",
    "error",
    "next_due_at",
    "updated_at",
    "completed_at",
    "attempts",
)
_UPDATE_INSTANCES = (
    update(INSTANCE)
    .where(INSTANCE.c.id == bindparam("_id"), INSTANCE.c.version_counter == bindparam("_version"))
    .values({**{k: bindparam(k) for k in _WRITTEN_FIELDS}, "version_counter": INSTANCE.c.version_counter + 1})
)


_WRITTEN = frozenset(_WRITTEN_FIELDS)
_UPDATES: dict[tuple[str, ...], Prepared] = {}
_NOT_WRITTEN = frozenset({"id", "version_counter"})


def update_loaded_instance(session: Session, instance: ProcessInstance) -> None:
    """Write a changed instance that was read from the database, under its version counter, with one
    prepared UPDATE (the ORM's flush costs ~4x as much on every state change): the fields an operation
    writes, and any other it changed. A concurrent change raises StaleDataError, as the ORM's flush
    would; afterwards the object's values count as committed.
    """
    others = [k for k in inspect(instance).committed_state if k not in _WRITTEN and k not in _NOT_WRITTEN]
    key = _WRITTEN_FIELDS + tuple(sorted(others))
    prepared = _UPDATES.get(key)
    if prepared is None:
        statement = (
            update(INSTANCE)
            .where(INSTANCE.c.id == bindparam("_id"), INSTANCE.c.version_counter == bindparam("_version"))
            .values({**{k: bindparam(k) for k in key}, "version_counter": INSTANCE.c.version_counter + 1})
        )
        prepared = _UPDATES[key] = Prepared(statement)
    values = {k: getattr(instance, k) for k in key}
    params = {"_id": instance.id, "_version": instance.version_counter, **values}
    if prepared.execute(session, params).rowcount != 1:
        raise StaleDataError(
            "UPDATE statement on table 'process_instance' expected to update 1 row(s); 0 were matched."
        )
    for name, value in values.items():
        set_committed_value(instance, name, value)
    set_committed_value(instance, "version_counter", instance.version_counter + 1)


def update_instances(session: Session, instances: Sequence[ProcessInstance]) -> bool:
    """Write many changed instances in one executemany, each only if its version is still the one read.

    Returns False when some row had changed meanwhile (the caller rolls back). The objects must not
    be in the session (their changes are not flushed by the ORM).
    """
    if not instances:
        return True
    rows = [
        {"_id": i.id, "_version": i.version_counter, **{k: getattr(i, k) for k in _WRITTEN_FIELDS}}
        for i in instances
    ]
    result = session.connection().execute(_UPDATE_INSTANCES, rows)
    if result.rowcount >= 0 and result.rowcount != len(rows):  # -1: the driver does not count executemany
        return False
    for instance in instances:
        instance.version_counter += 1
    return True


def open_instances(session: Session) -> list[ProcessInstance]:
    return list(
        session.scalars(
            select(ProcessInstance).where(
                ProcessInstance.status.in_(("running", "waiting", "error", "suspended"))
            )
        )
    )

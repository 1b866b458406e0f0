"""Human task rows: read, inserted and changed with prepared statements, claims under a condition."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from ..models import HumanTask, ProcessInstance
from ..reads import OPEN_TASK_STATES
from .buffer import INSTANCE, TASK, TASK_COLUMNS, buffer_of
from .loading import attach, detached, flush_pending, held
from .prepared import Prepared, connection_of

_TASK_UPDATES: dict[tuple[tuple[str, ...], bool], Prepared] = {}
_TASK_SETS: dict[tuple[str, ...], Prepared] = {}
_INSERT_TASK = insert(TASK).values({c: bindparam(c) for c in TASK_COLUMNS})
_INSERT_TASK_RETURNING = Prepared(_INSERT_TASK.returning(TASK.c.id))
_INSERT_TASK_SQLITE = Prepared(_INSERT_TASK)  # SQLite: the cursor's lastrowid, cheaper than RETURNING


_TASK_BY_ID = Prepared(select(TASK).where(TASK.c.id == bindparam("id")))


def _is_open(state: Any) -> Any:
    """`state IN ('ready', 'claimed')` as fixed parameters: an expanding IN is rendered per execution,
    not once (Prepared)."""
    return state.in_([bindparam(f"{state.table.name}_open_{i}", s) for i, s in enumerate(OPEN_TASK_STATES)])


_OPEN_TASKS_OF = Prepared(
    select(TASK)
    .where(TASK.c.instance_id == bindparam("instance_id"), _is_open(TASK.c.state))
    .order_by(TASK.c.id)
)


def get_task(session: Session, task_id: int) -> HumanTask | None:
    if held(session, HumanTask, task_id) is not None:
        return session.get(HumanTask, task_id)  # the session's own, refreshed if it was expired
    values = _TASK_BY_ID.first(session, {"id": task_id})
    return attach(session, HumanTask, values) if values is not None else None


_INSTANCE_PREFIX = "instance__"
_SIBLING = TASK.alias("sibling")
# How many other open tasks the instance has: none (the common case) spares a completion the read of its
# instance's open rows afterwards (Work.open_rows). An index lookup (ix_human_task_instance).
_OPEN_SIBLINGS = (
    select(func.count())
    .select_from(_SIBLING)
    .where(
        _SIBLING.c.instance_id == TASK.c.instance_id,
        _is_open(_SIBLING.c.state),
        _SIBLING.c.id != TASK.c.id,
    )
    .scalar_subquery()
    .label("open_siblings")
)
_TASK_WITH_INSTANCE = Prepared(
    select(TASK, *[c.label(_INSTANCE_PREFIX + c.key) for c in INSTANCE.columns], _OPEN_SIBLINGS)
    .join_from(TASK, INSTANCE, INSTANCE.c.id == TASK.c.instance_id)
    .where(TASK.c.id == bindparam("id"))
)


def get_task_with_instance(
    session: Session, task_id: int
) -> tuple[HumanTask | None, ProcessInstance | None, int | None]:
    """A task row and its instance's row in one statement (a completion needs both: one round trip
    fewer), read at the same moment, and how many other open tasks the instance has then. The instance
    comes outside the session, like `get_instance(attached=False)`; it is None when the session holds
    either row already (then read the instance with `get_instance`; the count is None then too)."""
    if held(session, HumanTask, task_id) is not None:
        return get_task(session, task_id), None, None
    values = _TASK_WITH_INSTANCE.first(session, {"id": task_id})
    if values is None:
        return None, None, None
    siblings = values.pop("open_siblings")
    start = len(_INSTANCE_PREFIX)
    task = attach(session, HumanTask, {k: v for k, v in values.items() if not k.startswith(_INSTANCE_PREFIX)})
    of_instance = {k[start:]: v for k, v in values.items() if k.startswith(_INSTANCE_PREFIX)}
    if held(session, ProcessInstance, of_instance["id"]) is not None:
        return task, None, None
    return task, detached(ProcessInstance, of_instance), siblings


def open_tasks_of(session: Session, instance_id: int) -> Sequence[HumanTask]:
    """The instance's open task rows, ordered by id (rows the session holds as it holds them)."""
    flush_pending(session)
    return [
        attach(session, HumanTask, values)
        for values in _OPEN_TASKS_OF.all(session, {"instance_id": instance_id})
    ]


def update_task_if(
    session: Session, task: HumanTask, expected_state: str, expected_assignee: str | None, **values: Any
) -> bool:
    """Change a task only if nobody changed it since it was read; False when someone did.

    One prepared UPDATE; on success the loaded row takes the new values as committed ones, so that it
    need not be read again.
    """
    buffered = _buffered_task(session, task)
    if buffered is not None:
        # Born in this buffer: no one else can see the row yet, so the condition is checked here.
        if buffered["state"] != expected_state or buffered["assignee"] != expected_assignee:
            return False
        buffered.update(values)
        _take_values(task, values)
        return True
    key = (tuple(sorted(values)), expected_assignee is None)
    prepared = _TASK_UPDATES.get(key)
    if prepared is None:
        condition = (TASK.c.id == bindparam("_id")) & (TASK.c.state == bindparam("_state"))
        if expected_assignee is None:
            condition &= TASK.c.assignee.is_(None)
        else:
            condition &= TASK.c.assignee == bindparam("_assignee")
        statement = update(TASK).where(condition).values({k: bindparam(k) for k in key[0]})
        prepared = _TASK_UPDATES[key] = Prepared(statement)
    params = dict(values, _id=task.id, _state=expected_state)
    if expected_assignee is not None:
        params["_assignee"] = expected_assignee
    if not prepared.execute(session, params).rowcount:
        return False
    _take_values(task, values)
    return True


def _take_values(task: HumanTask, values: dict[str, Any]) -> None:
    """The loaded row takes what was written as committed values: no flush, no re-read."""
    for name, value in values.items():
        set_committed_value(task, name, value)


def insert_task(session: Session, task: HumanTask) -> int:
    """INSERT a new task row with one prepared statement (no unit-of-work flush); sets and returns its id.

    The object stays outside the session, like `insert_instance`'s.
    """
    values = {key: getattr(task, key) for key in TASK_COLUMNS}
    buffer = buffer_of(session)
    if buffer is not None:
        task.id = buffer.allocate(session, TASK, 1)[0]
        buffer.born_subjects.add(f"task:{task.id}")
        buffer.tasks[task.id] = dict(values, id=task.id)
        buffer.grown(session, 1)
        return task.id
    if connection_of(session).dialect.name == "sqlite":
        task.id = _INSERT_TASK_SQLITE.execute(session, values).lastrowid
    else:
        task.id = _INSERT_TASK_RETURNING.execute(session, values).fetchone()[0]
    return task.id


def set_task(session: Session, task: HumanTask, **values: Any) -> None:
    """Change a task row the caller owns in this transaction (no concurrency condition)."""
    buffered = _buffered_task(session, task)
    if buffered is not None:
        buffered.update(values)
    else:
        _set_task_row(session, task, values)
    _take_values(task, values)


def _buffered_task(session: Session, task: HumanTask) -> dict[str, Any] | None:
    buffer = buffer_of(session)
    return buffer.tasks.get(task.id) if buffer is not None else None


def _set_task_row(session: Session, task: HumanTask, values: dict[str, Any]) -> None:
    key = tuple(sorted(values))
    prepared = _TASK_SETS.get(key)
    if prepared is None:
        statement = update(TASK).where(TASK.c.id == bindparam("_id")).values({k: bindparam(k) for k in key})
        prepared = _TASK_SETS[key] = Prepared(statement)
    prepared.execute(session, dict(values, _id=task.id))


def open_tasks_with_instances(session: Session) -> list[tuple[HumanTask, ProcessInstance]]:
    rows = session.execute(
        select(HumanTask, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.state.in_(OPEN_TASK_STATES))
        .order_by(HumanTask.id)
    ).all()
    return [(r[0], r[1]) for r in rows]

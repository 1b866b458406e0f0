"""The reads every command and the read commands make, as SQLAlchemy Core selects over storage/tables.py.

`handoff tasks` and `handoff show` run these on a `Connection` (Database.connection) and never import the
ORM: its import, the mapping of its classes and its per-process compile were a third of such a command's
time (issue 17; benchmarks/README.md). Each function also takes an ORM `Session` (its `execute` runs a
Core select the same way), so a write's unit of work reads the same statements. Rows come back as Core
`Row`s with the tables' column names as attributes: the names the ORM classes have, so the views are
made from either (engine/kernel/rows.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Row, and_, func, or_, select, true

from .tables import (
    app_user,
    event,
    human_task,
    process_definition,
    process_instance,
    sla_setting,
    subscription,
    user_lane,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

    Reader = Connection | Session

OPEN_TASK_STATES = ("ready", "claimed")
DEFAULT_PRIORITY = 50  # Camunda's: a task without a modelled priority sorts among the others at 50
RECEIVING = ("running", "waiting")  # the statuses of an instance that messages and signals reach


def user_table(reader: Reader) -> dict[str, tuple[str, tuple[str, ...]]]:
    """name -> (role, sorted lanes) for every user: two small queries, for the engine's access cache."""
    lanes: dict[int, list[str]] = {}
    for user_id, lane in reader.execute(
        select(user_lane.c.user_id, user_lane.c.lane).order_by(user_lane.c.lane)
    ):
        lanes.setdefault(user_id, []).append(lane)
    return {
        name: (role, tuple(lanes.get(user_id, ())))
        for user_id, name, role in reader.execute(select(app_user.c.id, app_user.c.name, app_user.c.role))
    }


def user_zone(reader: Reader, name: str) -> str | None:
    """The time zone a user chose (`users add --tz`); None if they chose none or are not registered."""
    return reader.execute(select(app_user.c.tz).where(app_user.c.name == name)).scalar()


def sla_settings(reader: Reader) -> dict[tuple[str, str], float]:
    """(scope, lane) -> seconds, for scope 'lane' (per lane) and 'default' (lane '')."""
    query = select(sla_setting.c.scope, sla_setting.c.lane, sla_setting.c.seconds)
    return {(scope, lane): seconds for scope, lane, seconds in reader.execute(query)}


def instance(reader: Reader, instance_id: int) -> Row[Any] | None:
    """An instance's row (every column), or None."""
    return reader.execute(select(process_instance).where(process_instance.c.id == instance_id)).first()


def definition_version(reader: Reader, definition_id: int) -> int:
    """The version number of one deployed version (without reading its model and spec)."""
    query = select(process_definition.c.version).where(process_definition.c.id == definition_id)
    return int(reader.execute(query).scalar_one())


def open_tasks_of(reader: Reader, instance_id: int) -> Sequence[Row[Any]]:
    """The instance's open task rows, by id."""
    query = (
        select(human_task)
        .where(human_task.c.instance_id == instance_id, human_task.c.state.in_(OPEN_TASK_STATES))
        .order_by(human_task.c.id)
    )
    return reader.execute(query).all()


def events_of(reader: Reader, instance_id: int, kind: str | None = None) -> Sequence[Row[Any]]:
    """An instance's history, oldest first; with `kind`, its events of that kind (its comments)."""
    query = select(event).where(event.c.instance_id == instance_id)
    if kind is not None:
        query = query.where(event.c.kind == kind)
    return reader.execute(query.order_by(event.c.id)).all()


def subscriptions_of(reader: Reader, instance_id: int) -> Sequence[Row[Any]]:
    """What an instance waits for from outside (messages, signals), in a stable order."""
    query = (
        select(subscription)
        .where(subscription.c.instance_id == instance_id)
        .order_by(subscription.c.kind, subscription.c.name, subscription.c.element_id)
    )
    return reader.execute(query).all()


def list_tasks(
    reader: Reader,
    *,
    lane: str | None = None,
    assignee: str | None = None,
    instance_id: int | None = None,
    include_closed: bool = False,
    limit: int = 200,
    lanes: Sequence[str] | None = None,
    viewer: str | None = None,
    candidate: tuple[str, Sequence[str]] | None = None,
    mine: tuple[str, Sequence[str] | None] | None = None,
    overdue: tuple[datetime, dict[tuple[str, str], float]] | None = None,
) -> Sequence[Row[Any]]:
    """Human task rows with their instance's `process_id` and `instance_status`, by priority (highest
    first) then age (oldest first).

    `lanes` (when not None) keeps tasks of those lanes, and those `viewer` is assigned or a candidate
    for; `candidate` (name, groups): tasks that name or one of the groups as candidates; `mine` (name,
    groups): assigned to the name, or ready and claimable by it (of its groups, or naming it or them as
    candidates; groups None: any ready task); `overdue` (now, SLA settings): open tasks past due, their
    model's due date or else the lane's or global SLA from ready (engine/kernel/rows.py sla_due).
    """
    task = human_task.c
    query = select(
        human_task, process_instance.c.process_id, process_instance.c.status.label("instance_status")
    ).join(process_instance, process_instance.c.id == task.instance_id)
    if not include_closed:
        query = query.where(task.state.in_(OPEN_TASK_STATES))
    if lane:
        query = query.where(task.lane == lane)
    if lanes is not None:
        seen: Any = task.lane.in_(list(lanes))
        if viewer is not None:
            seen = or_(seen, task.assignee == viewer, candidates(viewer, lanes))
        query = query.where(seen)
    if assignee:
        query = query.where(task.assignee == assignee)
    if candidate is not None:
        query = query.where(candidates(*candidate))
    if mine is not None:
        name, groups = mine
        claimable: Any = (
            true() if groups is None else or_(task.lane.in_(list(groups)), candidates(name, groups))
        )
        query = query.where(or_(task.assignee == name, and_(task.state == "ready", claimable)))
    if overdue is not None:
        query = query.where(task.state.in_(OPEN_TASK_STATES), past_due(*overdue))
    if instance_id is not None:
        query = query.where(task.instance_id == instance_id)
    order = (func.coalesce(task.priority, DEFAULT_PRIORITY).desc(), task.created_at, task.id)
    return reader.execute(query.order_by(*order).limit(limit)).all()


def like_name(name: str) -> str:
    """The LIKE pattern of one name in a ",bob,carl," candidates column, its wildcards escaped."""
    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%,{escaped},%"


def candidates(name: str, groups: Sequence[str]) -> Any:
    """Tasks naming `name` among their candidate users or one of `groups` among their candidate groups."""
    found = [human_task.c.candidate_users.like(like_name(name), escape="\\")]
    found += [human_task.c.candidate_groups.like(like_name(g), escape="\\") for g in groups]
    return or_(*found)


def past_due(now: datetime, sla: dict[tuple[str, str], float]) -> Any:
    """Due before `now`: the stored due date, else the lane's SLA, else the global one, from ready."""
    task = human_task.c
    by_sla = []
    lane_slas = {lane: seconds for (scope, lane), seconds in sla.items() if scope == "lane"}
    for lane, seconds in lane_slas.items():
        by_sla.append(and_(task.lane == lane, task.created_at < now - timedelta(seconds=seconds)))
    default = sla.get(("default", ""))
    if default is not None:
        other_lane = or_(task.lane.is_(None), task.lane.not_in(list(lane_slas))) if lane_slas else true()
        by_sla.append(and_(other_lane, task.created_at < now - timedelta(seconds=default)))
    stored = task.due_at < now
    if not by_sla:
        return stored
    return or_(stored, and_(task.due_at.is_(None), or_(*by_sla)))

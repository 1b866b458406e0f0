"""What the web pages list beside the facade's reads: open work with its business key and SLA state, the
open work of a lane for the CPO's staff, open work per lane with its ageing, and a process's versions.

Read-only queries, each in one reader session. Those that take an `actor` check it themselves with the
rules of engine/access.py (the same table the services use); the others are handed ids the caller
was already allowed to see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from bpmn import ProcessModel
from storage import Database
from storage import repository as repo
from storage import users as user_repo
from storage.models import HumanTask, ProcessDefinition, ProcessInstance

from . import access
from .access import Member
from .hooks.recorders import task_threshold

OPEN_STATES = ("ready", "claimed")
# Ages of open work, as the dashboard buckets them (upper bounds in seconds; the last one is open).
AGE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("< 1 h", 3600.0),
    ("1-4 h", 4 * 3600.0),
    ("4-24 h", 24 * 3600.0),
    ("1-3 d", 3 * 86400.0),
    ("> 3 d", float("inf")),
)
NEAR_SLA = 0.8  # waiting this share of the SLA: "due soon"


@dataclass(frozen=True)
class WorkItem:
    """An open human task as a work list shows it."""

    id: int
    instance: int
    process: str
    version: int
    business_key: str | None
    element: str
    name: str | None
    lane: str | None
    state: str
    assignee: str | None
    created_at: datetime
    claimed_at: datetime | None
    due_at: datetime | None
    sla_seconds: float | None  # the waiting-time threshold (DESIGN §3 "Delay"), if any
    sla_source: str | None  # bpmn, lane or default

    @property
    def label(self) -> str:
        return self.name or self.element

    def past_due(self, now: datetime) -> bool:
        """Still open after its due date (work that waited within its SLA can still be late)."""
        return self.due_at is not None and now > self.due_at

    def waiting_seconds(self, now: datetime) -> float:
        return max(0.0, ((self.claimed_at or now) - self.created_at).total_seconds())

    def sla_state(self, now: datetime) -> str | None:
        """By its waiting time (ready -> claimed, or now; DESIGN §3 "Delay"): `over` its SLA, `near` it
        (80%), `ok`, or None without an SLA."""
        if self.sla_seconds is None:
            return None
        waited = self.waiting_seconds(now)
        if waited > self.sla_seconds:
            return "over"
        return "near" if waited >= NEAR_SLA * self.sla_seconds else "ok"


@dataclass(frozen=True)
class LaneAgeing:
    """Open work of one lane now: how much, how old, how much of it past its SLA."""

    lane: str | None
    ready: int
    claimed: int
    oldest: datetime | None
    buckets: tuple[int, ...]  # counts per AGE_BUCKETS
    over_sla: int

    @property
    def total(self) -> int:
        return self.ready + self.claimed


@dataclass(frozen=True)
class VersionView:
    process: str
    version: int
    name: str | None
    deployed_at: datetime
    deployed_by: str | None
    trusted_scripts: bool
    instances: int
    files: tuple[str, ...]


def members(db: Database) -> dict[str, Member]:
    """The user table as the access rules see it (empty: single-user mode)."""
    with db.reader() as session:
        table = user_repo.user_table(session)
    return {name: Member(name, role, frozenset(lanes)) for name, (role, lanes) in table.items()}


def authorize(db: Database, actor: str | None, action: str) -> Member | None:
    """Forbidden unless `actor` may do `action` (engine/access.py); None in single-user mode."""
    table = members(db)
    if not table:
        return None
    return access.check(table, actor, action)


def work_items(db: Database, task_ids: Iterable[int]) -> list[WorkItem]:
    """The given tasks (which the caller may see) with business key, version and SLA; oldest first."""
    ids = sorted(set(task_ids))
    if not ids:
        return []
    return _items(db, HumanTask.id.in_(ids), limit=len(ids))


def open_work(
    db: Database, *, lane: str | None = None, process_id: str | None = None, limit: int = 500
) -> list[WorkItem]:
    """Open tasks (ready and claimed), oldest first, of one lane (`lane=""` for tasks in no lane) and
    process if given. No check here: the dashboard's reader checks the `report` right first."""
    condition: Any = HumanTask.state.in_(OPEN_STATES)
    if lane is not None:
        condition = condition & (HumanTask.lane == lane if lane else HumanTask.lane.is_(None))
    if process_id is not None:
        condition = condition & (ProcessInstance.process_id == process_id)
    return _items(db, condition, limit=limit)


def _items(db: Database, condition: Any, *, limit: int) -> list[WorkItem]:
    models: dict[int, ProcessModel] = {}
    out: list[WorkItem] = []
    with db.reader() as session:
        settings = repo.sla_settings(session)
        rows = session.execute(
            select(HumanTask, ProcessInstance.process_id, ProcessInstance.business_key, ProcessDefinition)
            .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
            .join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
            .where(condition)
            .order_by(HumanTask.created_at, HumanTask.id)
            .limit(limit)
        ).all()
        for task, process_id, key, definition in rows:
            model = models.get(definition.id)
            if model is None:
                model = models[definition.id] = ProcessModel.from_json(definition.model)
            threshold = task_threshold(model, task.element_id, task.lane, settings)
            out.append(
                WorkItem(
                    id=task.id,
                    instance=task.instance_id,
                    process=process_id,
                    version=definition.version,
                    business_key=key,
                    element=task.element_id,
                    name=task.name,
                    lane=task.lane,
                    state=task.state,
                    assignee=task.assignee,
                    created_at=task.created_at,
                    claimed_at=task.claimed_at,
                    due_at=task.due_at,
                    sla_seconds=threshold[0] if threshold else None,
                    sla_source=threshold[1] if threshold else None,
                )
            )
    return out


def lane_ageing(items: Sequence[WorkItem], now: datetime) -> list[LaneAgeing]:
    """Open work per lane with its ageing (ready -> now), lanes with the oldest work first."""
    lanes: dict[str | None, list[WorkItem]] = {}
    for item in items:
        lanes.setdefault(item.lane, []).append(item)
    out = []
    for lane, work in lanes.items():
        counts = [0] * len(AGE_BUCKETS)
        for item in work:
            age = (now - item.created_at).total_seconds()
            counts[next(i for i, (_, upper) in enumerate(AGE_BUCKETS) if age < upper)] += 1
        out.append(
            LaneAgeing(
                lane=lane,
                ready=sum(1 for w in work if w.state == "ready"),
                claimed=sum(1 for w in work if w.state == "claimed"),
                oldest=min(w.created_at for w in work),
                buckets=tuple(counts),
                over_sla=sum(1 for w in work if w.sla_state(now) == "over"),
            )
        )
    return sorted(out, key=lambda a: (a.oldest is None, a.oldest))


def task_lane(db: Database, task_id: int) -> tuple[int, str | None] | None:
    """(instance, lane) of a task, or None when there is no such task: to tell 404 from 403."""
    with db.reader() as session:
        row = session.execute(
            select(HumanTask.instance_id, HumanTask.lane).where(HumanTask.id == task_id)
        ).first()
    return (row[0], row[1]) if row is not None else None


def versions(db: Database, process_id: str) -> list[VersionView]:
    """Every deployed version of a process, newest first, with its instance count and files."""
    with db.reader() as session:
        counts = dict(
            session.execute(
                select(ProcessInstance.definition_id, func.count())
                .where(ProcessInstance.process_id == process_id)
                .group_by(ProcessInstance.definition_id)
            ).all()
        )
        rows = session.scalars(
            select(ProcessDefinition)
            .where(ProcessDefinition.process_id == process_id)
            .order_by(ProcessDefinition.version.desc())
        ).all()
        return [
            VersionView(
                process=d.process_id,
                version=d.version,
                name=d.name,
                deployed_at=d.deployed_at,
                deployed_by=d.deployed_by,
                trusted_scripts=bool(d.trusted_scripts),
                instances=int(counts.get(d.id, 0)),
                files=tuple(sorted(f.name for f in repo.definition_files(session, d.id))),
            )
            for d in rows
        ]


def lanes_in_use(db: Database) -> list[str]:
    """Every lane of a deployed process or of a user, sorted."""
    with db.reader() as session:
        found: set[str] = set()
        for d in repo.definitions_summary(session):
            found.update(d["lanes"])
        for _, lanes in user_repo.user_table(session).values():
            found.update(lanes)
    return sorted(found)

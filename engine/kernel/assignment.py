"""Who should do a human task and by when, decided when it becomes ready (docs/assignment.md).

The model's assignee, candidates, due and follow-up dates and priority (bpmn/assignment.py) are
literals, or expressions evaluated here in the instance's sandbox against the task's data. SpiffArena's
`lane_owners` (a dict lane -> names in the data) adds candidates for the lane. An expression that fails
does not stop the instance: that part stays unset and the reason goes into the `task_ready` event, where
`history` shows it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

from bpmn.durations import parse_duration

from .. import runtime

if TYPE_CHECKING:  # bpmn.model brings lxml: the task list reads `split` without it (tests/test_layers.py)
    from bpmn import Element
    from bpmn.model import Value


@dataclass(frozen=True)
class Assigned:
    assignee: str | None = None
    candidate_users: tuple[str, ...] = ()
    candidate_groups: tuple[str, ...] = ()
    due_at: datetime | None = None
    follow_up_at: datetime | None = None
    priority: int | None = None
    problems: tuple[str, ...] = ()

    def event_data(self) -> dict[str, Any] | None:
        """What the `task_ready` event keeps of it (None when nothing was modelled)."""
        data: dict[str, Any] = {}
        if self.assignee:
            data["assignee"] = self.assignee
        if self.candidate_users:
            data["candidate_users"] = list(self.candidate_users)
        if self.candidate_groups:
            data["candidate_groups"] = list(self.candidate_groups)
        if self.problems:
            data["assignment_problems"] = list(self.problems)
        return data or None


def assign(element: Element, task: runtime.Task, now: datetime, *, lane_owners: bool) -> Assigned:
    """The assignment of a task of `element` becoming ready at `now`; `lane_owners`: read SpiffArena's."""
    modelled = element.assignment
    owners = _lane_owners(element, task) if lane_owners else ()
    if modelled is None and not owners:
        return Assigned(due_at=_sla_due(element, now))
    problems: list[str] = []

    def value(name: str, part: Value | None) -> Any:
        if part is None:
            return None
        if not part.expression:
            return part.text
        try:
            return runtime.evaluate(task, part.text)
        except runtime.ExpressionFailed as exc:
            problems.append(f"{name} '{part.text}': {exc}")
            return None

    def convert(name: str, raw: Any, how: Any) -> Any:
        if raw is None:
            return None
        try:
            return how(raw, now)
        except (TypeError, ValueError) as exc:
            problems.append(f"{name}: {exc}")
            return None

    def part(name: str) -> Value | None:
        return getattr(modelled, name) if modelled is not None else None

    assignee = convert("assignee", value("assignee", part("assignee")), _name)
    users = convert("candidateUsers", value("candidateUsers", part("candidate_users")), _names) or ()
    groups = convert("candidateGroups", value("candidateGroups", part("candidate_groups")), _names) or ()
    due = convert("dueDate", value("dueDate", part("due_date")), _moment)
    follow_up = convert("followUpDate", value("followUpDate", part("follow_up_date")), _moment)
    priority = convert("priority", value("priority", part("priority")), _priority)
    return Assigned(
        assignee=assignee,
        candidate_users=_unique((*users, *owners)),
        candidate_groups=tuple(groups),
        due_at=due if due is not None else _sla_due(element, now),
        follow_up_at=follow_up,
        priority=priority,
        problems=tuple(problems),
    )


def _sla_due(element: Element, now: datetime) -> datetime | None:
    """The element's BPMN `sla` counted from ready (a lane's or the global SLA is added when read, since
    it may be set after the task became ready: engine/worklists.py)."""
    sla = element.properties.get("sla")
    if not sla:
        return None
    try:
        return now + parse_duration(sla)
    except ValueError:
        return None


def _lane_owners(element: Element, task: runtime.Task) -> tuple[str, ...]:
    owners = runtime.task_data(task).get("lane_owners")
    if not isinstance(owners, dict) or element.lane is None:
        return ()
    names = owners.get(element.lane)
    try:
        return tuple(_names(names, None)) if names else ()
    except (TypeError, ValueError):
        return ()


def _name(raw: Any, _now: Any) -> str | None:
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        raise TypeError(f"a user name is text, not {type(raw).__name__}")
    text = str(raw).strip()
    if len(text) > 255 or not text.isprintable() or "," in text:
        raise ValueError("a user or group name is at most 255 printable characters, without commas")
    return text or None


def _names(raw: Any, _now: Any) -> list[str]:
    """`bob, carl` or a list of names, as Camunda takes candidate users and groups."""
    items: Iterable[Any] = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list | tuple | set | frozenset) and not isinstance(raw, str):
        raise TypeError(f"candidates are a list or comma-separated text, not {type(raw).__name__}")
    names = [n for n in (_name(i, None) for i in items) if n]
    if len(names) > 100:
        raise ValueError("at most 100 candidates")
    return _unique(names)  # type: ignore[return-value]


def _unique(names: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _moment(raw: Any, now: datetime) -> datetime:
    """An ISO 8601 date-time (no zone: UTC), a date (its midnight, UTC), or a duration counted from now."""
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=UTC)
    if isinstance(raw, date):
        return datetime.combine(raw, time(), UTC)
    if not isinstance(raw, str):
        raise TypeError(f"a date is ISO 8601 text, not {type(raw).__name__}")
    text = raw.strip()
    if text.upper().startswith("P"):
        return now + parse_duration(text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{text}' is not an ISO 8601 date, date-time or duration") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _priority(raw: Any, _now: Any) -> int:
    if isinstance(raw, bool):
        raise TypeError("a priority is a whole number, not a boolean")
    try:
        number = int(str(raw).strip()) if isinstance(raw, str) else int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"a priority is a whole number, not '{raw}'") from None
    if not -(2**31) <= number < 2**31:
        raise ValueError("a priority is between -2147483648 and 2147483647")
    return number


def joined(names: Iterable[str]) -> str | None:
    """Names as the task row keeps them: `,bob,carl,` (None for none), so `LIKE '%,bob,%'` finds one."""
    names = tuple(names)
    return f",{','.join(names)}," if names else None


def split(stored: str | None) -> tuple[str, ...]:
    return tuple(n for n in (stored or "").split(",") if n)


__all__ = ["Assigned", "assign", "joined", "split"]

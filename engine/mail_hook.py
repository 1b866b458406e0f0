"""The built-in mail notify hook (docs/notifications.md), registered through the hook manager like any
user's hook (engine/bootstrap.py). After each commit it reads the events:

- `task_ready` with an assignee (bpmn/assignment.py): a mail to the assignee;
- `task_ready` with candidates: a mail to each candidate user and each member of a candidate group;
- `task_ready` of an unassigned task: the lane's members, at once or in their next digest
  (`handoff notify set --arrival digest`), except those already told above;
- `sla_breached` (the worker's overdue check): the admins who work in the lane, else every admin.

People without an e-mail address (`users add --email`) are skipped. A failure to send raises, so the
hook manager stores it as a `hook_failed` event; the operation has committed and stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .clock import Clock
from .hooks import hookimpl
from .kernel.mail_cache import MailCache
from .lazy_modules import lazy_module
from .lifecycle import LifecycleEvent

if TYPE_CHECKING:
    from email.message import EmailMessage

    from sqlalchemy.orm import Session

    from storage import Database
    from storage import notify as store

    from . import notifications
    from .notifications import MailSettings
else:  # the settings, the recipients and the mails load when an event asks for a mail, never in a read
    notifications = lazy_module("engine.notifications")
    store = lazy_module("storage.notify")

KINDS = frozenset({"task_ready", "sla_breached"})


class MailNotifier:
    def __init__(self, db: Database, clock: Clock, cache: MailCache) -> None:
        self._db = db
        self._clock = clock
        self._cache = cache

    @hookimpl
    def handoff_notify(self, events: Sequence[LifecycleEvent]) -> None:
        relevant = [e for e in events if e.kind in KINDS]
        if not relevant:
            return  # the common case costs a loop over the events, no query
        settings = notifications.settings_from(self._cache.get(self._db))
        if settings.host is None:
            return
        with self._db.unit_of_work() as session:
            mails, digest = self._mails(session, settings, relevant)
            if digest:
                store.add_digest_lines(session, digest)  # kept even if the sending below fails
        with self._db.unit_of_work() as session:
            if settings.arrival == "digest":
                cutoff = self._clock() - timedelta(minutes=settings.digest_minutes)
                mails += notifications.digest_mails(settings, store.take_digests(session, cutoff))
            notifications.send(settings, mails)  # a failure rolls back the taking: the digests wait

    def _mails(
        self, session: Session, settings: MailSettings, events: list[LifecycleEvent]
    ) -> tuple[list[EmailMessage], list[tuple[str, datetime, str]]]:
        names: set[str] = set()
        lanes: set[str] = set()
        for e in events:
            data = e.data or {}
            if e.kind == "task_ready":
                names.update(filter(None, [data.get("assignee"), *data.get("candidate_users", ())]))
                lanes.update(data.get("candidate_groups", ()))
                if e.lane and not data.get("assignee"):
                    lanes.add(e.lane)
            elif e.lane:
                lanes.add(e.lane)
        members = store.members_of(session, lanes)
        admins = store.admins(session) if any(e.kind == "sla_breached" for e in events) else set()
        everyone = names | admins | {n for m in members.values() for n in m}
        address = store.addresses(session, everyone)
        mails: list[EmailMessage] = []
        digest: list[tuple[str, datetime, str]] = []
        for e in events:
            data = e.data or {}
            what = self._what(e, settings)
            if e.kind == "sla_breached":
                lane_admins = admins & members.get(e.lane or "", set())
                for name in sorted(lane_admins or admins):
                    if name in address:
                        waited = round(float(data.get("waited_seconds", 0)) / 60)
                        limit = round(float(data.get("threshold_seconds", 0)) / 60)
                        mails.append(
                            notifications.message(
                                settings,
                                address[name],
                                f"[Handoff] SLA breached: {e.element_name or e.element_id} in {e.lane or 'no lane'}",
                                f"The SLA of {limit} min was broken: it has waited {waited} min.\n\n{what}",
                            )
                        )
                continue
            told: set[str] = set()
            assignee = data.get("assignee")
            if assignee and assignee in address:
                mails.append(
                    notifications.message(
                        settings,
                        address[assignee],
                        f"[Handoff] Task {e.task_id} '{e.element_name or e.element_id}' is assigned to you",
                        f"A task is assigned to you.\n\n{what}",
                    )
                )
                told.add(assignee)
            candidates = set(data.get("candidate_users", ()))
            for group in data.get("candidate_groups", ()):
                candidates |= members.get(group, set())
            for name in sorted(candidates - told):
                if name in address:
                    mails.append(
                        notifications.message(
                            settings,
                            address[name],
                            f"[Handoff] Task {e.task_id} '{e.element_name or e.element_id}': you may claim it",
                            f"You are a candidate for a task: claim it to work on it.\n\n{what}",
                        )
                    )
                    told.add(name)
            if assignee or settings.arrival == "off" or not e.lane:
                continue
            for name in sorted(members.get(e.lane, set()) - told):
                if name not in address:
                    continue
                if settings.arrival == "digest":
                    digest.append((address[name], e.at, what.replace("\n", "; ")))
                else:
                    mails.append(
                        notifications.message(
                            settings,
                            address[name],
                            f"[Handoff] New task in {e.lane}: {e.element_name or e.element_id}",
                            f"New work arrived in your lane {e.lane}.\n\n{what}",
                        )
                    )
        return mails, digest

    @staticmethod
    def _what(e: LifecycleEvent, settings: MailSettings) -> str:
        lines = [
            f"Task {e.task_id}: {e.element_name or e.element_id}"
            if e.task_id
            else f"{e.element_name or '-'}",
            f"Process: {e.process_id}, instance {e.instance_id}",
            f"Lane: {e.lane or '-'}",
        ]
        if settings.url and e.task_id:
            lines.append(f"Open it: {settings.url}/tasks/{e.task_id}")
        return "\n".join(lines)


__all__ = ["MailNotifier"]

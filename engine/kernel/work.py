"""One operation's view of its transaction: the session, and the rows and workflows it holds.

This base is the live one: rows are read and written through the session at once. The batch's
(engine/kernel/batch.py) holds them in memory until it commits. Use cases never ask which they have.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from storage import repository as repo
from storage.models import HumanTask, ProcessInstance

from .. import runtime
from ..errors import Conflict
from ..lifecycle import LifecycleEvent
from .memo import Memo


class LatestMoved(Exception):
    """A start used a remembered latest version, and a newer one has been deployed since: run it again."""


class Work:
    """One operation's view of its transaction. This base is the live one: rows are read and written
    through the session at once; the batch's (engine/kernel/batch.py) holds them until it commits."""

    def __init__(self, session: Session, memo: Memo | None = None) -> None:
        self.session = session
        self.memo = memo or Memo()
        self.notify: list[LifecycleEvent] = []  # recorded events, for the notify hooks after the commit
        # Instance rows this transaction read, outside the ORM session: one object per row, written by a
        # prepared version-checked UPDATE (`changed`), never by a flush (issue 17: the ORM's flush and
        # its commit-time bookkeeping cost more than the rest of a completion's SQL).
        self._instances: dict[int, ProcessInstance] = {}
        # An instance whose only open task row, when it was read, was this one (`task_with_instance`):
        # its open rows are known without reading them again, once (`open_rows`).
        self._only_open: dict[int, HumanTask] = {}

    def instance(self, instance_id: int) -> ProcessInstance | None:
        found = self._instances.get(instance_id)
        if found is None:
            found = repo.get_instance(self.session, instance_id, attached=False)
            if found is not None:
                self._instances[instance_id] = found
        return found

    def task(self, task_id: int) -> HumanTask | None:
        return repo.get_task(self.session, task_id)

    def task_with_instance(self, task_id: int) -> tuple[HumanTask | None, ProcessInstance | None]:
        """A task row and its instance's row (a completion needs both), in one statement."""
        task, instance, siblings = repo.get_task_with_instance(self.session, task_id)
        if task is None:
            return None, None
        if instance is not None:
            self._instances.setdefault(instance.id, instance)
            if siblings == 0 and task.state in repo.OPEN_TASK_STATES:
                self._only_open[instance.id] = task
        return task, self.instance(task.instance_id)

    def open_rows(self, instance_id: int) -> dict[str, HumanTask]:
        """The instance's open task rows by SpiffWorkflow task id."""
        only = self._only_open.pop(instance_id, None)
        if only is not None:
            # Read with its instance, when no other task of the instance was open (a concurrent change
            # that adds one changes the instance too, and this transaction's version check then fails);
            # this operation has changed no task row of the instance but this one before asking: the
            # first call answers from it (a completion saves a statement, issue 17), later ones read.
            return {only.spiff_task_id: only} if only.state in repo.OPEN_TASK_STATES else {}
        return {t.spiff_task_id: t for t in repo.open_tasks_of(self.session, instance_id)}

    def live_workflow(self, instance_id: int) -> runtime.Workflow | None:
        """The workflow an earlier operation of this unit left in memory, if any."""
        return None

    def save_state(
        self,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        workflow: runtime.Workflow,
        *,
        new: bool,
    ) -> None:
        """Put the workflow's state and data on the instance row (a completed one keeps no state)."""
        if instance.status == "completed":
            instance.state = ""
        else:
            instance.state = runtime.dump_workflow(definition, workflow)
        instance.data = runtime.snapshot(runtime.instance_data(workflow))

    def checks_latest(self) -> bool:
        """Whether `insert` checks a remembered latest version in the INSERT itself (PostgreSQL, where a
        lookup is a round trip), so that `Definitions.ref` may start from it."""
        return repo.checks_latest(self.session)

    def insert(self, instance: ProcessInstance) -> None:
        """Insert a new instance's row and its searchable data now (one statement on PostgreSQL). If
        its version was the remembered latest one, only if no newer one exists: else LatestMoved."""
        remembered = self.memo.unchecked.get(instance.process_id)
        latest = remembered[1] if remembered is not None and remembered[0] == instance.definition_id else None
        if repo.insert_indexed_instance(self.session, instance, latest=latest) is None:
            raise LatestMoved(instance.process_id)

    def index_data(self, instance: ProcessInstance, before: dict[str, Any] | None) -> None:
        """Keep the instance's searchable data (the variable table) as its data now is, in this
        transaction; `before`: the data its rows were written from (None: a new instance)."""
        repo.write_variables(self.session, instance.id, before, instance.data)

    def changed(self, instance: ProcessInstance) -> None:
        """Write a changed instance row now, under its version counter: a concurrent change wins, this one
        fails with a Conflict. (An instance inserted earlier in this transaction by a Core INSERT is
        updated by a version-checked UPDATE of its own.)"""
        if instance in self.session or self._instances.get(instance.id) is instance:
            repo.update_loaded_instance(self.session, instance)  # a concurrent change: StaleDataError
        elif not repo.update_instances(self.session, [instance]):
            raise Conflict(f"instance {instance.id} was changed by someone else just now; nothing was saved")

    def keep(
        self,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        workflow: runtime.Workflow,
        open_rows: Sequence[HumanTask],
    ) -> None:
        """The instance's outcome after an operation: nothing to keep in a live transaction."""

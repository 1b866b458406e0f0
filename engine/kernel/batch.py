"""Many operations in ONE transaction, for the simulator: all of them land, or (on any error) none.

Workflows stay live in memory between operations and each one's state is serialized once, when the
batch commits (a finished instance never is). Instance and task rows the batch touched are held here,
outside the ORM session, so that no operation reads them again; the instances' changes are written by
one version-checked executemany at the end, task rows and history as they happen (through the storage
write buffer). The operations, their checks and their hooks are those of live use; only the commit
moves, and the notify hooks run after it. Reads through separate sessions do not see the batch until
it commits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from storage import repository as repo
from storage.models import HumanTask, ProcessInstance

from .. import runtime
from ..errors import Conflict
from .memo import Memo
from .recording import notify
from .sessions import translated
from .work import Work

if TYPE_CHECKING:
    from .app import App


class BatchWork(Work):
    """The one transaction of a batch, as every operation in it sees it."""

    def __init__(self, session: Session) -> None:
        super().__init__(session, Memo())
        self.live: dict[int, tuple[ProcessInstance, runtime.LoadedDefinition, runtime.Workflow]] = {}
        self.instances: dict[int, ProcessInstance] = {}
        self.tasks: dict[int, HumanTask] = {}
        self.open_tasks: dict[int, dict[str, HumanTask]] = {}
        self.dirty: dict[int, ProcessInstance] = {}
        self.failed: BaseException | None = None

    def instance(self, instance_id: int) -> ProcessInstance | None:
        found = self.instances.get(instance_id)
        if found is None:
            found = repo.get_instance(self.session, instance_id)
            if found is not None:
                self.session.expunge(found)  # from now on written by `write`, never by an ORM flush
                self.instances[instance_id] = found
        return found

    def task(self, task_id: int) -> HumanTask | None:
        found = self.tasks.get(task_id)
        if found is None:
            found = repo.get_task(self.session, task_id)
            if found is not None:
                self.session.expunge(found)
                self.tasks[task_id] = found
        return found

    def task_with_instance(self, task_id: int) -> tuple[HumanTask | None, ProcessInstance | None]:
        task = self.task(task_id)  # both are mostly in memory already: no joined read
        return task, (self.instance(task.instance_id) if task is not None else None)

    def open_rows(self, instance_id: int) -> dict[str, HumanTask]:
        rows = self.open_tasks.get(instance_id)
        if rows is None:
            rows = {}
            for row in repo.open_tasks_of(self.session, instance_id):
                row = self.tasks.setdefault(row.id, row)
                if row in self.session:
                    self.session.expunge(row)
                rows[row.spiff_task_id] = row
            self.open_tasks[instance_id] = rows
        return {k: r for k, r in rows.items() if r.state in repo.OPEN_TASK_STATES}

    def live_workflow(self, instance_id: int) -> runtime.Workflow | None:
        live = self.live.get(instance_id)
        return live[2] if live is not None else None

    def save_state(
        self,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        workflow: runtime.Workflow,
        *,
        new: bool,
    ) -> None:
        if instance.status == "completed":
            instance.state = ""
            instance.data = runtime.snapshot(runtime.instance_data(workflow))
        elif new:
            instance.state = ""  # a placeholder: `write` serializes the state (and the data) at the end

    def checks_latest(self) -> bool:
        return False  # its instances are inserted at its end: a batch looks its versions up

    def insert(self, instance: ProcessInstance) -> None:
        repo.insert_instance(self.session, instance)  # buffered; its data is indexed by `write`

    def index_data(self, instance: ProcessInstance, before: dict[str, Any] | None) -> None:
        """Written at the batch's end for every instance it changed (`write`)."""

    def changed(self, instance: ProcessInstance) -> None:
        self.dirty[instance.id] = instance  # written by `write`, version-checked, at the end
        if instance.status in ("completed", "terminated"):
            # Its state is never serialized again. Its open task rows stay known here: advancing an
            # instance that just completed (a terminate end event) cancels those still open after this,
            # and the rows born in this batch are in no table a query could find them in yet.
            self.live.pop(instance.id, None)

    def keep(
        self,
        instance: ProcessInstance,
        definition: runtime.LoadedDefinition,
        workflow: runtime.Workflow,
        open_rows: Sequence[HumanTask],
    ) -> None:
        for row in open_rows:
            self.tasks[row.id] = row
        self.open_tasks[instance.id] = {r.spiff_task_id: r for r in open_rows}
        self.instances[instance.id] = instance
        self.dirty[instance.id] = instance
        if instance.status == "completed":
            self.live.pop(instance.id, None)
            self.open_tasks.pop(instance.id, None)
        else:
            self.live[instance.id] = (instance, definition, workflow)

    def write(self) -> None:
        """Serialize each unfinished workflow once and write every changed instance in one statement."""
        for instance, definition, workflow in self.live.values():
            instance.state = runtime.dump_workflow(definition, workflow)
            instance.data = runtime.snapshot(runtime.instance_data(workflow))
        inserted = repo.flush_writes(self.session)
        changed = [i for i in self.dirty.values() if i.id not in inserted]
        if not repo.update_instances(self.session, changed):
            raise Conflict("someone else changed instances of this batch at the same time; nothing was saved")
        repo.rewrite_variables(self.session, {i.id: i.data for i in self.dirty.values()}, inserted)


class Batch:
    """The units of a batch: every operation runs in the same `BatchWork`. An error in one spoils the
    whole batch, since its half-made changes cannot be taken back alone."""

    def __init__(self, app: App) -> None:
        self._app = app
        self._work: BatchWork | None = None

    @contextmanager
    def operation(self) -> Iterator[Work]:
        work = self._work
        if work is None:
            raise RuntimeError("the batch is not open")
        if work.failed is not None:
            raise RuntimeError(f"the batch failed earlier: {work.failed}")
        try:
            yield work
        except BaseException as exc:
            work.failed = exc
            raise

    def __enter__(self) -> Batch:
        self._app.ready()
        self._transaction = translated(self._app.db)
        session = self._transaction.__enter__()
        repo.buffer_writes(session)
        self._work = BatchWork(session)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        work, self._work = self._work, None
        assert work is not None
        try:
            if exc is None and work.failed is not None:
                raise work.failed
            if exc is None:
                work.write()
        except BaseException as failure:
            work.live.clear()
            self._transaction.__exit__(type(failure), failure, failure.__traceback__)
            raise
        if exc is not None:
            work.live.clear()
            self._transaction.__exit__(exc_type, exc, tb)
            return
        work.live.clear()
        self._transaction.__exit__(None, None, None)
        notify(self._app, work.notify)

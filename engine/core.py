"""What the service mixins (engine/people.py, scheduling.py, calls.py, incidents.py, messages.py) may call
on `Handoff` (engine/services.py): declared once, for the type checker. At run time an empty class."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.task import Task
    from sqlalchemy.orm import Session

    from bpmn import ProcessModel
    from storage import Database
    from storage.models import HumanTask, ProcessInstance

    from . import handlers, runtime
    from .clock import Clock
    from .lifecycle import LifecycleEvent
    from .services import _Batch, _Change
    from .views import InstanceView, TimelineEntry


class ServicesCore:
    """The base of every mixin of `Handoff`; `Handoff` provides all of the below."""

    if TYPE_CHECKING:
        db: Database
        clock: Clock
        services: handlers.ServiceRegistry
        _batch: _Batch | None

        def _ready(self) -> None: ...
        def _uow(self) -> Any: ...
        def _authorize(self, actor: str | None, action: str) -> Any: ...
        def _change(self, actor: str | None) -> _Change: ...
        def _get_instance(self, session: Session, instance_id: int) -> ProcessInstance | None: ...
        def _instance(self, session: Session, instance_id: int) -> ProcessInstance: ...
        def _definition(self, session: Session, definition_id: int) -> runtime.LoadedDefinition: ...
        def _instance_definition(
            self, session: Session, instance: ProcessInstance
        ) -> runtime.LoadedDefinition: ...
        def _workflow(
            self, definition: runtime.LoadedDefinition, instance: ProcessInstance
        ) -> BpmnWorkflow: ...
        def _open_rows(self, session: Session, instance_id: int) -> dict[str, HumanTask]: ...
        def _event(
            self,
            definition: runtime.LoadedDefinition,
            task: Task | None,
            kind: str,
            change: _Change,
            *,
            task_id: int | None = None,
            actor: str | None | bool = True,
            data: dict[str, Any] | None = None,
            opens: bool = False,
        ) -> LifecycleEvent: ...
        def _record(self, session: Session, model: ProcessModel, events: list[LifecycleEvent]) -> None: ...
        def _notify(self, events: list[LifecycleEvent]) -> None: ...
        def _advance(
            self,
            session: Session,
            definition: runtime.LoadedDefinition,
            instance: ProcessInstance,
            workflow: BpmnWorkflow,
            change: _Change,
            *,
            new: bool = False,
        ) -> list[HumanTask]: ...
        def _view(
            self,
            session: Session,
            instance: ProcessInstance,
            definition: runtime.LoadedDefinition,
            *,
            timeline: tuple[TimelineEntry, ...] = (),
            tasks: Sequence[HumanTask] | None = None,
        ) -> InstanceView: ...
        def _start_in(
            self,
            session: Session,
            change: _Change,
            definition: runtime.LoadedDefinition,
            data: dict[str, Any],
            business_key: str | None,
            *,
            start_timer: str | None = None,
            arrive: Callable[[BpmnWorkflow, _Change, runtime.LoadedDefinition], None] | None = None,
        ) -> InstanceView: ...
        def _raise_failure(self, change: _Change, view: InstanceView, *, done: str = "") -> None: ...
        def fire_timers(self, instance_id: int) -> InstanceView | None: ...
        def retry_due(self, instance_id: int, *, actor: str | None = None) -> InstanceView | None: ...

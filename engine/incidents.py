"""Incidents and the instance lifecycle: automatic retries, suspend, resume, terminate (docs/incidents.md).

A failed script or service task puts its instance in `error`. The task's retry policy (bpmn/retry.py)
says whether Handoff tries again by itself: then `next_due_at` holds the retry time and the worker calls
`retry_due` when it comes; else, or once the retries are spent, `next_due_at` is empty and the failure is
an **incident** that waits for a person (`handoff retry`, or `terminate`). `attempts` counts the
automatic retries made for the current failure.

Mixed into `Handoff` (engine/services.py), whose helpers the methods use; each service is one
transaction with its history events, like every other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bpmn import retry as retry_policies
from storage import repository as repo
from storage import subscriptions

from . import runtime
from .core import ServicesCore
from .errors import Conflict
from .runtime import service_calls
from .views import InstanceView, iso

if TYPE_CHECKING:
    from storage.models import ProcessInstance

    from .services import _Change

# Failures of the process itself, not of a task: running them again cannot help.
_NEVER_RETRIED = ("RunawayLoop", "FalseCompletion")
SUSPENDABLE = ("running", "waiting", "error")
TERMINABLE = ("running", "waiting", "error", "suspended")


class IncidentServices(ServicesCore):
    """Retry policy, automatic retries and the lifecycle services; mixed into `Handoff`, which provides
    what `ServicesCore` declares (engine/core.py)."""

    # --- what the other services call -------------------------------------------------------------

    @contextmanager
    def _service_calls(
        self, definition: runtime.LoadedDefinition, instance: ProcessInstance, change: _Change
    ) -> Iterator[None]:
        """Service tasks reached in this block call their handlers, told which instance and attempt."""
        with service_calls.calls(
            self.services,
            definition.model,
            process=definition.process_id,
            instance=instance.id,
            business_key=instance.business_key,
            attempt=(instance.attempts or 0) + 1,
            now=change.now,
        ):
            yield

    def _fail(self, definition: runtime.LoadedDefinition, instance: ProcessInstance, change: _Change) -> None:
        """Put the instance in error for `change.failure`, with its retry plan, and record it.

        A failure of another task than the one that failed before is a new incident: its retries count
        from zero. Writes `next_due_at` (the retry time, or None for an incident).
        """
        failure = change.failure
        assert failure is not None
        model = definition.model
        info: dict[str, Any] = failure.to_json(model) | {"at": change.now.isoformat()}
        previous = instance.error if instance.status == "error" else None
        if not previous or previous.get("task") != info["task"]:
            instance.attempts = 0
        element = runtime.element_of(model, failure.task) if failure.task is not None else None
        if failure.error_type in _NEVER_RETRIED:
            element = None
        policy = retry_policies.policy(element, model.properties)
        made = instance.attempts or 0
        retry_at = change.now + policy.wait(made) if made < policy.retries else None
        info |= {"attempts": made, "retries": policy.retries, "retry_at": iso(retry_at)}
        instance.status = "error"
        instance.error = info
        instance.next_due_at = retry_at
        if failure.task is not None:
            change.events.append(
                self._event(definition, failure.task, "task_error", change, actor=None, data=info)
            )
        change.events.append(self._event(definition, None, "instance_failed", change, actor=None, data=info))
        if retry_at is None:
            change.events.append(
                self._event(definition, None, "incident_opened", change, actor=None, data=info)
            )

    # --- services ----------------------------------------------------------------------------------

    def retry_due(self, instance_id: int, *, actor: str | None = None) -> InstanceView | None:
        """The worker's automatic retry: run the failed task of an instance in error whose retry is due.

        Returns None, changing nothing, unless the instance is in error with a retry due by the engine
        clock. Otherwise the attempt is written whatever its outcome: success runs the instance on; a
        new failure schedules the next retry, or opens an incident when the policy's retries are spent.
        Never raises for the failure itself: it is in the instance and its history.
        """
        self._ready()
        change = self._change(actor)
        with self._uow() as session:
            change.session, change.instance_id = session, instance_id
            instance = self._instance(session, instance_id)
            due = instance.next_due_at
            if instance.status != "error" or due is None or due > change.now:
                return None
            definition = self._instance_definition(session, instance)
            workflow = self._workflow(definition, instance)
            failed = runtime.error_tasks(workflow)
            instance.attempts = (instance.attempts or 0) + 1
            error = instance.error or {}
            change.events.append(
                self._event(
                    definition,
                    failed[0] if failed else None,
                    "instance_retried",
                    change,
                    data={"automatic": True, "attempt": instance.attempts, "retries": error.get("retries")},
                )
            )
            try:
                with runtime.clock_at(change.now), self._service_calls(definition, instance, change):
                    for task in failed:
                        runtime.retry_task(task, {})
            except Exception as exc:  # noqa: BLE001 - scripts and handlers are user code
                change.failure = runtime.describe_failure(exc)
            open_tasks = self._advance(session, definition, instance, workflow, change)
            view = self._view(session, instance, definition, tasks=open_tasks)
        self._notify(change.events)
        return view

    def suspend(self, instance_id: int, *, reason: str | None = None, actor: str | None) -> InstanceView:
        """Put an instance on hold: its tasks cannot be claimed or completed, its timers and retries do
        not fire, until `resume`. Running, waiting and failed instances can be suspended."""
        self._ready()
        self._authorize(actor, "suspend")
        return self._lifecycle(instance_id, "suspend", reason, actor)

    def resume(self, instance_id: int, *, actor: str | None) -> InstanceView:
        """Take a suspended instance off hold, back to the status it had; timers and retries that fell
        due meanwhile fire on the worker's next pass."""
        self._ready()
        self._authorize(actor, "suspend")
        return self._lifecycle(instance_id, "resume", None, actor)

    def terminate(self, instance_id: int, *, reason: str | None = None, actor: str | None) -> InstanceView:
        """End an instance for good: its open tasks are cancelled, it never runs again."""
        self._ready()
        self._authorize(actor, "terminate")
        return self._lifecycle(instance_id, "terminate", reason, actor)

    def _lifecycle(
        self, instance_id: int, action: str, reason: str | None, actor: str | None
    ) -> InstanceView:
        change = self._change(actor)
        reason = (reason or "").strip() or None
        with self._uow() as session:
            change.session, change.instance_id = session, instance_id
            instance = self._instance(session, instance_id)
            definition = self._instance_definition(session, instance)
            previous = instance.status
            rows = sorted(self._open_rows(session, instance_id).values(), key=lambda r: r.id)
            data: dict[str, Any] = {"previous_status": previous}
            if reason:
                data["reason"] = reason
            if action == "suspend":
                if previous not in SUSPENDABLE:
                    raise Conflict(
                        f"instance {instance_id} is {previous}: only a running, waiting or failed instance "
                        "can be suspended"
                    )
                instance.status = "suspended"
                kind = "instance_suspended"
            elif action == "resume":
                if previous != "suspended":
                    raise Conflict(f"instance {instance_id} is {previous}, not suspended: nothing to resume")
                # What it was before: nothing ran while it was on hold, so its state still says so.
                instance.status = "error" if instance.error else ("running" if rows else "waiting")
                data["status"] = instance.status
                kind = "instance_resumed"
            else:
                if previous not in TERMINABLE:
                    raise Conflict(f"instance {instance_id} is {previous}: it has already ended")
                from .services import _row_event

                for row in rows:
                    repo.set_task(session, row, state="cancelled", completed_at=change.now)
                    change.events.append(
                        _row_event(row, "task_cancelled", definition, change.now, actor=actor)
                    )
                rows = []
                # Like a completed one, a terminated instance never runs again: its workflow state goes,
                # and nothing it waited for may reach it (docs/messages.md).
                subscriptions.remove(session, instance_id)
                instance.status, instance.state, instance.error = "terminated", "", None
                instance.next_due_at, instance.attempts = None, 0
                kind = "instance_terminated"
            instance.updated_at = change.now
            change.events.append(self._event(definition, None, kind, change, data=data))
            for event in change.events:
                event.instance_id = instance_id
            if self._batch is not None:
                self._batch.dirty[instance_id] = instance
                if instance.status == "terminated":
                    self._batch.live.pop(instance_id, None)
            else:
                session.flush()  # the version check: a concurrent change wins, this one fails
            self._record(session, definition.model, change.events)
            view = self._view(session, instance, definition, tasks=rows)
        self._notify(change.events)
        return view

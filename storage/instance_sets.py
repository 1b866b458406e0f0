"""Sets of instances chosen by filters, for the operations that act on many at once (migrate, batches,
cleanup): ids and what is needed to plan each, never whole rows or workflow states."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import ProcessDefinition, ProcessInstance


@dataclass(frozen=True)
class InstanceRef:
    id: int
    definition_id: int
    version: int
    status: str


def select_refs(
    session: Session,
    *,
    process_id: str | None = None,
    definition_ids: Sequence[int] | None = None,
    versions: Sequence[int] | None = None,
    statuses: Sequence[str] | None = None,
    business_key: str | None = None,
    ids: Sequence[int] | None = None,
) -> list[InstanceRef]:
    """The instances matching every filter given, by id."""
    query = select(
        ProcessInstance.id, ProcessInstance.definition_id, ProcessDefinition.version, ProcessInstance.status
    ).join(ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id)
    if process_id is not None:
        query = query.where(ProcessInstance.process_id == process_id)
    if definition_ids is not None:
        query = query.where(ProcessInstance.definition_id.in_(list(definition_ids)))
    if versions is not None:
        query = query.where(ProcessDefinition.version.in_(list(versions)))
    if statuses is not None:
        query = query.where(ProcessInstance.status.in_(list(statuses)))
    if business_key is not None:
        query = query.where(ProcessInstance.business_key == business_key)
    if ids is not None:
        query = query.where(ProcessInstance.id.in_(list(ids)))
    return [InstanceRef(*row) for row in session.execute(query.order_by(ProcessInstance.id))]

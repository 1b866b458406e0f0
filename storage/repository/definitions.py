"""Deployed process versions: their specs, models and files."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.orm import Session

from ..models import DefinitionFile, ProcessDefinition, ProcessInstance
from .prepared import Prepared

_DEFINITION = cast(Table, ProcessDefinition.__table__)
_LATEST_REF = Prepared(
    select(_DEFINITION.c.id, _DEFINITION.c.version)
    .where(_DEFINITION.c.process_id == bindparam("process_id"))
    .order_by(_DEFINITION.c.version.desc())
    .limit(1)
)
_VERSION_REF = Prepared(
    select(_DEFINITION.c.id, _DEFINITION.c.version).where(
        _DEFINITION.c.process_id == bindparam("process_id"), _DEFINITION.c.version == bindparam("version")
    )
)


def latest_definition(session: Session, process_id: str) -> ProcessDefinition | None:
    return session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()


def latest_definition_ref(
    session: Session, process_id: str, version: int | None = None
) -> tuple[int, int] | None:
    """(id, version) of the latest (or the given) version of a process: what starting an instance needs."""
    if version is None:
        row = _LATEST_REF.first(session, {"process_id": process_id})
    else:
        row = _VERSION_REF.first(session, {"process_id": process_id, "version": version})
    return (row["id"], row["version"]) if row is not None else None


def definition_version(session: Session, definition_id: int) -> int:
    """The version number of one deployed version (without reading its model and spec)."""
    return int(
        session.execute(
            select(ProcessDefinition.version).where(ProcessDefinition.id == definition_id)
        ).scalar_one()
    )


def definition_fields(session: Session, definition_id: int) -> tuple[str, int, dict[str, Any], str, bool]:
    """(process id, version, model, spec, trusted scripts) of one version."""
    row = session.execute(
        select(
            ProcessDefinition.process_id,
            ProcessDefinition.version,
            ProcessDefinition.model,
            ProcessDefinition.spec,
            ProcessDefinition.trusted_scripts,
        ).where(ProcessDefinition.id == definition_id)
    ).one()
    return row[0], row[1], row[2], row[3], bool(row[4])


def add_definition(
    session: Session,
    *,
    process_id: str,
    version: int,
    name: str | None,
    dialect: str,
    checksum: str,
    spec: str,
    model: dict[str, Any],
    deployed_at: datetime,
    deployed_by: str | None,
    files: Iterable[tuple[str, str, str, bytes]],
    trusted_scripts: bool = False,
) -> ProcessDefinition:
    definition = ProcessDefinition(
        process_id=process_id,
        version=version,
        name=name,
        dialect=dialect,
        checksum=checksum,
        spec=spec,
        model=model,
        deployed_at=deployed_at,
        deployed_by=deployed_by,
        trusted_scripts=trusted_scripts,
    )
    session.add(definition)
    session.flush()
    for name_, kind, file_checksum, content in files:
        session.add(
            DefinitionFile(
                definition_id=definition.id, name=name_, kind=kind, checksum=file_checksum, content=content
            )
        )
    return definition


def definitions_summary(session: Session) -> list[dict[str, Any]]:
    """Every process with its latest version and instance counts by status."""
    latest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    rows = session.execute(
        select(ProcessDefinition)
        .join(
            latest,
            (latest.c.process_id == ProcessDefinition.process_id)
            & (latest.c.version == ProcessDefinition.version),
        )
        .order_by(ProcessDefinition.process_id)
    ).scalars()
    counts: dict[str, dict[str, int]] = {}
    for process_id, status, n in session.execute(
        select(ProcessInstance.process_id, ProcessInstance.status, func.count()).group_by(
            ProcessInstance.process_id, ProcessInstance.status
        )
    ):
        counts.setdefault(process_id, {})[status] = n
    return [
        {
            "process": d.process_id,
            "name": d.name,
            "version": d.version,
            "lanes": list((d.model or {}).get("lanes") or []),
            "deployed_at": d.deployed_at,
            "deployed_by": d.deployed_by,
            "trusted_scripts": bool(d.trusted_scripts),
            "instances": counts.get(d.process_id, {}),
        }
        for d in rows
    ]


def definition_files(session: Session, definition_id: int) -> Sequence[DefinitionFile]:
    return session.scalars(select(DefinitionFile).where(DefinitionFile.definition_id == definition_id)).all()

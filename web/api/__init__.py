"""The REST API of DESIGN §8, one router per resource; `router` gathers them under /api."""

from __future__ import annotations

from fastapi import APIRouter

from . import admin, docs, instances, messages, processes, records, tasks

router = APIRouter(prefix="/api")
for module in (processes, instances, tasks, messages, records, admin, docs):
    router.include_router(module.router)

__all__ = ["router"]

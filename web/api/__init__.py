"""The REST API of DESIGN §8, one router per resource; `install(app)` adds each under /api (directly to the
application: a request is matched against one level of routers, not two)."""

from __future__ import annotations

from fastapi import FastAPI

from . import admin, docs, instances, messages, processes, records, repair, tasks

RESOURCES = (processes, instances, tasks, messages, records, repair, admin, docs)


def install(app: FastAPI) -> None:
    for module in RESOURCES:
        app.include_router(module.router, prefix="/api")


__all__ = ["install"]

"""The history as records and figures: handoffs, crossings, delays, the CPO report, exports."""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..auth import User, handoff
from ..errors import HttpError
from .common import JsonRoute, parse_flag, parse_time

router = APIRouter(tags=["history"], route_class=JsonRoute)

MAX_LIMIT = 100_000


def _filters(
    user: User,
    process: str | None,
    instance: int | None,
    since: str | None,
    until: str | None,
    lane: list[str] | None,
    limit: int,
) -> dict[str, Any]:
    return {
        "process_id": process or None,
        "instance_id": instance,
        "since": parse_time(since, "since"),
        "until": parse_time(until, "until"),
        "lanes": tuple(lane or ()),
        "limit": limit,
        "actor": user.name,
    }


Lanes = Annotated[list[str] | None, Query(description="touching this lane; repeat for more")]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]


@router.get("/handoffs")
def handoffs(
    request: Request,
    user: User,
    process: str | None = None,
    instance: int | None = None,
    since: str | None = None,
    until: str | None = None,
    lane: Lanes = None,
    limit: Limit = 1000,
) -> list[dict[str, Any]]:
    """Work passing from one person to another (as `handoff handoffs --json`)."""
    filters = _filters(user, process, instance, since, until, lane, limit)
    return [h.to_json() for h in handoff(request).handoffs(**filters)]


@router.get("/crossings")
def crossings(
    request: Request,
    user: User,
    process: str | None = None,
    instance: int | None = None,
    since: str | None = None,
    until: str | None = None,
    lane: Lanes = None,
    limit: Limit = 1000,
) -> list[dict[str, Any]]:
    """Work crossing from one lane to another (as `handoff crossings --json`)."""
    filters = _filters(user, process, instance, since, until, lane, limit)
    return [c.to_json() for c in handoff(request).crossings(**filters)]


@router.get("/delays")
def delays(
    request: Request,
    user: User,
    process: str | None = None,
    instance: int | None = None,
    since: str | None = None,
    until: str | None = None,
    lane: Lanes = None,
    limit: Limit = 1000,
) -> list[dict[str, Any]]:
    """Tasks and instances that took longer than their SLA (as `handoff delays --json`)."""
    filters = _filters(user, process, instance, since, until, lane, limit)
    return [d.to_json() for d in handoff(request).delays(**filters)]


@router.get("/report")
def report(
    request: Request,
    user: User,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> dict[str, Any]:
    """The CPO report of instances started in [since, until) (as `handoff report --format json`)."""
    result = handoff(request).report(
        process_id=process or None,
        since=parse_time(since, "since"),
        until=parse_time(until, "until"),
        actor=user.name,
    )
    out: dict[str, Any] = result.to_json()
    return out


MEDIA_TYPES = {"xes": "application/xml", "csv": "text/csv; charset=utf-8"}


@router.get("/export", response_class=StreamingResponse)
async def export(
    request: Request,
    user: User,
    format: str,
    process: str | None = None,
    since: str | None = None,
    until: str | None = None,
    schedule: str | None = None,
) -> StreamingResponse:
    """The event log for process-mining tools, streamed in constant memory (as `handoff export`)."""
    fmt = format.lower()
    if fmt not in MEDIA_TYPES:
        raise HttpError(422, f"unknown export format {format!r}: use xes or csv")
    since_at, until_at = parse_time(since, "since"), parse_time(until, "until")
    app = handoff(request)

    def write(out: _Pipe) -> None:
        app.export(
            out,  # type: ignore[arg-type]
            fmt,
            process_id=process or None,
            since=since_at,
            until=until_at,
            schedule=parse_flag(schedule, "schedule"),
            actor=user.name,
        )

    pipe = _Pipe()
    first = await pipe.start(write)  # errors before the first byte (403, 422) answer as errors
    name = f"handoff-{process or 'all'}.{fmt}".replace('"', "")
    return StreamingResponse(
        pipe.rest(first),
        media_type=MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


class _Pipe:
    """A binary file object that the engine writes the export into, in a thread of its own; the answer
    reads it chunk by chunk. A bounded queue keeps memory constant; a client that goes away stops the
    writer at its next write."""

    CHUNK = 64 * 1024
    _END = object()

    def __init__(self) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=8)
        self._buffer = bytearray()
        self._closed = threading.Event()

    # --- the engine's side (a worker thread) ---

    def write(self, data: bytes) -> int:
        self._buffer += data
        if len(self._buffer) >= self.CHUNK:
            self._put(bytes(self._buffer))
            self._buffer.clear()
        return len(data)

    def flush(self) -> None:
        pass

    def _put(self, item: Any) -> None:
        while True:
            if self._closed.is_set():
                raise _ClientGone()
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def _run(self, work: Callable[[_Pipe], None]) -> None:
        try:
            work(self)
            if self._buffer:
                self._put(bytes(self._buffer))
            self._put(self._END)
        except _ClientGone:
            pass
        except BaseException as exc:  # handed over to the answer, which raises it
            with contextlib.suppress(_ClientGone):
                self._put(exc)

    # --- the answer's side (the event loop) ---

    async def start(self, work: Callable[[_Pipe], None]) -> Any:
        threading.Thread(target=self._run, args=(work,), daemon=True, name="handoff-export").start()
        first = await run_in_threadpool(self._queue.get)
        if isinstance(first, BaseException):
            raise first
        return first

    async def rest(self, first: Any) -> AsyncIterator[bytes]:
        try:
            item = first
            while item is not self._END:
                if isinstance(item, BaseException):
                    raise item  # after the first byte the status is sent: the stream breaks off
                yield item
                item = await run_in_threadpool(self._queue.get)
        finally:
            self._closed.set()


class _ClientGone(Exception):
    pass

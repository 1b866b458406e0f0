"""What the API's routers share: request bodies, query parsing, answers."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field

from ..errors import HttpError
from ..security import SafeJSONResponse


class JsonRoute(APIRoute):
    """A route whose `def` answers with the CLI's JSON shapes (dicts and lists from `to_json()`), sent as
    they are: FastAPI would otherwise validate them against the return annotation (for a plain `def`,
    a second trip through the threadpool) and walk them with `jsonable_encoder` on the event loop, on
    every request (benchmarks/api_load.py). A route may still return a Response of its own."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        kwargs["response_model"] = None
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _answering(endpoint, kwargs.get("status_code") or 200)
        super().__init__(path, endpoint, **kwargs)


def _answering(endpoint: Callable[..., Any], status: int) -> Callable[..., Any]:
    if getattr(endpoint, "answers_json", False):
        return endpoint  # already wrapped (a router included into another makes its routes again)

    @functools.wraps(endpoint)  # FastAPI reads the parameters (and their module) through __wrapped__
    def answer(*args: Any, **kwargs: Any) -> Response:
        result = endpoint(*args, **kwargs)
        return result if isinstance(result, Response) else SafeJSONResponse(result, status_code=status)

    answer.answers_json = True  # type: ignore[attr-defined]
    return answer


class DataBody(BaseModel):
    """Form data or variables (checked by the engine against the form and the payload limits)."""

    model_config = ConfigDict(extra="forbid")
    data: dict[str, Any] = Field(default_factory=dict)


class StartBody(DataBody):
    business_key: str | None = None
    version: int | None = None


class CommentBody(BaseModel):
    """A comment's text (checked by the engine against the payload limits)."""

    model_config = ConfigDict(extra="forbid")
    text: str


class ReasonBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str | None = None


class MessageBody(DataBody):
    key: str | None = None
    instance: int | None = None  # deliver to this instance only
    all: bool = False  # several instances wait without a key: deliver to all of them


class SignalBody(DataBody):
    instance: int | None = None


def parse_time(value: str | None, name: str) -> datetime | None:
    """An ISO 8601 time (UTC unless it says otherwise), or a 400 naming the parameter."""
    if value is None or value == "":
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HttpError(
            400, f"{name} expects an ISO 8601 time like 2026-03-02 or 2026-03-02T09:00Z, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_flag(value: str | None, name: str) -> bool:
    """`?mine=1`, `?all=true`, `?all` (empty): true; `0`, `false`, absent: false."""
    if value is None:
        return False
    text = value.strip().lower()
    if text in ("", "1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise HttpError(400, f"{name} expects true or false, got {value!r}")

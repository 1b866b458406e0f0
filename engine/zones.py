"""Time zones for people (docs/users.md): text and pages show times in the reader's zone, named;
stored and JSON times stay UTC.

The zone is the user's (`handoff users add NAME --tz Europe/Berlin`), else `HANDOFF_TZ`, else the
machine's. A door sets it for what it renders (`showing`); `engine.text.when` and the web's `when`
filter read it. A context variable, so each web request renders in its own reader's zone.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidInput

if TYPE_CHECKING:
    from .kernel.app import App

ENV = "HANDOFF_TZ"
_shown: ContextVar[tzinfo | None] = ContextVar("handoff_zone", default=None)


def check_zone(name: str) -> str:
    """An IANA zone name Python knows (Europe/Berlin, America/New_York, UTC); InvalidInput otherwise."""
    text = name.strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"unknown time zone {name!r}: give an IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from None
    return text


def zone_of(app: App, name: str | None) -> str | None:
    """The time zone `name` chose (`users add --tz`), or None (then HANDOFF_TZ, else the machine's). Read
    on a Connection: every command that prints times asks, reads included (no ORM: issue 17)."""
    if not name:
        return None
    # Here, not at the top: the renderers import this module before a command builds its application,
    # and SQLAlchemy's import belongs inside that build (cli_base.Startup: no collector while it runs).
    from storage import reads

    app.ready()
    with app.db.connection() as conn:
        return reads.user_zone(conn, name)


def default_zone() -> tzinfo:
    """HANDOFF_TZ, else the machine's local zone."""
    name = os.environ.get(ENV, "").strip()
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise InvalidInput(f"{ENV}={name!r} is not a time zone (e.g. Europe/Berlin or UTC)") from None
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def resolve(name: str | None) -> tzinfo:
    """The user's zone if they chose one (and it still exists), else the default."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return default_zone()


def current() -> tzinfo:
    zone = _shown.get()
    return zone if zone is not None else default_zone()


@contextmanager
def showing(zone: tzinfo) -> Iterator[None]:
    """Render times in `zone` inside this block."""
    token = _shown.set(zone)
    try:
        yield
    finally:
        _shown.reset(token)


def local(value: datetime) -> datetime:
    """A stored (UTC) time in the zone being shown."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(current())


def zone_name(value: datetime) -> str:
    """`UTC`, `CET`, `CEST`, ... of a localised time; the offset when the zone has no abbreviation."""
    name = value.tzname() or ""
    return name if name and not name.startswith(("+", "-")) else value.strftime("UTC%z")


__all__ = [
    "ENV",
    "check_zone",
    "current",
    "default_zone",
    "local",
    "resolve",
    "showing",
    "zone_name",
    "zone_of",
]

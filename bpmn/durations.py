"""ISO 8601 durations as BPMN properties carry them (`sla`, `duration`): PT4H, P1D, P1W, P1DT2H30M."""

from __future__ import annotations

import re
from datetime import timedelta
from functools import lru_cache

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+(?:\.\d+)?)Y)?(?:(?P<months>\d+(?:\.\d+)?)M)?(?:(?P<weeks>\d+(?:\.\d+)?)W)?"
    r"(?:(?P<days>\d+(?:\.\d+)?)D)?(?:T(?=\d)(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


@lru_cache(maxsize=1024)  # SLA properties are parsed on every task row and completion: a handful of texts
def parse_duration(text: str) -> timedelta:
    """Parse an ISO 8601 duration; a year counts 365 days and a month 30 (SLA arithmetic, not calendars)."""
    match = _DURATION.match(text.strip().upper())
    if not match:
        raise ValueError(f"not an ISO 8601 duration: {text!r} (examples: PT4H, P1D, P1DT12H)")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    days = parts.pop("years", 0) * 365 + parts.pop("months", 0) * 30 + parts.pop("days", 0)
    try:
        return timedelta(days=days, **parts)
    except OverflowError:
        raise ValueError(f"duration {text!r} is too long (at most 999,999,999 days)") from None


def format_duration(delta: timedelta) -> str:
    """A short human form: 2d 3h, 4h 05m, 12m 30s."""
    seconds = int(round(delta.total_seconds()))
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rem = divmod(seconds, 86400)
    hours, rem = divmod(rem, 3600)
    minutes, secs = divmod(rem, 60)
    if days:
        return f"{sign}{days}d {hours}h"
    if hours:
        return f"{sign}{hours}h {minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m {secs:02d}s"
    return f"{sign}{secs}s"

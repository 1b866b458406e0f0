"""When simulated operators work: `--hours 'mon-fri 08:00-17:00'` (UTC)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


@dataclass(frozen=True)
class WorkingHours:
    """When operators work, e.g. `mon-fri 08:00-17:00` (UTC). Work in progress pauses outside them."""

    days: frozenset[int]
    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        match = re.match(
            r"^\s*(?:([a-z]{3})(?:-([a-z]{3}))?\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$",
            text.lower(),
        )
        if not match or (match.group(1) and match.group(1) not in _DAYS):
            raise ValueError(
                f"working hours {text!r} should look like 'mon-fri 08:00-17:00' or '09:00-17:00'"
            )
        first, last = match.group(1), match.group(2) or match.group(1)
        if last and last not in _DAYS:
            raise ValueError(f"unknown day {last!r} in working hours {text!r}")
        if first:
            a, b = _DAYS.index(first), _DAYS.index(last)
            days = frozenset(range(a, b + 1)) if a <= b else frozenset([*range(a, 7), *range(0, b + 1)])
        else:
            days = frozenset(range(7))
        h1, m1, h2, m2 = (int(match.group(i)) for i in (3, 4, 5, 6))
        if not (h1 < 24 and h2 <= 24 and m1 < 60 and m2 < 60) or (h1, m1) >= (h2, m2):
            raise ValueError(f"working hours {text!r}: the day must open before it closes")
        closes = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        return cls(days, time(h1, m1), closes)

    def weekly_share(self) -> float:
        """The share of a week's hours in which operators work (their capacity against round the clock)."""
        opens = timedelta(hours=self.opens.hour, minutes=self.opens.minute)
        closes = timedelta(
            hours=self.closes.hour, minutes=self.closes.minute, seconds=self.closes.second,
            microseconds=self.closes.microsecond,
        )  # fmt: skip
        return len(self.days) * (closes - opens) / timedelta(days=7)

    def _window(self, day: datetime) -> tuple[datetime, datetime]:
        base = day.replace(hour=0, minute=0, second=0, microsecond=0)
        opens = base.replace(hour=self.opens.hour, minute=self.opens.minute)
        closes = base.replace(
            hour=self.closes.hour, minute=self.closes.minute, second=self.closes.second,
            microsecond=self.closes.microsecond,
        )  # fmt: skip
        return opens, closes

    def next_open(self, at: datetime) -> datetime:
        """`at` itself when operators work then, else the next opening."""
        day = at
        for _ in range(8):
            opens, closes = self._window(day)
            if day.weekday() in self.days:
                if at < opens:
                    return opens
                if at < closes:
                    return at
            day = (day + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
            at = day
        raise ValueError("working hours name no working day")

    def finish(self, start: datetime, work: timedelta) -> datetime:
        """When `work` of working time begun at `start` is done, pausing outside working hours."""
        at, left = self.next_open(start), work
        while True:
            _, closes = self._window(at)
            if at + left <= closes:
                return at + left
            left -= closes - at
            at = self.next_open(closes + timedelta(microseconds=1))

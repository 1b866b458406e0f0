"""What a simulation run is asked to do: the process, how many instances, the seed, arrivals, staffing,
working hours."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from .working_hours import WorkingHours

DEFAULT_START = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # a Monday morning
DEFAULT_DURATION = timedelta(minutes=15)
DEFAULT_ARRIVALS_PER_HOUR = 1.0
NO_LANE = "(no lane)"


@dataclass(frozen=True)
class Scenario:
    process: str
    instances: int
    seed: int = 1
    arrivals_per_hour: float | None = None  # None: the process's `arrivals` property, else 1/h
    staff: Mapping[str, int] = field(default_factory=dict)
    operators: Mapping[str, list[str]] = field(default_factory=dict)  # registered people per lane
    start: datetime = DEFAULT_START
    hours: WorkingHours | None = None
    default_duration: timedelta = DEFAULT_DURATION
    starter: str = "simulator"
    batch: bool = True  # one transaction for the run; False: one per operation, exactly as live use
    horizon: timedelta = timedelta(days=365)  # stop this long after the last arrival, whatever is left

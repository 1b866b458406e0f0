"""What a simulation run is asked to do: the process, how many instances, the seed, arrivals, staffing,
working hours."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..errors import InvalidInput
from ..facade import Handoff
from .distributions import parse_rate
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


def scenario_for(
    app: Handoff,
    process: str,
    instances: int,
    seed: int,
    arrivals: str | None,
    staff: Mapping[str, int],
    hours: str | None,
    start: datetime | None,
    *,
    actor: str | None,
) -> Scenario:
    """The scenario of `handoff simulate`: PROCESS is a deployed process id, or a BPMN file that is
    deployed first; the rate and the working hours as people write them (InvalidInput naming the option)."""
    try:
        rate = parse_rate(arrivals) if arrivals else None
    except ValueError as exc:
        raise InvalidInput(f"--arrivals: {exc}") from exc
    try:
        working = WorkingHours.parse(hours) if hours else None
    except ValueError as exc:
        raise InvalidInput(f"--hours: {exc}") from exc
    process_id = process
    if os.path.isfile(process):
        process_id = app.deploy([process], actor=actor)[0].process
    else:
        app.process_model(process)  # a clear error when it is not deployed
    options: dict[str, Any] = {
        "seed": seed,
        "arrivals_per_hour": rate,
        "staff": dict(staff),
        "hours": working,
    }
    if start is not None:
        options["start"] = start
    return Scenario(process_id, instances, **options)

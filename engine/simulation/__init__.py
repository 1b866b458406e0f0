"""`handoff simulate`: a discrete-event simulation that drives the real engine on a virtual clock.

- `scenario`: what a run is asked to do (process, instances, seed, arrivals, staffing, hours), and
  `scenario_for`, the one `handoff simulate` builds from its options;
- `distributions`: processing times and arrival rates; `working_hours`: when operators work;
- `runner`: the run itself, its simulated operators and the form data they enter;
- `results`: what a run found, as JSON and as text.
"""

from .distributions import Duration, parse_duration_spec, parse_rate
from .results import LaneFigures, SimulationResult
from .runner import ProgressCallback, Simulation, form_data, simulate
from .scenario import (
    DEFAULT_ARRIVALS_PER_HOUR,
    DEFAULT_DURATION,
    DEFAULT_START,
    NO_LANE,
    Scenario,
    scenario_for,
)
from .working_hours import WorkingHours

__all__ = [
    "DEFAULT_ARRIVALS_PER_HOUR",
    "DEFAULT_DURATION",
    "DEFAULT_START",
    "NO_LANE",
    "Duration",
    "LaneFigures",
    "ProgressCallback",
    "Scenario",
    "Simulation",
    "SimulationResult",
    "WorkingHours",
    "form_data",
    "parse_duration_spec",
    "parse_rate",
    "scenario_for",
    "simulate",
]

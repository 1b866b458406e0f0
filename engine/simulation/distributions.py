"""What a simulation draws from: processing times (`duration` properties: fixed or a distribution) and
arrival rates (docs/simulation.md lists the syntax)."""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from datetime import timedelta

from bpmn.durations import parse_duration

_DISTRIBUTION = re.compile(r"^\s*(\w+)\s*\((.*)\)\s*$")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|min|m|h|hour|d|day|w|week))?\s*$", re.IGNORECASE)
_RATE_UNITS = {"s": 3600, "sec": 3600, "min": 60, "m": 60, "h": 1, "hour": 1, "d": 1 / 24, "day": 1 / 24}
_RATE_UNITS |= {"w": 1 / 168, "week": 1 / 168}


@dataclass(frozen=True)
class Duration:
    """A processing time: fixed, or drawn from a distribution (docs/simulation.md lists the syntax)."""

    kind: str
    args: tuple[float, ...]
    text: str

    def sample(self, rng: random.Random) -> timedelta:
        a = self.args
        if self.kind == "fixed":
            seconds = a[0]
        elif self.kind == "exponential":
            seconds = rng.expovariate(1 / a[0])
        elif self.kind == "lognormal":
            seconds = a[0] * math.exp(rng.gauss(0, a[1]))
        elif self.kind == "normal":
            seconds = max(0.0, rng.gauss(a[0], a[1]))
        elif self.kind == "uniform":
            seconds = rng.uniform(a[0], a[1])
        else:  # triangular(low, mode, high)
            seconds = rng.triangular(a[0], a[2], a[1])
        return timedelta(seconds=seconds)

    @property
    def mean_seconds(self) -> float:
        a = self.args
        if self.kind == "lognormal":
            return a[0] * math.exp(a[1] ** 2 / 2)
        if self.kind in ("uniform",):
            return (a[0] + a[1]) / 2
        if self.kind == "triangular":
            return (a[0] + a[1] + a[2]) / 3
        return a[0]


def parse_duration_spec(text: str) -> Duration:
    """`PT20M`, `exponential(PT1H)`, `lognormal(PT20M, 0.5)`, `normal(PT1H, PT10M)`,
    `uniform(PT10M, PT30M)` or `triangular(PT10M, PT15M, PT40M)`; raises ValueError saying what is wrong."""
    match = _DISTRIBUTION.match(text)
    if not match:
        return Duration("fixed", (_seconds(text),), text)
    kind = match.group(1).lower()
    args = [a.strip() for a in match.group(2).split(",")]
    shapes = {"exponential": 1, "lognormal": 2, "normal": 2, "uniform": 2, "triangular": 3}
    if kind not in shapes:
        raise ValueError(f"unknown distribution {kind!r} in {text!r}; one of {', '.join(shapes)}")
    if len(args) != shapes[kind] and not (kind == "lognormal" and len(args) == 1):
        raise ValueError(f"{kind} takes {shapes[kind]} argument(s), got {len(args)} in {text!r}")
    if kind == "lognormal":
        sigma = float(args[1]) if len(args) > 1 else 0.5
        if sigma < 0:
            raise ValueError(f"lognormal sigma must not be negative in {text!r}")
        return Duration(kind, (_seconds(args[0]), sigma), text)
    values = tuple(_seconds(a) for a in args)
    if kind == "uniform" and values[0] > values[1]:
        raise ValueError(f"uniform needs low <= high in {text!r}")
    if kind == "triangular" and not values[0] <= values[1] <= values[2]:
        raise ValueError(f"triangular needs low <= mode <= high in {text!r}")
    return Duration(kind, values, text)


def _seconds(text: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise ValueError(f"{text.strip()!r} is not an ISO 8601 duration such as PT20M ({exc})") from None


def parse_rate(text: str) -> float:
    """Arrivals per hour from `12/h`, `300/d`, `0.5/min` or a bare number (per hour)."""
    match = _RATE.match(text)
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"arrival rate {text!r} is not a positive number per unit, such as 12/h or 300/d")
    return float(match.group(1)) * _RATE_UNITS[(match.group(2) or "h").lower()]

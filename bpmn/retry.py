"""Retry policies: how often, and how long apart, Handoff runs a failed task again (docs/incidents.md).

Set per element with extension properties (`camunda:properties` or `spiffworkflow:properties`), per
process with the same properties on the process element, or from Camunda's own
`camunda:failedJobRetryTimeCycle` (`R3/PT10M`). Without them, service tasks get three retries one, two
and four minutes apart (calls to other systems fail for a while and recover); everything else none (a
script that raised will raise again on the same data: a person must look).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from lxml import etree

from .durations import parse_duration
from .model import Element, Problem, ProcessModel
from .namespaces import BPMN_NS, CAMUNDA_NS

RETRIES = "retries"
BACKOFF = "retry_backoff"
FACTOR = "retry_backoff_factor"
PROPERTIES = (RETRIES, BACKOFF, FACTOR)
MAX_RETRIES = 100
DEFAULT_BACKOFF = timedelta(minutes=1)
DEFAULT_FACTOR = 2.0
RETRIED_BY_DEFAULT = {"serviceTask": 3}

_CYCLE = re.compile(r"^\s*R(?P<count>\d+)/(?P<duration>P[0-9A-Z.]+)\s*$", re.I)
_NS = {"bpmn": BPMN_NS, "camunda": CAMUNDA_NS}


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` automatic runs after the first failure; the n-th (from 0) waits backoff * factor**n."""

    retries: int
    backoff: timedelta
    factor: float
    source: str  # element, process or default

    def wait(self, retries_made: int) -> timedelta:
        return self.backoff * (self.factor**retries_made)


def problems(props: dict[str, str]) -> list[str]:
    """What is wrong with the retry properties of one element or process (empty when nothing is)."""
    found = []
    if RETRIES in props:
        text = props[RETRIES].strip()
        if not text.isdigit() or int(text) > MAX_RETRIES:
            found.append(
                f"property {RETRIES}={props[RETRIES]!r} must be a whole number from 0 to {MAX_RETRIES}"
            )
    if BACKOFF in props:
        try:
            parse_duration(
                props[BACKOFF]
            )  # PT0S is allowed: retry on the worker's next pass (Camunda's R5/PT0S)
        except ValueError as exc:
            found.append(f"property {BACKOFF}: {exc}")
    if FACTOR in props:
        try:
            factor = float(props[FACTOR])
        except ValueError:
            factor = 0.0
        if not 1.0 <= factor <= 10.0:
            found.append(f"property {FACTOR}={props[FACTOR]!r} must be a number from 1 to 10")
    return found


def policy(element: Element | None, process_properties: dict[str, str]) -> RetryPolicy:
    """The policy for a failure of `element` (None: a failure of the process itself, never retried)."""
    if element is None:
        return RetryPolicy(0, DEFAULT_BACKOFF, DEFAULT_FACTOR, "default")
    for source, props in (("element", element.properties), ("process", process_properties)):
        if any(name in props for name in PROPERTIES) and not problems(props):
            default = RETRIED_BY_DEFAULT.get(element.type, 0)
            return RetryPolicy(
                int(props[RETRIES]) if RETRIES in props else default,
                parse_duration(props[BACKOFF]) if BACKOFF in props else DEFAULT_BACKOFF,
                float(props[FACTOR]) if FACTOR in props else DEFAULT_FACTOR,
                source,
            )
    return RetryPolicy(RETRIED_BY_DEFAULT.get(element.type, 0), DEFAULT_BACKOFF, DEFAULT_FACTOR, "default")


def camunda_cycle(node: etree._Element) -> dict[str, str]:
    """Camunda's retry time cycle `R3/PT10M` as Handoff's properties (three retries ten minutes apart).

    Other forms Camunda accepts (a list of waits, an expression) are not read: the defaults apply.
    """
    found = node.find("bpmn:extensionElements/camunda:failedJobRetryTimeCycle", _NS)
    if found is None or not found.text:
        return {}
    match = _CYCLE.match(found.text)
    if match is None:
        return {}
    try:
        parse_duration(match.group("duration"))
    except ValueError:
        return {}
    return {RETRIES: match.group("count"), BACKOFF: match.group("duration").upper(), FACTOR: "1"}


def model_problems(model: ProcessModel, file_name: str, line: int | None) -> list[Problem]:
    """Bad retry properties of a process and its elements, as validation errors (`file:line: ...`)."""
    found = [
        Problem(file_name, line, f"process '{model.process_id}': {p}") for p in problems(model.properties)
    ]
    for element in model.elements.values():
        for p in problems(element.properties):
            found.append(Problem(file_name, element.line, f"{element.type} '{element.id}': {p}"))
    return found

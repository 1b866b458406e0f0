"""SpiffWorkflow's three parsers, with what their 3.2 release misreads put right.

Extension goes through SpiffWorkflow's own registry (`OVERRIDE_PARSER_CLASSES`), never a patch of its
modules: each dialect's start and end event parsers gain the event definitions they forget.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    EndEventParser,
    StartEventParser,
)
from SpiffWorkflow.bpmn.parser.util import full_tag
from SpiffWorkflow.bpmn.specs.defaults import EndEvent, StartEvent
from SpiffWorkflow.camunda.parser.CamundaParser import CamundaParser
from SpiffWorkflow.camunda.parser.event_parsers import CamundaEndEventParser, CamundaStartEventParser
from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser
from SpiffWorkflow.spiff.parser.event_parsers import SpiffEndEventParser, SpiffStartEventParser
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser

_START_DEFINITIONS = [
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TIMER_EVENT_XPATH,
    CONDITIONAL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
]


class _CodeStartEvents:
    """SpiffWorkflow 3.2 reads no error or escalation definition on a start event: an event subprocess
    started by an error or an escalation would then start with its process and run at once. Read them,
    so that its start event waits for the error or escalation, which SpiffWorkflow then routes to it."""

    def create_task(self: Any) -> Any:
        task = self._create_task(self.get_event_definition(_START_DEFINITIONS))
        self.spec.start.connect(task)
        return task


class _Start(_CodeStartEvents, StartEventParser):
    pass


class _CamundaStart(_CodeStartEvents, CamundaStartEventParser):
    pass


class _SpiffStart(_CodeStartEvents, SpiffStartEventParser):
    pass


_END_DEFINITIONS = [
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
]


class _SignalEndEvents:
    """SpiffWorkflow 3.2 reads every event definition of an end event but a signal's: a signal end event
    became a plain end event and its signal was never thrown. Read it; throwing it stays SpiffWorkflow's
    (an end event is a throwing event), routing it Handoff's (docs/messages.md)."""

    def create_task(self: Any) -> Any:
        task = self._create_task(self.get_event_definition(_END_DEFINITIONS))
        task.connect(self.spec.end)
        return task


class _End(_SignalEndEvents, EndEventParser):
    pass


class _CamundaEnd(_SignalEndEvents, CamundaEndEventParser):
    pass


class _SpiffEnd(_SignalEndEvents, SpiffEndEventParser):
    pass


class HandoffBpmnParser(BpmnDmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **BpmnDmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (_Start, StartEvent),
        full_tag("endEvent"): (_End, EndEvent),
    }


class HandoffCamundaParser(CamundaParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **CamundaParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (
            _CamundaStart,
            CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag("startEvent")][1],
        ),
        full_tag("endEvent"): (_CamundaEnd, CamundaParser.OVERRIDE_PARSER_CLASSES[full_tag("endEvent")][1]),
    }


class HandoffSpiffParser(SpiffBpmnParser):  # type: ignore[misc]
    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        full_tag("startEvent"): (
            _SpiffStart,
            SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("startEvent")][1],
        ),
        full_tag("endEvent"): (_SpiffEnd, SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag("endEvent")][1]),
    }


PARSERS: dict[str, type[BpmnDmnParser]] = {
    "camunda": HandoffCamundaParser,
    "spiff": HandoffSpiffParser,
    "bpmn": HandoffBpmnParser,
}


def settle_event_subprocesses(spec: Any) -> None:
    """Link the process's triggered event subprocesses (message, signal, error, escalation starts) to its
    start and end once, at parse time.

    SpiffWorkflow 3.2 makes that link when an event first triggers one, by connecting the spec's start
    task to it: on a spec shared by many instances (Handoff parses once per version) every later instance
    would then start that event subprocess with the process and wait for it forever. Linked here, with
    the start task not listing it among its outputs, the trigger adds only the triggered instance's task.
    """
    start, end = spec.start, spec.end
    for name in getattr(start, "trigger_specs", ()):
        task_spec = spec.task_specs.get(name)
        if task_spec is None:
            continue
        if start.name not in task_spec._inputs:
            task_spec._inputs.append(start.name)
        if end.name not in task_spec._outputs:
            task_spec.connect(end)

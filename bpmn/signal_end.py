"""Signal end events for SpiffWorkflow 3.2's parsers, which read every event definition of an end event
except a signal's: a `signalEventDefinition` there became a plain end event and the signal was never
thrown. The end event parser of each dialect gets the signal back through the parser's registry
(`OVERRIDE_PARSER_CLASSES`); throwing it stays SpiffWorkflow's (its end event is a throwing event)."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.parser.event_parsers import (
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
)
from SpiffWorkflow.bpmn.parser.util import full_tag

END_EVENT = full_tag("endEvent")
_XPATHS = [
    MESSAGE_EVENT_XPATH,
    SIGNAL_EVENT_XPATH,
    CANCEL_EVENT_XPATH,
    ERROR_EVENT_XPATH,
    ESCALATION_EVENT_XPATH,
    TERMINATION_EVENT_XPATH,
]


def with_signal_end_events(parser_class: type[Any]) -> type[Any]:
    """A subclass of a SpiffWorkflow parser whose end events also read a signal event definition."""
    task_parser, spec = (
        parser_class.OVERRIDE_PARSER_CLASSES.get(END_EVENT) or parser_class.PARSER_CLASSES[END_EVENT]
    )

    class EndEventParser(task_parser):  # type: ignore[misc, valid-type]
        def create_task(self) -> Any:
            task = self._create_task(self.get_event_definition(_XPATHS))
            task.connect(self.spec.end)
            return task

    overrides = {**parser_class.OVERRIDE_PARSER_CLASSES, END_EVENT: (EndEventParser, spec)}
    return type(parser_class.__name__, (parser_class,), {"OVERRIDE_PARSER_CLASSES": overrides})

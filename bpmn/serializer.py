"""The one place that builds SpiffWorkflow's serializer registries.

A process version's spec is serialized once, at deploy; an instance's state is serialized without it
(SpiffWorkflow would embed the whole spec in every instance) and restored against the cached spec.
"""

from __future__ import annotations

import base64
import json
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import DEFAULT_CONFIG
from SpiffWorkflow.bpmn.serializer.default.event_definition import MessageEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.task_spec import BpmnTaskSpecConverter, MultiInstanceTaskConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.serializer.migration.version_migration import MIGRATIONS
from SpiffWorkflow.bpmn.serializer.workflow import VERSION, BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs import defaults as bpmn_defaults
from SpiffWorkflow.bpmn.specs.event_definitions.message import (
    MessageEventDefinition as BpmnMessageEventDefinition,
)
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.camunda.serializer.config import CAMUNDA_CONFIG
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG

SERIALIZER_VERSION = VERSION
_CONFIGS = {"camunda": CAMUNDA_CONFIG, "spiff": SPIFF_CONFIG, "bpmn": DEFAULT_CONFIG}


class SpecFreeWorkflowConverter(BpmnWorkflowConverter):
    """Writes a workflow without its spec and restores it against specs passed in the dict.

    `to_dict` leaves out `spec` and `subprocess_specs`; `from_dict` expects the caller to have put the
    already restored spec objects under those keys, so a load costs no spec restore at all.
    """

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        spec = dct.pop("spec")
        subprocess_specs = dct.pop("subprocess_specs", {})
        if isinstance(spec, dict):  # a full serialization (SpiffWorkflow's own format)
            spec = self.registry.restore(spec)
            subprocess_specs = self.mapping_from_dict(subprocess_specs)
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _register_data_types(registry: Any) -> None:
    # Task data must survive a save; these are the types scripts commonly put there.
    registry.register(Decimal, lambda v: {"value": str(v)}, lambda v: Decimal(v["value"]))
    registry.register(date, lambda v: {"value": v.isoformat()}, lambda v: date.fromisoformat(v["value"]))
    registry.register(
        bytes,
        lambda v: {"value": base64.b64encode(v).decode("ascii")},
        lambda v: base64.b64decode(v["value"]),
    )
    registry.register(set, lambda v: {"value": sorted(v, key=repr)}, lambda v: set(v["value"]))


class WorkflowCodec:
    """Serialize specs and spec-free instance states of one dialect."""

    def __init__(self, dialect: str) -> None:
        config = dict(_CONFIGS[dialect])
        config[BpmnWorkflow] = SpecFreeWorkflowConverter
        # The parsers make specs their serializer configurations leave out: a plain serviceTask
        # (BpmnDmnParser, CamundaParser), and CamundaParser's default multi-instance tasks and message
        # definitions on tasks it does not override (sendTask, receiveTask, serviceTask...).
        if dialect != "spiff":
            config[bpmn_defaults.ServiceTask] = BpmnTaskSpecConverter
        registry = BpmnWorkflowSerializer.configure(config)
        if dialect == "camunda":
            MultiInstanceTaskConverter(
                bpmn_defaults.ParallelMultiInstanceTask, registry, "BpmnParallelMultiInstanceTask"
            )
            MultiInstanceTaskConverter(
                bpmn_defaults.SequentialMultiInstanceTask, registry, "BpmnSequentialMultiInstanceTask"
            )
            MessageEventDefinitionConverter(
                BpmnMessageEventDefinition, registry, "BpmnMessageEventDefinition"
            )
        _register_data_types(registry)
        self.dialect = dialect
        self.registry = registry
        self._serializer = BpmnWorkflowSerializer(registry)

    def spec_to_dict(self, spec: Any, subprocess_specs: dict[str, Any]) -> dict[str, Any]:
        return {
            "serializer_version": SERIALIZER_VERSION,
            "spec": self.registry.convert(spec),
            "subprocess_specs": {k: self.registry.convert(v) for k, v in subprocess_specs.items()},
        }

    def spec_from_dict(self, dct: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
        spec = self.registry.restore(dct["spec"])
        subs = {k: self.registry.restore(v) for k, v in dct["subprocess_specs"].items()}
        return spec, subs

    def dumps(self, workflow: BpmnWorkflow) -> str:
        """The instance state as JSON, without the spec."""
        self.registry._encoder_mode = True
        try:
            dct = self.registry.convert(workflow)
            dct["serializer_version"] = SERIALIZER_VERSION
            return json.dumps(dct, cls=self._serializer._encoder_cls, separators=(",", ":"))
        finally:
            self.registry._encoder_mode = False

    def loads(self, state: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
        dct = json.loads(state)
        version = dct.pop("serializer_version", SERIALIZER_VERSION)
        if version != SERIALIZER_VERSION and version in MIGRATIONS:
            MIGRATIONS[version](dct)
        dct["spec"] = spec
        dct["subprocess_specs"] = subprocess_specs
        workflow: BpmnWorkflow = self.registry.restore(dct)
        return workflow


@cache
def codec(dialect: str) -> WorkflowCodec:
    return WorkflowCodec(dialect)

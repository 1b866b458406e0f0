"""Process versions and workflows: restored specs (cached per version), new, loaded and saved workflows."""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from threading import Lock
from typing import Any

from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from bpmn import Element, ProcessModel
from bpmn.serializer import codec

from . import (
    lean_queries,  # noqa: F401 - installs the looping Task.is_descendant_of (engine/runtime/lean_queries.py)
    log_extras,  # noqa: F401 - installs the lazy log details (engine/runtime/log_extras.py)
    sandbox,
)
from .bounds import bound_multi_instance


@dataclass(frozen=True)
class LoadedDefinition:
    definition_id: int
    process_id: str
    version: int
    model: ProcessModel
    spec: Any
    subprocess_specs: dict[str, Any]
    trusted_scripts: bool = False  # deployed with --trusted-scripts: full Python (engine/sandbox.py)
    _forms: dict[str, list[dict[str, Any]]] = field(default_factory=dict, compare=False, repr=False)

    def form_json(self, element: Element) -> list[dict[str, Any]]:
        """The element's form as stored on its task rows, made once per version (rows only read it)."""
        form = self._forms.get(element.id)
        if form is None:
            form = self._forms[element.id] = [f.to_json() for f in element.form]
        return form


class DefinitionCache:
    """Restored specs by definition id: parsed once per version, shared by every instance of it."""

    def __init__(self, size: int = 64) -> None:
        self._items: OrderedDict[int, LoadedDefinition] = OrderedDict()
        self._size = size
        self._lock = Lock()

    def get(self, definition_id: int, load: Callable[[], tuple[Any, ...]]) -> LoadedDefinition:
        """`load` returns (process id, version, model JSON, spec JSON[, trusted scripts])."""
        with self._lock:
            hit = self._items.get(definition_id)
            if hit is not None:
                self._items.move_to_end(definition_id)
                return hit
        process_id, version, model_json, spec_json, *rest = load()
        model = ProcessModel.from_json(model_json)
        spec, subs = codec(model.dialect).spec_from_dict(json.loads(spec_json))
        bound_multi_instance([spec, *subs.values()])
        trusted = bool(rest[0]) if rest else False
        loaded = LoadedDefinition(definition_id, process_id, version, model, spec, subs, trusted)
        with self._lock:
            self._items[definition_id] = loaded
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return loaded


def script_engine(trusted: bool = False) -> PythonScriptEngine:
    """Scripts and expressions run sandboxed, unless the version was deployed with trusted scripts."""
    return PythonScriptEngine(environment=sandbox.environment(trusted))


def new_workflow(definition: LoadedDefinition, data: dict[str, Any]) -> BpmnWorkflow:
    engine = script_engine(definition.trusted_scripts)
    workflow = BpmnWorkflow(definition.spec, definition.subprocess_specs, script_engine=engine)
    if data:
        # The start task hands its data to every task after it.
        workflow.task_tree.data.update(data)
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(data)
    return workflow


def load_workflow(definition: LoadedDefinition, state: str) -> BpmnWorkflow:
    workflow = codec(definition.model.dialect).loads(state, definition.spec, definition.subprocess_specs)
    # not serialized: set again after every load
    workflow.script_engine = script_engine(definition.trusted_scripts)
    return workflow


def dump_workflow(definition: LoadedDefinition, workflow: BpmnWorkflow) -> str:
    return codec(definition.model.dialect).dumps(workflow)

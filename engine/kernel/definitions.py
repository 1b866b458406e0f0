"""Deployed process versions as the engine runs them, and the called versions of call activities.

A version's spec is restored once and cached (runtime.DefinitionCache). A call activity runs the latest
deployed version of its called process at the instance's start, unless it is pinned
(`bpmn.model.CallBinding`: Camunda's `calledElementBinding`/`calledElementVersion`, or the extension
property `calledVersion`). What an instance resolved is stored with it (`called`), so it keeps running
the same versions after later deployments, as it keeps its own; the definition it runs (its own spec
with the called ones) is cached too.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Sequence
from threading import Lock
from typing import TYPE_CHECKING, Any

import bpmn

from .. import runtime
from ..errors import DefinitionInvalid, NotFound
from ..lazy_modules import lazy_module

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from storage import repository as repo
    from storage.models import ProcessInstance

    from .work import Work
else:  # loaded on first use: every application has a Definitions, a read command never loads one
    repo = lazy_module("storage.repository")

_COMBINED_CACHE_SIZE = 64


def not_deployed(process_id: str, version: int | None) -> NotFound:
    what = f"process '{process_id}'" + (f" version {version}" if version is not None else "")
    return NotFound(f"{what} is not deployed (see 'handoff processes')")


class Definitions:
    def __init__(self) -> None:
        self._loaded: runtime.DefinitionCache | None = None
        self._combined: OrderedDict[tuple[int, tuple[tuple[str, int], ...]], runtime.LoadedDefinition] = (
            OrderedDict()
        )
        self._lock = Lock()
        # process id -> (definition id, version) of its latest version as last found; only a hint
        # (`ref`): every instance started from it is checked against the database when inserted.
        self._latest: dict[str, tuple[int, int]] = {}

    @property
    def loaded(self) -> runtime.DefinitionCache:
        """The restored specs, made on first use: a command that reads rows never loads SpiffWorkflow."""
        with self._lock:
            if self._loaded is None:
                self._loaded = runtime.DefinitionCache()
            return self._loaded

    def get(self, session: Session, definition_id: int) -> runtime.LoadedDefinition:
        """One deployed version, restored once."""
        return self.loaded.get(definition_id, lambda: repo.definition_fields(session, definition_id))

    def ref(self, work: Work, process_id: str, version: int | None) -> tuple[int, int] | None:
        """(definition id, version) of the latest (or the given) version; looked up once per transaction
        (deployments of a batch come before its starts: `deploy` forgets what it looked up).

        Where the work checks it (`Work.checks_latest`: a transaction of its own on PostgreSQL), the
        latest version is taken from what an earlier transaction of this process found, a round trip
        less on every start (issue 17). Another process may have deployed a newer version since, so
        the new instance's INSERT checks in its own statement that none is newer (`Work.insert`); if
        one is, the start raises LatestMoved, forgets, and is run again from the database's answer
        (engine/instances.py). A deploy this check misses committed after the INSERT began, as one
        after the lookup would without the cache.
        """
        refs = work.memo.refs
        key = (process_id, version)
        if key not in refs:
            known = self._latest.get(process_id) if version is None and work.checks_latest() else None
            if known is not None:
                work.memo.unchecked[process_id] = known
                refs[key] = known
            else:
                refs[key] = repo.latest_definition_ref(work.session, process_id, version)
                found = refs[key]
                if version is None and found is not None:
                    self._latest[process_id] = found
        return refs[key]

    def forget_latest(self, process_id: str) -> None:
        """A newer version was deployed (here or by another process): look the latest up again."""
        self._latest.pop(process_id, None)

    def for_instance(self, session: Session, instance: ProcessInstance) -> runtime.LoadedDefinition:
        """The definition an instance runs: its own version, with the called versions it resolved."""
        definition = self.get(session, instance.definition_id)
        called = getattr(instance, "called", None)
        if not called:
            return definition
        return self._combine(session, definition, {k: int(v) for k, v in called.items()})

    def check_calls(self, session: Session, processes: Sequence[bpmn.ParsedProcess]) -> None:
        """At deploy: every called process outside the deployed files must be deployed already (in the
        pinned version, if pinned): an instance could not start otherwise."""
        deploying = {p.model.process_id for p in processes}
        for parsed in processes:
            model = parsed.model
            for activity, call in model.calls.items():
                if not call.external or (call.process in deploying and call.version is None):
                    continue
                if repo.latest_definition_ref(session, call.process, call.version) is not None:
                    continue
                element = model.elements.get(activity)
                file_name = next((f.name for f in parsed.files if f.kind == "bpmn"), "")
                where = f"{file_name}:{element.line}" if element is not None and element.line else file_name
                what = f"version {call.version} of process" if call.version else "process"
                raise DefinitionInvalid(
                    f"{where}: callActivity '{activity}' calls {what} '{call.process}', which is not "
                    "deployed: deploy it first, or deploy both files together"
                )

    def resolve_calls(
        self, session: Session, definition: runtime.LoadedDefinition
    ) -> tuple[runtime.LoadedDefinition, dict[str, int] | None]:
        """At start: the definition with its late-bound called processes resolved, and the resolution to
        store with the instance (None when nothing is resolved late)."""
        resolved: dict[str, int] = {}
        pending = [definition]
        while pending:
            current = pending.pop()
            for activity, call in current.model.calls.items():
                if call.binding == "deployment" or call.process in resolved:
                    continue
                ref = repo.latest_definition_ref(session, call.process, call.version)
                if ref is None:
                    what = f"version {call.version} of process" if call.version else "process"
                    raise NotFound(
                        f"callActivity '{activity}' of process '{current.process_id}' calls {what} "
                        f"'{call.process}', which is not deployed (see 'handoff processes')"
                    )
                resolved[call.process] = ref[0]
                pending.append(self.get(session, ref[0]))
        if not resolved:
            return definition, None
        return self._combine(session, definition, resolved), resolved

    def _combine(
        self, session: Session, definition: runtime.LoadedDefinition, resolved: dict[str, int]
    ) -> runtime.LoadedDefinition:
        key = (definition.definition_id, tuple(sorted(resolved.items())))
        with self._lock:
            hit = self._combined.get(key)
            if hit is not None:
                self._combined.move_to_end(key)
                return hit
        subprocess_specs: dict[str, Any] = dict(definition.subprocess_specs)
        elements = dict(definition.model.elements)
        event_subprocesses = dict(definition.model.event_subprocesses)
        called = [self.get(session, def_id) for def_id in resolved.values()]
        for process_id, callee in zip(resolved, called, strict=True):
            subprocess_specs[process_id] = callee.spec
        for callee in called:
            for name, spec in callee.subprocess_specs.items():
                subprocess_specs.setdefault(name, spec)  # its own embedded subprocesses
            for element_id, element in callee.model.elements.items():
                elements.setdefault(element_id, element)
            for sub_id, interrupts in callee.model.event_subprocesses.items():
                event_subprocesses.setdefault(sub_id, interrupts)
        model = dataclasses.replace(
            definition.model, elements=elements, event_subprocesses=event_subprocesses
        )
        # One script engine runs the whole instance: full Python only if every version in it was
        # deployed trusted, else a designer's newer called version would run unsandboxed in a trusted caller.
        trusted = definition.trusted_scripts and all(callee.trusted_scripts for callee in called)
        combined = dataclasses.replace(
            definition, model=model, subprocess_specs=subprocess_specs, trusted_scripts=trusted
        )
        with self._lock:
            self._combined[key] = combined
            while len(self._combined) > _COMBINED_CACHE_SIZE:
                self._combined.popitem(last=False)
        return combined

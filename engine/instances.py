"""Process instances: start one (reading them: engine/instance_reads.py)."""

from __future__ import annotations

from typing import Any

from . import payload
from .input_limits import whole
from .kernel.advance import start as start_instance
from .kernel.app import App
from .kernel.definitions import not_deployed
from .kernel.failures import raise_failure
from .kernel.operation import Operation
from .kernel.units import Units
from .kernel.work import LatestMoved
from .views import InstanceView


def start(
    app: App,
    units: Units,
    process_id: str,
    *,
    data: dict[str, Any] | None = None,
    business_key: str | None = None,
    version: int | None = None,
    actor: str | None = None,
) -> InstanceView:
    """Start an instance and run it until it waits; a failing script leaves it in `error`."""
    app.ready()
    app.permissions.authorize(actor, "start")
    data = payload.check_payload(data or {}, f"the start of process {payload.show(process_id)}")
    payload.check_text(business_key, "the business key")
    if version is not None:
        whole(version, "version")
    try:
        op, view = _start(app, units, process_id, data, business_key, version, actor)
    except LatestMoved:
        # The remembered latest version is no longer the latest (kernel/definitions.py): nothing was
        # written; start again from the database's answer, which is then remembered. A service task the
        # first run reached is called again, as after any transaction that fails (docs/services.md).
        app.definitions.forget_latest(process_id)
        op, view = _start(app, units, process_id, data, business_key, version, actor)
    raise_failure(op, view)
    return view


def _start(
    app: App,
    units: Units,
    process_id: str,
    data: dict[str, Any],
    business_key: str | None,
    version: int | None,
    actor: str | None,
) -> tuple[Operation, InstanceView]:
    with units.operation() as work:
        op = Operation(work, app.clock(), actor)
        ref = app.definitions.ref(work, process_id, version)
        if ref is None:
            raise not_deployed(process_id, version)
        definition = app.definitions.get(work.session, ref[0])
        view = start_instance(app, op, definition, data, business_key)
    return op, view

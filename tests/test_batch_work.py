"""A batch of operations in one transaction (engine/kernel/batch.py, the simulator's) leaves what the same
operations leave one by one: the same task rows and the same history."""

from __future__ import annotations

from typing import Any

from conftest import DATA
from engine import Handoff


def _withdraw(ops: Any) -> int:
    """Start a request (two parallel tasks), then withdraw it: the terminate end event completes the
    instance while 'Approve request' is still open."""
    view = ops.start("bad_withdrawn", actor="sam")
    (withdraw,) = [t for t in view.tasks if t.name == "Withdraw request"]
    view = ops.complete(withdraw.id, data={}, actor="sam")
    assert view.status == "completed" and view.tasks == ()
    return int(view.id)


def test_a_batch_cancels_the_tasks_left_open_when_an_instance_ends_as_live_use_does(app: Handoff) -> None:
    app.deploy([DATA / "bad_withdrawn.bpmn"], actor="d")
    live = _withdraw(app)
    with app.batch() as batch:
        batched = _withdraw(batch)

    def closed(instance: int) -> list[tuple[str, str]]:
        return sorted((t.name, t.state) for t in app.tasks(instance_id=instance, include_closed=True))

    assert closed(live) == [("Approve request", "cancelled"), ("Withdraw request", "completed")]
    assert closed(batched) == closed(live)
    assert app.tasks(instance_id=batched) == []  # nothing left to work on a completed instance

    def timeline(instance: int) -> list[tuple[str, str | None]]:
        return [(e.kind, e.name) for e in app.show(instance).timeline]

    assert ("task_cancelled", "Approve request") in timeline(live)
    assert timeline(batched) == timeline(live)

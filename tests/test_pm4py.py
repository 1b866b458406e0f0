"""Handoff's XES export read by PM4Py (a test-only dependency: it is AGPL): same traces, same events, and
for a sequential process PM4Py's handover-of-work equals Handoff's handoffs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import DATA
from engine import Handoff

pm4py = pytest.importorskip("pm4py")


def open_task(app: Handoff, instance: int, element: str) -> int:
    (task,) = [t for t in app.tasks(instance_id=instance) if t.element == element]
    return task.id


def test_pm4py_reads_the_export_and_agrees_on_handovers(app: Handoff, clock, tmp_path: Path) -> None:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="designer")
    authors = ["ann", "bob", "cy"]
    instances = []
    for n, author in enumerate(authors):
        instance = app.start("article", actor=author).id
        instances.append(instance)
        steps = [("draft", author, {}), ("review", "ed", {"approved": "false"}), ("draft", authors[n - 1], {}),
                 ("review", "ed", {"approved": "true"}), ("publish", "pat", {})]  # fmt: skip
        for element, actor, data in steps:
            clock.advance(minutes=17)
            app.complete(open_task(app, instance, element), data=data, actor=actor)
    path = tmp_path / "log.xes"
    with path.open("wb") as out:
        written = app.export(out, "xes")

    log = pm4py.read_xes(str(path))
    assert log["case:concept:name"].nunique() == len(instances) == 3
    assert len(log) == written == 15  # never claimed: one `complete` per activity, 5 per instance

    # Handover of work (direct succession of resources within a case) is what Handoff calls a handoff
    # when every task is a human task done in sequence; PM4Py reports each pair's share of all.
    handoffs = Counter((h.from_actor, h.to_actor) for h in app.handoffs())
    total = sum(handoffs.values())
    assert total == 12
    network = pm4py.discover_handover_of_work_network(log)
    assert {pair: round(share * total) for pair, share in network.connections.items()} == dict(handoffs)

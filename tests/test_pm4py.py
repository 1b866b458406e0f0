"""Handoff's XES export read by PM4Py (a test-only dependency: it is AGPL): same traces, same events, and
for a sequential process PM4Py's handover-of-work equals Handoff's handoffs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from conftest import DATA, EXAMPLE, ROOT
from engine import Handoff
from engine.export import NO_PERSON

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


def doc_snippet() -> str:
    """The Python block of docs/export.md's "Loading the log", as a user would paste it."""
    text = (ROOT / "docs" / "export.md").read_text(encoding="utf-8")
    section = text[text.index("## Loading the log") :]
    start = section.index("```python\n") + len("```python\n")
    return section[start : section.index("```", start)]


def test_the_docs_pm4py_snippet_runs_on_a_real_export(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 14 item 19: the snippet crashed on the demo's export, whose automated activities (Assess
    risk, Close order) had no org:resource; every event has one now."""
    from engine.simulation import Scenario, simulate
    from storage import Database

    app = Handoff(Database(db_url))
    app.init()
    app.deploy([EXAMPLE], actor="designer")
    app.db.dispose()
    simulate(db_url, Scenario("order_to_cash", 30, seed=2))
    app = Handoff(Database(db_url))
    try:
        with (tmp_path / "orders.xes").open("wb") as out:
            written = app.export(out, "xes")
        with (tmp_path / "orders.csv").open("wb") as out:
            assert app.export(out, "csv") == written
        actors = {h.from_actor for h in app.handoffs()} | {h.to_actor for h in app.handoffs()}
    finally:
        app.db.dispose()

    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(doc_snippet(), "docs/export.md", "exec"), scope)  # noqa: S102 - our own documentation
    printed = capsys.readouterr().out
    assert f"30 cases, {written} events" in printed

    everyone = pm4py.discover_handover_of_work_network(scope["complete"])
    people = pm4py.discover_handover_of_work_network(scope["people"])
    from_csv = pm4py.discover_handover_of_work_network(scope["done"], resource_key="resource")
    # The engine's own steps are a resource of their own; without them, people hand to people.
    assert any(NO_PERSON in pair for pair in everyone.connections)
    assert people.connections and not any(NO_PERSON in pair for pair in people.connections)
    assert {name for pair in people.connections for name in pair} <= actors
    # The XES and the CSV route agree.
    assert set(from_csv.connections) == set(people.connections)
    assert from_csv.connections == pytest.approx(people.connections)

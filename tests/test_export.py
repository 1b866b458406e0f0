"""`handoff export`: XES (IEEE 1849) and CSV event logs, exact on a known history, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy import insert, select

from conftest import DATA, EXAMPLE
from engine import Handoff, InvalidInput
from engine.export import CSV_COLUMNS, NO_PERSON, XES_NS, export_events
from storage.export_queries import event_stream_statement
from storage.models import Event, ProcessInstance

X = f"{{{XES_NS}}}"
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hhmm: str, day: int = 0) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY + timedelta(days=day, hours=int(hours), minutes=int(minutes))


def stamp(hhmm: str, day: int = 0) -> str:
    return at(hhmm, day).isoformat(timespec="milliseconds")


def run_order(app: Handoff, clock, *, day: int, approver: str = "fay") -> int:
    """One order through every lane, low risk, with the approval claimed first; times are exact."""
    clock.set(at("09:00", day))
    view = app.start("order_to_cash", business_key=f"SO-{day}", actor="web")
    (register,) = view.tasks
    clock.set(at("09:10", day))
    view = app.complete(register.id, data={"customer": "ACME", "amount": "800"}, actor="ann")
    (approve,) = view.tasks
    clock.set(at("09:15", day))
    app.claim(approve.id, actor=approver)
    clock.set(at("09:20", day))
    view = app.complete(approve.id, data={"approved": True}, actor=approver)
    tasks = {t.name: t for t in view.tasks}
    clock.set(at("09:21", day))
    view = app.complete(tasks["Issue invoice"].id, data={}, actor=approver)
    clock.set(at("09:22", day))
    view = app.complete(tasks["Pick and pack"].id, data={}, actor="wes")
    (ship,) = view.tasks
    clock.set(at("09:23", day))
    view = app.complete(ship.id, data={"carrier": "ups", "tracking": "1Z"}, actor="wes")
    assert view.status == "completed"
    return view.id


# Computed by hand from run_order's clock: (activity, lifecycle, resource, group, timestamp).
EXPECTED = [
    ("Register order", "complete", "ann", "Customer Service", "09:10"),
    ("Assess risk", "complete", NO_PERSON, "Finance", "09:10"),
    ("Approve credit", "start", "fay", "Finance", "09:15"),
    ("Approve credit", "complete", "fay", "Finance", "09:20"),
    ("Issue invoice", "complete", "fay", "Finance", "09:21"),
    ("Pick and pack", "complete", "wes", "Warehouse", "09:22"),
    ("Ship order", "complete", "wes", "Warehouse", "09:23"),
    ("Close order", "complete", NO_PERSON, "Customer Service", "09:23"),
]
SCHEDULED = ["Register order", "Approve credit", "Issue invoice", "Pick and pack", "Ship order"]


def export(app: Handoff, fmt: str, path: Path | None = None, **options: Any) -> tuple[int, bytes]:
    out = io.BytesIO()
    count = export_events(app.db, out, fmt, **options)
    if path is not None:
        path.write_bytes(out.getvalue())
    return count, out.getvalue()


def attributes(element: Any) -> dict[str, str]:
    return {child.get("key"): child.get("value") for child in element if child.get("key")}


def traces(xes: bytes) -> list[tuple[dict[str, str], list[dict[str, str]]]]:
    root = etree.fromstring(xes)
    assert root.tag == f"{X}log"
    return [
        (attributes(trace), [attributes(event) for event in trace.iter(f"{X}event")])
        for trace in root.iter(f"{X}trace")
    ]


@pytest.fixture
def orders(app: Handoff, clock) -> list[int]:
    app.deploy([EXAMPLE], actor="designer")
    return [run_order(app, clock, day=0), run_order(app, clock, day=1, approver="fin")]


def test_xes_declares_the_standard_extensions_and_one_trace_per_instance(
    app: Handoff, orders: list[int], tmp_path: Path
) -> None:
    count, _ = export(app, "xes", tmp_path / "log.xes")
    root = etree.parse(str(tmp_path / "log.xes")).getroot()
    assert root.tag == f"{X}log" and root.get("xes.version") == "1849-2016"
    extensions = {e.get("prefix"): (e.get("name"), e.get("uri")) for e in root.findall(f"{X}extension")}
    assert extensions == {
        "concept": ("Concept", "http://www.xes-standard.org/concept.xesext"),
        "time": ("Time", "http://www.xes-standard.org/time.xesext"),
        "lifecycle": ("Lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
        "org": ("Organizational", "http://www.xes-standard.org/org.xesext"),
    }
    classifiers = {c.get("name"): c.get("keys") for c in root.findall(f"{X}classifier")}
    assert classifiers["Activity"] == "concept:name"
    assert classifiers["Activity and lifecycle"] == "concept:name lifecycle:transition"
    scopes = {g.get("scope"): set(attributes(g)) for g in root.findall(f"{X}global")}
    assert scopes == {
        "trace": {"concept:name"},
        "event": {"concept:name", "time:timestamp", "lifecycle:transition"},
    }
    # The schema's order: extensions, globals, classifiers, log attributes, traces.
    order = [etree.QName(child).localname for child in root]
    assert order == sorted(order, key=["extension", "global", "classifier", "string", "trace"].index)

    logged = traces(etree.tostring(root))
    assert [t["concept:name"] for t, _ in logged] == [str(i) for i in orders]
    assert count == sum(len(events) for _, events in logged) == 2 * len(EXPECTED)
    first, events = logged[0]
    assert (first["process"], first["process_version"]) == ("order_to_cash", "1")
    assert [
        (
            e["concept:name"],
            e["lifecycle:transition"],
            e.get("org:resource"),
            e.get("org:group"),
            e["time:timestamp"],
        )
        for e in events
    ] == [(name, life, who, lane, stamp(hhmm)) for name, life, who, lane, hhmm in EXPECTED]
    approve = [e for e in events if e["concept:name"] == "Approve credit"]
    assert approve[0]["concept:instance"] == approve[1]["concept:instance"]  # start and complete pair up
    assert {e["element_type"] for e in events} == {"userTask", "scriptTask"}
    second_resources = {e.get("org:resource") for e in logged[1][1]}
    assert second_resources == {"ann", "fin", "wes", NO_PERSON}
    assert logged[1][1][0]["time:timestamp"] == stamp("09:10", day=1)


def test_xes_with_schedule_adds_task_ready(app: Handoff, orders: list[int]) -> None:
    count, xes = export(app, "xes", schedule=True)
    _, events = traces(xes)[0]
    assert count == 2 * (len(EXPECTED) + len(SCHEDULED))
    scheduled = [
        (e["concept:name"], e["time:timestamp"]) for e in events if e["lifecycle:transition"] == "schedule"
    ]
    assert scheduled == [
        ("Register order", stamp("09:00")),
        ("Approve credit", stamp("09:10")),
        ("Issue invoice", stamp("09:20")),
        ("Pick and pack", stamp("09:20")),
        ("Ship order", stamp("09:22")),
    ]
    assert all(e["org:resource"] == NO_PERSON for e in events if e["lifecycle:transition"] == "schedule")


def test_csv_has_the_documented_columns_and_the_same_events(
    app: Handoff, orders: list[int], tmp_path: Path
) -> None:
    count, _ = export(app, "csv", tmp_path / "log.csv")
    xes_count, _ = export(app, "xes")
    with open(tmp_path / "log.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert count == xes_count == len(rows) == 2 * len(EXPECTED)
    first = [r for r in rows if r["case_id"] == str(orders[0])]
    assert [
        (r["activity"], r["lifecycle"], r["resource"] or None, r["group"] or None, r["timestamp"])
        for r in first
    ] == [(name, life, who, lane, stamp(hhmm)) for name, life, who, lane, hhmm in EXPECTED]
    assert first[2] | {"event_id": "", "activity_instance": ""} == {
        "case_id": str(orders[0]),
        "process": "order_to_cash",
        "version": "1",
        "event_id": "",
        "activity": "Approve credit",
        "element": "Task_ApproveCredit",
        "element_type": "userTask",
        "lifecycle": "start",
        "kind": "task_claimed",
        "timestamp": stamp("09:15"),
        "resource": "fay",
        "group": "Finance",
        "activity_instance": "",
        "comments": "",  # none on this task (tests/test_comments.py exports some)
        "case_comments": "",
    }
    ids = [int(r["event_id"]) for r in rows]
    assert ids == sorted(ids)

    text = io.StringIO(newline="")
    assert export_events(app.db, text, "csv") == count
    assert text.getvalue().encode() == (tmp_path / "log.csv").read_bytes()


def test_filters_by_process_and_time(app: Handoff, orders: list[int], clock) -> None:
    app.deploy([DATA / "no_lanes.bpmn"], actor="designer")
    clock.set(at("12:00", day=2))
    other = app.start("two_steps", actor="ann").id
    (first,) = app.show(other).tasks
    app.complete(first.id, data={}, actor="ann")

    _, everything = export(app, "xes")
    assert [t["process"] for t, _ in traces(everything)] == ["order_to_cash"] * 2 + ["two_steps"]
    count, only = export(app, "xes", process_id="two_steps")
    ((trace, events),) = traces(only)
    assert trace["concept:name"] == str(other) and count == len(events) == 2
    assert [(e["concept:name"], e.get("org:resource")) for e in events] == [
        ("First", "ann"),
        ("Calculate", NO_PERSON),
    ]
    assert all("org:group" not in e for e in events)  # no lanes: no group

    count, day_one = export(
        app, "csv", process_id="order_to_cash", since=at("00:00", 1), until=at("00:00", 2)
    )
    rows = list(csv.DictReader(io.StringIO(day_one.decode())))
    assert count == len(rows) == len(EXPECTED) and {r["case_id"] for r in rows} == {str(orders[1])}
    # since is inclusive, until exclusive: the 09:15 claim and the 09:20 completions only.
    count, window = export(app, "xes", since=at("09:15"), until=at("09:21"))
    ((trace, events),) = traces(window)
    assert trace["concept:name"] == str(orders[0])
    assert [(e["concept:name"], e["lifecycle:transition"]) for e in events] == [
        ("Approve credit", "start"),
        ("Approve credit", "complete"),
    ]
    count, nothing = export(app, "xes", process_id="no_such_process")
    assert count == 0 and traces(nothing) == []


def test_values_are_escaped(app: Handoff, clock) -> None:
    app.deploy([DATA / "no_lanes.bpmn"], actor="designer")
    instance = app.start("two_steps", actor="ann").id
    (first,) = app.show(instance).tasks
    # Control characters never reach history: acting user names with them are refused (hostile input).
    awkward = 'O\'Neil & <Sons> "Ltd"'
    app.complete(first.id, data={}, actor=awkward)
    _, xes = export(app, "xes")
    ((_, events),) = traces(xes)
    assert events[0]["org:resource"] == awkward
    _, data = export(app, "csv")
    row = next(csv.DictReader(io.StringIO(data.decode(), newline="")))
    assert row["resource"] == awkward


def test_unknown_format_is_refused(app: Handoff) -> None:
    with pytest.raises(InvalidInput, match="xes, csv"):
        export_events(app.db, io.BytesIO(), "json")


class Sink:
    """A file that keeps nothing, so that only the exporter's own memory is measured."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


def test_export_streams_in_bounded_memory(app: Handoff, orders: list[int]) -> None:
    options = event_stream_statement().get_execution_options()
    assert options["stream_results"] is True and options["yield_per"] == 1000

    # 100 instances x 80 exported events, copied from a real one: materialising them takes far more.
    instance_table, event_table = ProcessInstance.__table__, Event.__table__
    copies, repeats = 100, 10
    with app.db.unit_of_work() as session:
        template = session.execute(select(instance_table).where(instance_table.c.id == orders[0])).one()
        instance = dict(template._mapping)
        history = [
            {c: v for c, v in r._mapping.items() if c != "id"}
            for r in session.execute(select(event_table).where(event_table.c.instance_id == orders[0]))
        ]
        first_id = max(orders) + 1
        session.execute(insert(instance_table), [instance | {"id": first_id + n} for n in range(copies)])
        rows = [
            e | {"instance_id": first_id + n, "actor": e["actor"] and f"{e['actor']}-{n}-{k}"}
            for n in range(copies)
            for k in range(repeats)
            for e in history
        ]
        session.execute(insert(event_table), rows)
        del rows
    expected = 2 * len(EXPECTED) + copies * repeats * len(EXPECTED)

    tracemalloc.start()
    try:
        with app.db.reader() as session:
            everything = session.execute(event_stream_statement()).all()
        _, materialised = tracemalloc.get_traced_memory()
        del everything
    finally:
        tracemalloc.stop()
    assert materialised > 8_000_000  # what loading the history would cost: the bound below is far under it

    sink = Sink()
    tracemalloc.start()
    try:
        count = export_events(app.db, sink, "xes")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == expected
    assert sink.size > 3_000_000
    assert peak < 2_000_000, f"peak {peak} bytes"

    sink = Sink()
    tracemalloc.start()
    try:
        count = export_events(app.db, sink, "csv")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == expected and peak < 2_000_000, f"peak {peak} bytes"


def test_cli_export(app: Handoff, orders: list[int], db_url: str, tmp_path: Path) -> None:
    """`handoff export`: skipped until the command is in cli.py."""
    from click.testing import CliRunner

    from cli import main

    if "export" not in main.commands:
        pytest.skip("no `handoff export` command in cli.py yet")

    def handoff(*args: str, db: str = db_url) -> Any:
        return CliRunner().invoke(main, ["--db", db, *args])

    (tmp_path / "out").mkdir()
    out = tmp_path / "out" / "log.xes"
    result = handoff("--json", "export", "--format", "xes", "--process", "order_to_cash", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"format": "xes", "out": str(out), "events": 2 * len(EXPECTED)}
    assert len(traces(out.read_bytes())) == 2
    result = handoff("export", "--format", "csv", "--since", "2026-03-03", "--out", "-")
    assert result.exit_code == 0, result.output
    assert len(list(csv.DictReader(io.StringIO(result.output)))) == len(EXPECTED)
    result = handoff("export", "--format", "csv", "--since", "soon", "--out", str(out))
    assert result.exit_code == 2
    result = handoff("export", "--format", "csv", "--out", str(out), db=f"sqlite:///{tmp_path / 'new.db'}")
    assert result.exit_code == 7 and "handoff init" in result.output
    # Failed exports leave the earlier file untouched and no partial file behind.
    assert len(traces(out.read_bytes())) == 2 and [p.name for p in out.parent.iterdir()] == ["log.xes"]

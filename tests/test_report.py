"""`handoff report`'s figures on a fixture history, checked against values worked out by hand.

Four instances driven through the engine on a manual clock (times below); every expected figure is
computed in this file from those times (nearest-rank percentiles: rank ceil(p * n / 100) of the sorted
values), not read back from the code under test. Runs on SQLite and PostgreSQL (conftest `db_url`).

I1 worked_example, Mon 2026-03-02, reserve completed last; I2 worked_example, Wed 2026-03-04, started
08:00, create_po completed last; I3 the rework loop, Tue 2026-03-10 (lane SLA Author PT20M, global
PT25M); I4 worked_example started Tue 2026-03-10 13:00, submit completed unclaimed at 13:20, left open (status running).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import pytest

from conftest import DATA
from engine import Handoff
from engine.report import Report, build_report

D1 = datetime(2026, 3, 2, tzinfo=UTC)
D2 = datetime(2026, 3, 4, tzinfo=UTC)
D3 = datetime(2026, 3, 10, tzinfo=UTC)


def at(day: datetime, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return day.replace(hour=int(hours), minute=int(minutes))


def open_task(app: Handoff, instance: int, element: str) -> int:
    (task,) = [t for t in app.tasks(instance_id=instance) if t.element == element]
    return task.id


def step(app: Handoff, clock, day: datetime, hhmm: str, action: str, instance: int, element: str, actor: str, **kw) -> None:  # fmt: skip
    clock.set(at(day, hhmm))
    getattr(app, action)(open_task(app, instance, element), actor=actor, **kw)


def worked_example(app: Handoff, clock, day: datetime, *, po_last: bool, start: str = "09:00") -> int:
    clock.set(at(day, start))
    i = app.start("worked_example", actor="ann").id
    step(app, clock, day, "09:05", "claim", i, "submit", "ann")
    step(app, clock, day, "09:20", "complete", i, "submit", "ann")
    step(app, clock, day, "10:50", "claim", i, "approve", "bob")
    step(app, clock, day, "11:00", "complete", i, "approve", "bob")
    if not po_last:
        step(app, clock, day, "11:30", "complete", i, "create_po", "cy")
        step(app, clock, day, "12:00", "claim", i, "reserve", "di")
        step(app, clock, day, "12:10", "complete", i, "reserve", "di")
    else:
        step(app, clock, day, "11:20", "claim", i, "reserve", "di")
        step(app, clock, day, "11:40", "complete", i, "reserve", "di")
        step(app, clock, day, "12:10", "complete", i, "create_po", "cy")
    step(app, clock, day, "12:40", "complete", i, "check", "di")
    step(app, clock, day, "13:00", "claim", i, "ship", "cy")
    step(app, clock, day, "13:30", "complete", i, "ship", "cy")
    return i


def rework(app: Handoff, clock, day: datetime) -> int:
    clock.set(at(day, "09:00"))
    i = app.start("article", actor="ann").id
    step(app, clock, day, "09:10", "claim", i, "draft", "ann")
    step(app, clock, day, "09:30", "complete", i, "draft", "ann")
    step(app, clock, day, "11:00", "claim", i, "review", "ed")
    step(app, clock, day, "11:15", "complete", i, "review", "ed", data={"approved": "false"})
    step(app, clock, day, "11:45", "complete", i, "draft", "ann")
    step(app, clock, day, "11:50", "claim", i, "review", "ed")
    step(app, clock, day, "12:00", "complete", i, "review", "ed", data={"approved": "true"})
    step(app, clock, day, "12:30", "complete", i, "publish", "pat")
    return i


@pytest.fixture
def history(app: Handoff, clock) -> Handoff:
    app.deploy([DATA / "worked_example.bpmn", DATA / "rework_pingpong.bpmn"], actor="designer")
    worked_example(app, clock, D1, po_last=False)
    worked_example(app, clock, D2, po_last=True, start="08:00")
    # SLAs set only now: the worked examples above breach nothing but approve's BPMN sla (PT1H).
    app.set_sla("PT20M", lane="Author", actor="admin")
    app.set_sla("PT25M", actor="admin")
    rework(app, clock, D3)
    clock.set(at(D3, "13:00"))
    i4 = app.start("worked_example", actor="ann").id
    step(app, clock, D3, "13:20", "complete", i4, "submit", "ann")
    return app


def report(app: Handoff, **kw) -> Report:
    with app.db.reader() as session:
        return build_report(session, **kw)


def nearest_rank(values: list[float], p: int) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) / 100) - 1]


# The hand-worked history: per completed human task (lane, element, wait s, processing s, instance done).
TASKS = [
    # I1: ready/claimed/completed 09:00/09:05/09:20, 09:20/10:50/11:00, 11:00/-/11:30, 11:00/12:00/12:10,
    # 12:10/-/12:40, 12:40/13:00/13:30
    ("Requester", "submit", 300, 900, True),
    ("Management", "approve", 5400, 600, True),
    ("Purchasing", "create_po", 1800, 0, True),
    ("Finance", "reserve", 3600, 600, True),
    ("Finance", "check", 1800, 0, True),
    ("Purchasing", "ship", 1200, 1800, True),
    # I2: started 08:00; reserve 11:00/11:20/11:40, create_po 11:00/-/12:10, check 12:10/-/12:40
    ("Requester", "submit", 3900, 900, True),
    ("Management", "approve", 5400, 600, True),
    ("Finance", "reserve", 1200, 1200, True),
    ("Purchasing", "create_po", 4200, 0, True),
    ("Finance", "check", 1800, 0, True),
    ("Purchasing", "ship", 1200, 1800, True),
    # I3: draft 09:00/09:10/09:30, review 09:30/11:00/11:15, draft 11:15/-/11:45, review 11:45/11:50/12:00,
    # publish 12:00/-/12:30
    ("Author", "draft", 600, 1200, True),
    ("Editor", "review", 5400, 900, True),
    ("Author", "draft", 1800, 0, True),
    ("Editor", "review", 300, 600, True),
    ("Editor", "publish", 1800, 0, True),
    # I4: submit 13:00/-/13:20 (the instance is still running)
    ("Requester", "submit", 1200, 0, False),
]
CYCLES = [16200.0, 19800.0, 12600.0]  # I1 09:00-13:30, I2 08:00-13:30, I3 09:00-12:30


def test_report_figures_equal_hand_computed_values(history: Handoff) -> None:
    r = report(history)
    doc = r.to_json()
    json.dumps(doc)  # plain JSON all through
    for key in ("processes", "lanes", "handoff_matrix", "crossings", "delays", "bottlenecks", "window",
                "instances", "cycle_time", "throughput", "flow_efficiency", "rework", "slowest_pairs"):  # fmt: skip
        assert key in doc

    assert doc["instances"] == {"total": 4, "by_status": {"completed": 3, "running": 1}}
    by_process = {p["process"]: p for p in doc["processes"]}
    assert by_process["worked_example"]["by_status"] == {"completed": 2, "running": 1}
    assert by_process["article"]["instances"] == 1

    # Cycle time, nearest rank over [12600, 16200, 19800]: p50 rank 2, p90 and p99 rank 3.
    ct = doc["cycle_time"]
    assert ct["count"] == 3
    assert ct["p50"] == 16200.0 == nearest_rank(CYCLES, 50)
    assert ct["p90"] == 19800.0 == nearest_rank(CYCLES, 90)
    assert ct["p99"] == 19800.0
    assert ct["mean"] == pytest.approx(16200.0)
    assert by_process["worked_example"]["cycle_time"]["p50"] == 16200.0  # [16200, 19800]: rank 1

    # Throughput: I1 and I2 completed in ISO week 10 (from Mon 2026-03-02), I3 in week 11.
    assert doc["throughput"] == [
        {"week": "2026-W10", "week_start": "2026-03-02", "completed": 2},
        {"week": "2026-W11", "week_start": "2026-03-09", "completed": 1},
    ]

    # Lanes: the hand-worked values, and the same derived from TASKS with nearest rank.
    lanes = {ln["lane"]: ln for ln in doc["lanes"]}
    expected = {
        # lane: (done, wait p50, wait p90, proc p50, proc p90, waits in completed instances)
        "Requester": (3, 1200, 3900, 900, 900, 4200),
        "Management": (2, 5400, 5400, 600, 600, 10800),
        "Purchasing": (4, 1200, 4200, 0, 1800, 8400),
        "Finance": (4, 1800, 3600, 0, 1200, 8400),
        "Author": (2, 600, 1800, 0, 1200, 2400),
        "Editor": (3, 1800, 5400, 600, 900, 7500),
    }
    assert set(lanes) == set(expected)
    total_cycle = sum(CYCLES)  # 48600
    for lane, (done, w50, w90, p50, p90, waited) in expected.items():
        got = lanes[lane]
        waits = [t[2] for t in TASKS if t[0] == lane]
        procs = [t[3] for t in TASKS if t[0] == lane]
        assert (w50, w90, p50, p90) == (
            nearest_rank(waits, 50), nearest_rank(waits, 90), nearest_rank(procs, 50), nearest_rank(procs, 90)
        )  # fmt: skip
        assert got["tasks_done"] == done
        assert (got["waiting"]["p50"], got["waiting"]["p90"]) == (w50, w90), lane
        assert (got["processing"]["p50"], got["processing"]["p90"]) == (p50, p90), lane
        assert got["waiting_share"] == pytest.approx(waited / total_cycle), lane

    # Flow efficiency: processing in completed instances 3900 + 4500 + 2700 over 48600.
    assert doc["flow_efficiency"] == pytest.approx(11100 / 48600)

    # Handoff matrix: count and nearest-rank median latency per lane pair.
    matrix = {(h["from_lane"], h["to_lane"]): (h["count"], h["latency_p50"]) for h in doc["handoff_matrix"]}
    assert matrix == {
        ("Author", "Editor"): (2, 300.0),  # [300, 5400]: rank 1
        ("Editor", "Author"): (1, 1800.0),
        ("Editor", "Editor"): (1, 1800.0),
        ("Finance", "Purchasing"): (2, 1200.0),
        ("Management", "Finance"): (2, 1200.0),  # [1200, 3600]
        ("Management", "Purchasing"): (2, 1800.0),  # [1800, 4200]
        ("Purchasing", "Finance"): (1, 1800.0),
        ("Requester", "Management"): (2, 5400.0),
    }
    # Slowest actor pairs: by median latency, then mean, then names.
    assert [
        (p["from_actor"], p["to_actor"], p["latency_p50"], p["latency_mean"]) for p in doc["slowest_pairs"]
    ] == [
        ("ann", "bob", 5400.0, 5400.0),
        ("bob", "cy", 1800.0, 3000.0),
        ("cy", "di", 1800.0, 1800.0),
        ("ed", "ann", 1800.0, 1800.0),
        ("ed", "pat", 1800.0, 1800.0),
        ("bob", "di", 1200.0, 2400.0),
        ("di", "cy", 1200.0, 1200.0),
        ("ann", "ed", 300.0, 2850.0),
    ]

    # Crossings: I1 4, I2 5 (book -> ship a ping-pong), I3 3 (two ping-pongs), I4 1 (submit -> approve).
    cr = doc["crossings"]
    assert (cr["instances"], cr["total"], cr["per_instance_max"]) == (4, 13, 5)
    assert cr["per_instance_mean"] == pytest.approx(13 / 4)
    assert [(p["element"], p["count"]) for p in cr["ping_pong"]] == [("draft", 1), ("review", 1), ("ship", 1)]
    # Rework: draft and review ran twice in I3.
    assert [(x["element"], x["count"]) for x in doc["rework"]] == [("draft", 1), ("review", 1)]

    # SLA breaches: approve (I1, I2; BPMN PT1H), review (BPMN PT1H), draft#2 (Author PT20M), publish
    # (global PT25M); I3's cycle time (process PT3H). I4's submit waited 20m < 25m.
    dl = doc["delays"]
    assert (dl["task_waits"], dl["cycle_times"]) == (5, 1)
    assert {(d["lane"], d["count"], d["over_threshold_seconds"]) for d in dl["by_lane"]} == {
        ("Management", 2, 3600.0),
        ("Editor", 2, 1800.0 + 300.0),
        ("Author", 1, 600.0),
    }
    assert {(d["element"], d["count"]) for d in dl["by_activity"]} == {
        ("approve", 2), ("draft", 1), ("publish", 1), ("review", 1)
    }  # fmt: skip

    # Bottlenecks: total waiting per activity, largest first (ties by element id).
    assert [(b["element"], b["waiting_total"]) for b in doc["bottlenecks"]] == [
        ("approve", 10800.0),
        ("create_po", 6000.0),
        ("review", 5700.0),
        ("submit", 5400.0),
        ("reserve", 4800.0),
        ("check", 3600.0),
        ("draft", 2400.0),
        ("ship", 2400.0),
        ("publish", 1800.0),
    ]

    text = r.text()
    assert max(len(line) for line in text.splitlines()) <= 100
    for needle in ("Lanes", "Management", "Bottlenecks", "ann", "2026-W10"):
        assert needle in text


def test_window_and_process_filters(history: Handoff) -> None:
    # Window on instance start: since Tue 2026-03-10 keeps I3 and I4, with all their records.
    doc = report(history, since=D3).to_json()
    assert doc["instances"] == {"total": 2, "by_status": {"completed": 1, "running": 1}}
    assert doc["cycle_time"]["p50"] == 12600.0
    assert doc["crossings"]["total"] == 4
    assert doc["window"]["since"] == "2026-03-10T00:00:00Z"
    # until is exclusive: [D1, D2 08:00) holds I1 only, [D1, D2 08:01) I1 and I2.
    assert report(history, since=D1, until=at(D2, "08:00")).to_json()["instances"]["total"] == 1
    assert report(history, since=D1, until=at(D2, "08:01")).to_json()["instances"]["total"] == 2

    doc = report(history, process_id="article").to_json()
    assert doc["instances"]["total"] == 1
    assert [ln["lane"] for ln in doc["lanes"]] == ["Author", "Editor"]
    assert doc["flow_efficiency"] == pytest.approx(2700 / 12600)
    assert {(h["from_lane"], h["to_lane"]) for h in doc["handoff_matrix"]} == {
        ("Author", "Editor"), ("Editor", "Author"), ("Editor", "Editor")
    }  # fmt: skip


def test_empty_report(app: Handoff) -> None:
    doc = report(app).to_json()
    assert doc["instances"] == {"total": 0, "by_status": {}}
    assert doc["cycle_time"]["p50"] is None
    assert doc["flow_efficiency"] is None
    assert doc["crossings"]["per_instance_mean"] is None
    assert doc["lanes"] == [] and doc["handoff_matrix"] == [] and doc["bottlenecks"] == []
    assert "Instances: 0" in report(app).text()

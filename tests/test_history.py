"""History and the built-in hooks: DESIGN §3's worked example and a rework loop, with values worked out by hand.

Every expected value below is written out from the scenario's clock times and actors, not read back
from the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from conftest import DATA
from engine import Handoff

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def at(hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return DAY.replace(hour=int(hours), minute=int(minutes))


def open_task(app: Handoff, instance: int, element: str) -> int:
    (task,) = [t for t in app.tasks(instance_id=instance) if t.element == element]
    return task.id


def events_of(app: Handoff, instance: int) -> list[tuple[str, str, str | None, str | None]]:
    return [(e.at.strftime("%H:%M"), e.kind, e.element, e.actor) for e in app.show(instance).timeline]


def handoffs_of(app: Handoff, instance: int) -> set[tuple]:
    return {
        (h.from_element, h.to_element, h.from_actor, h.to_actor, h.from_lane, h.to_lane,
         h.from_at.strftime("%H:%M"), h.to_at.strftime("%H:%M"), h.latency_seconds)
        for h in app.handoffs(instance_id=instance)
    }  # fmt: skip


def crossings_of(app: Handoff, instance: int) -> set[tuple]:
    return {
        (c.from_element, c.to_element, c.from_lane, c.to_lane, c.at.strftime("%H:%M"), c.ping_pong)
        for c in app.crossings(instance_id=instance)
    }


def delays_of(app: Handoff, instance: int) -> set[tuple]:
    return {
        (d.kind, d.element, d.lane, d.waited_seconds, d.threshold_seconds, d.threshold_source, d.still_open)
        for d in app.delays(instance_id=instance)
    }


def run_worked_example(app: Handoff, clock, *, po_last: bool) -> int:
    """DESIGN §3: submit (ann) -> approve (bob) -> create_po (cy) || reserve (di) -> check (di) -> book -> ship (cy)."""
    app.deploy([DATA / "worked_example.bpmn"], actor="designer")
    clock.set(at("09:00"))
    instance = app.start("worked_example", actor="ann").id
    clock.set(at("09:05"))
    app.claim(open_task(app, instance, "submit"), actor="ann")
    clock.set(at("09:20"))
    app.complete(open_task(app, instance, "submit"), actor="ann")
    clock.set(at("10:50"))
    app.claim(open_task(app, instance, "approve"), actor="bob")
    clock.set(at("11:00"))
    app.complete(open_task(app, instance, "approve"), actor="bob")
    if not po_last:
        clock.set(at("11:30"))
        app.complete(open_task(app, instance, "create_po"), actor="cy")
        clock.set(at("12:00"))
        app.claim(open_task(app, instance, "reserve"), actor="di")
        clock.set(at("12:10"))
        app.complete(open_task(app, instance, "reserve"), actor="di")
    else:
        clock.set(at("11:20"))
        app.claim(open_task(app, instance, "reserve"), actor="di")
        clock.set(at("11:40"))
        app.complete(open_task(app, instance, "reserve"), actor="di")
        clock.set(at("12:10"))
        app.complete(open_task(app, instance, "create_po"), actor="cy")
    clock.set(at("12:40"))
    app.complete(open_task(app, instance, "check"), actor="di")
    clock.set(at("13:00"))
    app.claim(open_task(app, instance, "ship"), actor="cy")
    clock.set(at("13:30"))
    view = app.complete(open_task(app, instance, "ship"), actor="cy")
    assert view.status == "completed"
    return instance


def test_worked_example_reserve_completed_last(app: Handoff, clock) -> None:
    instance = run_worked_example(app, clock, po_last=False)
    events = events_of(app, instance)
    split = [e for e in events if e[0] == "11:00" and e[1] == "task_ready"]
    assert sorted(split) == [
        ("11:00", "task_ready", "create_po", None),
        ("11:00", "task_ready", "reserve", None),
    ]
    assert [e for e in events if e not in split] == [
        ("09:00", "instance_started", None, "ann"),
        ("09:00", "task_ready", "submit", None),
        ("09:05", "task_claimed", "submit", "ann"),
        ("09:20", "task_completed", "submit", "ann"),
        ("09:20", "task_ready", "approve", None),
        ("10:50", "task_claimed", "approve", "bob"),
        ("11:00", "task_completed", "approve", "bob"),
        ("11:30", "task_completed", "create_po", "cy"),
        ("12:00", "task_claimed", "reserve", "di"),
        ("12:10", "task_completed", "reserve", "di"),
        ("12:10", "task_ready", "check", None),
        ("12:40", "task_completed", "check", "di"),
        ("12:40", "task_completed", "book", None),
        ("12:40", "task_ready", "ship", None),
        ("13:00", "task_claimed", "ship", "cy"),
        ("13:30", "task_completed", "ship", "cy"),
        ("13:30", "instance_completed", None, None),
    ]
    # Handoffs ann->bob, bob->cy, bob->di, di->cy (check -> ship, past the script); check is not one:
    # its human predecessor after the join is reserve (completed last), done by di as well.
    assert handoffs_of(app, instance) == {
        ("submit", "approve", "ann", "bob", "Requester", "Management", "09:20", "10:50", 5400.0),
        ("approve", "create_po", "bob", "cy", "Management", "Purchasing", "11:00", "11:30", 1800.0),
        ("approve", "reserve", "bob", "di", "Management", "Finance", "11:00", "12:00", 3600.0),
        ("check", "ship", "di", "cy", "Finance", "Purchasing", "12:40", "13:00", 1200.0),
    }
    assert crossings_of(app, instance) == {
        ("submit", "approve", "Requester", "Management", "09:20", False),
        ("approve", "create_po", "Management", "Purchasing", "11:00", False),
        ("approve", "reserve", "Management", "Finance", "11:00", False),
        ("book", "ship", "Finance", "Purchasing", "12:40", False),
    }
    # approve waited 09:20 -> 10:50 against its BPMN sla PT1H; nothing else has a threshold.
    assert delays_of(app, instance) == {("task_wait", "approve", "Management", 5400.0, 3600.0, "bpmn", False)}


def test_worked_example_create_po_completed_last(app: Handoff, clock) -> None:
    instance = run_worked_example(app, clock, po_last=True)
    # Now check's predecessor is create_po (cy): a handoff cy->di and a crossing Purchasing->Finance;
    # ship then goes straight back to Purchasing, a ping-pong.
    assert handoffs_of(app, instance) == {
        ("submit", "approve", "ann", "bob", "Requester", "Management", "09:20", "10:50", 5400.0),
        ("approve", "reserve", "bob", "di", "Management", "Finance", "11:00", "11:20", 1200.0),
        ("approve", "create_po", "bob", "cy", "Management", "Purchasing", "11:00", "12:10", 4200.0),
        ("create_po", "check", "cy", "di", "Purchasing", "Finance", "12:10", "12:40", 1800.0),
        ("check", "ship", "di", "cy", "Finance", "Purchasing", "12:40", "13:00", 1200.0),
    }
    assert crossings_of(app, instance) == {
        ("submit", "approve", "Requester", "Management", "09:20", False),
        ("approve", "create_po", "Management", "Purchasing", "11:00", False),
        ("approve", "reserve", "Management", "Finance", "11:00", False),
        ("create_po", "check", "Purchasing", "Finance", "12:10", False),
        ("book", "ship", "Finance", "Purchasing", "12:40", True),
    }


def test_rework_loop_ping_pongs_between_two_lanes(app: Handoff, clock) -> None:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="designer")
    app.set_sla("PT20M", lane="Author", actor="admin")
    app.set_sla("PT25M", actor="admin")
    clock.set(at("09:00"))
    instance = app.start("article", actor="ann").id
    clock.set(at("09:10"))
    app.claim(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("09:30"))
    app.complete(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("11:00"))
    app.claim(open_task(app, instance, "review"), actor="ed")
    clock.set(at("11:15"))
    app.complete(open_task(app, instance, "review"), data={"approved": "false"}, actor="ed")
    clock.set(at("11:45"))
    app.complete(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("11:50"))
    app.claim(open_task(app, instance, "review"), actor="ed")
    clock.set(at("12:00"))
    app.complete(open_task(app, instance, "review"), data={"approved": "true"}, actor="ed")
    clock.set(at("12:30"))
    assert app.complete(open_task(app, instance, "publish"), actor="pat").status == "completed"

    assert events_of(app, instance) == [
        ("09:00", "instance_started", None, "ann"),
        ("09:00", "task_ready", "draft", None),
        ("09:10", "task_claimed", "draft", "ann"),
        ("09:30", "task_completed", "draft", "ann"),
        ("09:30", "task_ready", "review", None),
        ("11:00", "task_claimed", "review", "ed"),
        ("11:15", "task_completed", "review", "ed"),
        ("11:15", "task_ready", "draft", None),
        ("11:45", "task_completed", "draft", "ann"),
        ("11:45", "task_ready", "review", None),
        ("11:50", "task_claimed", "review", "ed"),
        ("12:00", "task_completed", "review", "ed"),
        ("12:00", "task_ready", "publish", None),
        ("12:30", "task_completed", "publish", "pat"),
        ("12:30", "instance_completed", None, None),
    ]
    assert handoffs_of(app, instance) == {
        ("draft", "review", "ann", "ed", "Author", "Editor", "09:30", "11:00", 5400.0),
        ("review", "draft", "ed", "ann", "Editor", "Author", "11:15", "11:45", 1800.0),
        ("draft", "review", "ann", "ed", "Author", "Editor", "11:45", "11:50", 300.0),
        ("review", "publish", "ed", "pat", "Editor", "Editor", "12:00", "12:30", 1800.0),
    }
    assert crossings_of(app, instance) == {
        ("draft", "review", "Author", "Editor", "09:30", False),
        ("review", "draft", "Editor", "Author", "11:15", True),
        ("draft", "review", "Author", "Editor", "11:45", True),
    }
    # review#1 waited 1h30 (BPMN sla PT1H); draft#2 30m (Author lane PT20M); publish 30m (global PT25M);
    # the instance ran 3h30 (process sla PT3H). draft#1 (10m) and review#2 (5m) were in time.
    assert delays_of(app, instance) == {
        ("task_wait", "review", "Editor", 5400.0, 3600.0, "bpmn", False),
        ("task_wait", "draft", "Author", 1800.0, 1200.0, "lane", False),
        ("task_wait", "publish", "Editor", 1800.0, 1500.0, "default", False),
        ("cycle_time", None, None, 12600.0, 10800.0, "bpmn", False),
    }


def test_worker_detects_overdue_open_tasks_once(app: Handoff, clock) -> None:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="designer")
    app.set_sla("PT20M", lane="Author", actor="admin")
    clock.set(at("09:00"))
    instance = app.start("article", actor="ann").id
    clock.set(at("09:15"))
    assert app.detect_delays() == 0
    clock.set(at("09:30"))
    assert app.detect_delays() == 1  # draft: 30m waiting, still open
    assert delays_of(app, instance) == {("task_wait", "draft", "Author", 1800.0, 1200.0, "lane", True)}
    clock.set(at("09:50"))
    assert app.detect_delays() == 0  # one record per task
    app.complete(open_task(app, instance, "draft"), actor="ann")
    assert len(app.delays(instance_id=instance)) == 1


def test_instances_without_lanes_record_handoffs_but_no_crossings(app: Handoff, clock) -> None:
    app.deploy([DATA / "lint_findings.bpmn"], actor="designer")  # one unnamed lane; tasks without lanes
    instance = app.start("lint_me", actor="ann").id
    app.complete(open_task(app, instance, "in_lane"), actor="bob")
    assert app.crossings(instance_id=instance) == []


@pytest.mark.parametrize("lane", ["Editor", "Author"])
def test_record_filters(app: Handoff, clock, lane: str) -> None:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="designer")
    clock.set(at("09:00"))
    instance = app.start("article", actor="ann").id
    app.complete(open_task(app, instance, "draft"), actor="ann")
    clock.set(at("10:00"))
    app.complete(open_task(app, instance, "review"), data={"approved": "false"}, actor="ed")
    assert len(app.crossings(lanes=[lane])) == 2
    assert app.crossings(process_id="nope") == []
    assert len(app.crossings(since=at("09:30"))) == 1
    assert len(app.handoffs(until=at("09:30"))) == 0


def drive(app: Handoff, clock, instance: int, steps: list[tuple[str, str, str]]) -> None:
    """(time, element, actor): complete each open task at that time, never claimed."""
    for hhmm, element, actor in steps:
        clock.set(at(hhmm))
        app.complete(open_task(app, instance, element), actor=actor)


def test_embedded_subprocess_takes_its_shape_lane_and_hands_on_from_inside(app: Handoff, clock) -> None:
    app.deploy([DATA / "subprocess_lanes.bpmn"], actor="designer")
    clock.set(at("09:00"))
    instance = app.start("intake", actor="ann").id
    drive(
        app,
        clock,
        instance,
        [
            ("09:10", "receive", "ann"),
            ("09:40", "investigate", "bob"),
            ("10:00", "decide", "cy"),
            ("10:30", "answer", "ann"),
        ],
    )
    assert app.show(instance).status == "completed"
    assert handoffs_of(app, instance) == {
        ("receive", "investigate", "ann", "bob", "Front office", "Back office", "09:10", "09:40", 1800.0),
        ("investigate", "decide", "bob", "cy", "Back office", "Back office", "09:40", "10:00", 1200.0),
        # Work left the subprocess from its last task: cy handed it back to ann.
        ("decide", "answer", "cy", "ann", "Back office", "Front office", "10:00", "10:30", 1800.0),
    }
    assert crossings_of(app, instance) == {
        ("receive", "investigate", "Front office", "Back office", "09:10", False),
        ("assess", "answer", "Back office", "Front office", "10:00", True),
    }


def test_call_activity_tasks_keep_the_called_process_lanes(app: Handoff, clock) -> None:
    deployed = app.deploy([DATA / "call_main.bpmn", DATA / "call_fulfil.bpmn"], actor="designer")
    assert {d.process for d in deployed} == {"sale", "fulfilment"}
    clock.set(at("09:00"))
    instance = app.start("sale", actor="ann").id
    drive(
        app,
        clock,
        instance,
        [("09:05", "take_order", "ann"), ("09:50", "pick", "wes"), ("10:20", "confirm", "ann")],
    )
    assert app.show(instance).status == "completed"
    assert handoffs_of(app, instance) == {
        ("take_order", "pick", "ann", "wes", "Sales", "Warehouse", "09:05", "09:50", 2700.0),
        ("pick", "confirm", "wes", "ann", "Warehouse", "Sales", "09:50", "10:20", 1800.0),
    }
    # The call activity sits in Sales: work comes back to Sales when it completes, from its last task.
    assert crossings_of(app, instance) == {
        ("take_order", "pick", "Sales", "Warehouse", "09:05", False),
        ("pick", "fulfil", "Warehouse", "Sales", "09:50", True),
    }


def test_no_lanes_at_all_handoffs_past_a_script_but_no_crossings(app: Handoff, clock) -> None:
    app.deploy([DATA / "no_lanes.bpmn"], actor="designer")
    clock.set(at("09:00"))
    instance = app.start("two_steps", actor="ann").id
    drive(app, clock, instance, [("09:30", "first", "ann"), ("11:00", "second", "bob")])
    assert handoffs_of(app, instance) == {
        ("first", "second", "ann", "bob", None, None, "09:30", "11:00", 5400.0)
    }
    assert crossings_of(app, instance) == set()
    script = [e for e in app.show(instance).timeline if e.element == "calc"]
    assert [(e.kind, e.data) for e in script] == [("task_completed", {"changed": {"total": 2}})]

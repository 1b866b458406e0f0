"""Invariants that must hold in any database Handoff wrote, whatever happened to the writers: used
after crashes (tests/test_crash.py) and races (tests/test_operators_race.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from engine import Handoff, runtime
from storage import Database
from storage.models import Event, HumanTask, ProcessInstance


def check_history_matches_state(db_url: str, journal: Path | None = None) -> tuple[int, int]:
    """Every instance loads, no step is half written, history matches state, and every operation the
    journal names (a line written after the operation returned) is in the database.

    Returns (instances, events), for the figures.
    """
    db = Database(db_url)
    app = Handoff(db)
    try:
        with db.reader() as session:
            instances = session.query(ProcessInstance).all()
            tasks = session.query(HumanTask).all()
            events = session.query(Event).all()
            by_instance: dict[int, list[Event]] = {}
            for event in events:
                by_instance.setdefault(event.instance_id, []).append(event)
            rows_of: dict[int, list[HumanTask]] = {}
            for row in tasks:
                rows_of.setdefault(row.instance_id, []).append(row)
            for instance in instances:
                kinds = Counter(e.kind for e in by_instance.get(instance.id, []))
                where = f"instance {instance.id} ({instance.status})"
                assert kinds["instance_started"] == 1, where
                assert kinds["instance_completed"] == (1 if instance.status == "completed" else 0), where
                rows = rows_of.get(instance.id, [])
                open_rows = {r.spiff_task_id for r in rows if r.state in ("ready", "claimed")}
                if instance.status == "completed":
                    assert not open_rows, where
                else:
                    # The stored workflow loads, and its ready human tasks are exactly the open rows.
                    definition = app.app.definitions.for_instance(session, instance)
                    workflow = runtime.load_workflow(definition, instance.state)
                    ready = {str(t.id) for t in runtime.ready_human_tasks(workflow)}
                    assert ready == open_rows, where
                    assert instance.next_due_at == runtime.next_timer_due(workflow), where
                ready_events = Counter(
                    e.task_id for e in by_instance.get(instance.id, []) if e.kind == "task_ready"
                )
                done_events = Counter(
                    e.task_id
                    for e in by_instance.get(instance.id, [])
                    if e.kind == "task_completed" and e.task_id
                )
                for row in rows:
                    assert ready_events[row.id] == 1, f"{where}: task {row.id}"
                    assert done_events[row.id] == (1 if row.state == "completed" else 0), (
                        f"{where}: task {row.id}"
                    )
                assert kinds["timer_fired"] <= 1, where  # each process here has at most one timer
            known_tasks = {t.id: t for t in tasks}
            known_instances = {i.id for i in instances}
            for line in journal.read_text().splitlines() if journal is not None and journal.exists() else []:
                what, number, *actor = line.split()
                if what == "started":
                    assert int(number) in known_instances, line
                elif what == "completed":
                    assert known_tasks[int(number)].state == "completed", line
                    if actor:  # no lost update: the one who was told "done" is the one on record
                        assert known_tasks[int(number)].completed_by == actor[0], line
                elif what == "claimed":
                    assert known_tasks[int(number)].state in ("claimed", "completed", "cancelled"), line
            return len(instances), len(events)
    finally:
        db.dispose()

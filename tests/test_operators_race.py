"""Concurrent operators (issue 7): 8 processes claim and complete the tasks of the same instances on
PostgreSQL for a bounded time. No update is lost (whoever was told "completed" is the one on record, and
each task is completed once), every refusal is a Conflict, never another error or a traceback, and the
final state matches history (tests/invariants.py)."""

from __future__ import annotations

import multiprocessing
import os
import random
import time
from collections import Counter
from pathlib import Path

from invariants import check_history_matches_state

from conftest import EXAMPLE
from engine import Conflict, Handoff
from engine.simulation import form_data
from storage import Database

PROCESSES = 8
SECONDS = float(os.environ.get("HANDOFF_RACE_SECONDS", "20"))
INSTANCES = 12


def _operator(db_url: str, number: int, journal: str, until: float) -> None:
    rng = random.Random(number)
    actor = f"op{number}"
    app = Handoff(Database(db_url))
    with open(journal, "w", buffering=1) as log:
        while time.time() < until:
            open_tasks = app.tasks(actor=actor)
            if len(open_tasks) < 4:  # keep the queue short, so the operators keep colliding
                log.write(f"started {app.start('order_to_cash', actor=actor).id}\n")
                continue
            # Everyone goes for the oldest tasks: the most contention a queue can produce.
            task = rng.choice(open_tasks[:6])
            try:
                if rng.random() < 0.5:
                    app.claim(task.id, actor=actor)
                    log.write(f"claimed {task.id} {actor}\n")
                app.complete(task.id, data=form_data(task, {}, rng), actor=actor)
                log.write(f"completed {task.id} {actor}\n")
            except Conflict:
                log.write(f"conflict {task.id}\n")
            except Exception as exc:  # noqa: BLE001 - anything but a Conflict fails the test
                log.write(f"error {task.id} {type(exc).__name__}: {' '.join(str(exc).split())}\n")


def test_eight_operators_on_the_same_instances_lose_no_update(pg_url: str, tmp_path: Path) -> None:
    app = Handoff(Database(pg_url))
    app.init()
    app.deploy([EXAMPLE], actor="dan")
    for n in range(INSTANCES):
        app.start("order_to_cash", business_key=f"race-{n}", actor="dan")
    app.db.dispose()
    context = multiprocessing.get_context("fork")
    until = time.time() + SECONDS
    journals = [tmp_path / f"op{i}.txt" for i in range(PROCESSES)]
    operators = [
        context.Process(target=_operator, args=(pg_url, i, str(journals[i]), until)) for i in range(PROCESSES)
    ]
    for p in operators:
        p.start()
    for p in operators:
        p.join(timeout=SECONDS + 120)
        assert p.exitcode == 0
    lines = [line for j in journals for line in j.read_text().splitlines()]
    outcomes = Counter(line.split()[0] for line in lines)
    errors = [line for line in lines if line.startswith("error")]
    assert not errors, errors[:5]
    completed = Counter(line.split()[1] for line in lines if line.startswith("completed"))
    assert completed and max(completed.values()) == 1  # no task completed twice
    assert outcomes["conflict"] > 0  # they did collide, and each collision was a Conflict
    combined = tmp_path / "all.txt"
    combined.write_text(
        "\n".join(line for line in lines if line.split()[0] in ("completed", "claimed", "started")) + "\n"
    )
    instances, events = check_history_matches_state(pg_url, combined)
    print(
        f"{PROCESSES} operators for {SECONDS:.0f} s on {instances} instances: "
        f"{outcomes['completed']} completions, {outcomes['claimed']} claims, "
        f"{outcomes['conflict']} conflicts, 0 other errors, {events} events"
    )

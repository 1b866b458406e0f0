"""`handoff cleanup` at scale (issue 16): on a SQLite database of 100,000 finished instances it runs in
bounded memory (its peak RSS, measured as a child process, is that of a run on 2,000), and the report
afterwards agrees with the report of a database built with only the instances kept."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from clone_history import clone
from test_cleanup import report_of, run_article

from conftest import DATA, handoff_command
from engine import Handoff, ManualClock
from storage import Database

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=400)
RECENT = NOW - timedelta(days=10)


def every_minute(start: datetime) -> Iterator[datetime]:
    at = start
    while True:
        yield at
        at += timedelta(minutes=1)


def build(path: Path, old: int, kept: int) -> str:
    """A template article made by the engine (old, so it goes too), `old` copies of it ended long ago
    and `kept` recent ones."""
    url = f"sqlite:///{path}"
    clock = ManualClock(OLD - timedelta(days=1))
    app = Handoff(Database(url), clock=clock)
    try:
        app.init()
        app.deploy([DATA / "rework_pingpong.bpmn"], actor="root")
        template = run_article(app, clock, OLD - timedelta(days=1), 1, "T", finish=True)
        clone(app.db, template, every_minute(OLD), old, key="O")
        clone(app.db, template, every_minute(RECENT), kept, key="K")
    finally:
        app.db.dispose()
    return url


@pytest.mark.slow
def test_cleanup_of_100000_instances_runs_in_bounded_memory(tmp_path: Path) -> None:
    small = build(tmp_path / "small.db", 1_000, 1_000)
    big = build(tmp_path / "big.db", 90_000, 10_000)
    small_rss, small_out = run_measured(small)
    big_rss, big_out = run_measured(big)
    assert small_out.startswith("deleted 1001 finished instance(s)")
    assert big_out.startswith("deleted 90001 finished instance(s)")
    print(
        f"peak RSS of cleanup: {small_rss / 1024:.1f} MiB for 1,001 instances, {big_rss / 1024:.1f} MiB for 90,001"
    )
    # Bounded: 90 times the instances, and the peak is that of the small run (batches of 500 ids).
    assert big_rss < small_rss * 1.2, (small_rss, big_rss)

    twin = build(tmp_path / "twin.db", 0, 10_000)
    twin_rss, twin_out = run_measured(twin)
    assert twin_out.startswith("deleted 1 finished instance(s)")  # its template
    apps = [Handoff(Database(url)) for url in (big, twin)]
    try:
        assert report_of(apps[0]) == report_of(apps[1])
    finally:
        for app in apps:
            app.db.dispose()
    assert twin_rss


def run_measured(url: str) -> tuple[int, str]:
    """`handoff cleanup --older-than P30D` in a child process: (its peak RSS in KiB, its output)."""
    proc = subprocess.Popen(
        [*handoff_command(), "--db", url, "cleanup", "--older-than", "P30D"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    out = proc.stdout.read()
    err = proc.stderr.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    assert proc.returncode == 0, err
    return usage.ru_maxrss, out

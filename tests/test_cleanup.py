"""Retiring finished instances (issue 16 item 5), on SQLite and PostgreSQL: `cleanup` deletes the
completed and terminated instances past their time to live (the process's camunda:historyTimeToLive,
or --older-than) with every row about them, can export their event log first, and leaves a database
whose report is the report of the instances kept: the same as one built with only those."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from conftest import DATA, table_rows
from engine import Forbidden, Handoff, InvalidInput, ManualClock
from storage import Database

OLD = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
RECENT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
XES = "{http://www.xes-standard.org/}"


def article_with_ttl(folder: Path, days: int = 30) -> Path:
    path = folder / "article.bpmn"
    source = (DATA / "rework_pingpong.bpmn").read_text()
    path.write_text(source.replace('name="Article"', f'name="Article" camunda:historyTimeToLive="{days}"'))
    return path


def run_article(
    app: Handoff, clock: ManualClock, start: datetime, rounds: int, key: str, *, finish: bool
) -> int:
    """One article: `rounds` reviews sent back before approval; published (completed) if `finish`."""
    clock.set(start)
    instance = app.start("article", business_key=key, actor="ann").id

    def do(element: str, who: str, minutes: int, data: dict[str, Any] | None = None) -> None:
        clock.advance(minutes=minutes)
        [task] = [t for t in app.tasks(instance_id=instance, actor="root") if t.element == element]
        app.claim(task.id, actor=who)
        clock.advance(minutes=minutes // 2 + 1)
        app.complete(task.id, data=data or {}, actor=who)

    for n in range(rounds + 1):
        do("draft", "ann", 20 + 7 * n)
        do("review", "ed", 45 + 11 * rounds, {"approved": "true" if n == rounds else "false"})
    if finish:
        do("publish", "pat", 30 + 5 * rounds)
    return instance


def build(db_url: str, folder: Path, *, with_old: bool) -> tuple[Handoff, ManualClock, dict[str, list[int]]]:
    """The same history, with or without the old instances (ended two months before NOW)."""
    clock = ManualClock(OLD)
    app = Handoff(Database(db_url), clock=clock)
    app.init()
    app.deploy([article_with_ttl(folder)], actor="root")
    made: dict[str, list[int]] = {"old": [], "kept": []}
    if with_old:
        for i in range(5):
            made["old"].append(run_article(app, clock, OLD + timedelta(days=i), i % 3, f"O{i}", finish=True))
        ended = run_article(app, clock, OLD + timedelta(days=6), 1, "OT", finish=False)
        app.terminate(ended, reason="withdrawn", actor="root")
        made["old"].append(ended)
    for i in range(4):
        made["kept"].append(
            run_article(app, clock, RECENT + timedelta(hours=5 * i), (i + 1) % 3, f"K{i}", finish=True)
        )
    made["kept"].append(run_article(app, clock, RECENT + timedelta(days=2), 2, "KR", finish=False))
    clock.set(RECENT + timedelta(days=3))
    made["kept"].append(app.start("article", business_key="KS", actor="ann").id)
    ended = run_article(app, clock, RECENT + timedelta(days=4), 0, "KT", finish=False)
    app.terminate(ended, reason="withdrawn", actor="root")
    made["kept"].append(ended)
    clock.set(NOW)
    return app, clock, made


def report_of(app: Handoff) -> dict[str, Any]:
    """The report, with the instance it names by business key (the two databases number them apart)."""
    report = app.report(actor="root").to_json()
    for process in report["processes"]:
        longest = process.get("longest")
        if longest:
            longest["instance"] = app.show(longest["instance"], actor="root").business_key
    return report


def test_cleanup_keeps_the_report_of_the_instances_kept(db_url: str, tmp_path: Path) -> None:
    app, _clock, made = build(db_url, tmp_path, with_old=True)
    before = table_rows(db_url)
    planned = app.cleanup(dry_run=True, actor="root").to_json()
    assert planned["instances"] == 6 and planned["rows"]["event"] > 0 and planned["rows"]["handoff"] > 0
    assert planned["cutoffs"] == {"article v1": (NOW - timedelta(days=30)).isoformat()}
    assert table_rows(db_url) == before

    exported = tmp_path / "retired.xes"
    done = app.cleanup(export_to=exported, batch=4, actor="root")
    assert (done.instances, done.batches) == (6, 2) and done.exported
    traces = ET.parse(exported).getroot().findall(f"{XES}trace")
    names = {
        int(s.get("value"))
        for t in traces
        for s in t.findall(f"{XES}string")
        if s.get("key") == "concept:name"
    }
    assert names == set(made["old"])
    kept = {i.id for i in app.instances(limit=1000, actor="root")}
    assert kept == set(made["kept"])
    after = table_rows(db_url)
    for table in ("event", "human_task", "handoff", "boundary_crossing", "delay", "subscription"):
        owner = {r[0] for r in _instance_column(db_url, table)}
        assert owner <= kept, table
    assert after["process_definition"] == before["process_definition"]

    twin_url = _twin(db_url, tmp_path)
    (tmp_path / "twin").mkdir()
    twin, _c, _m = build(twin_url, tmp_path / "twin", with_old=False)
    try:
        assert report_of(app) == report_of(twin)
        assert app.cleanup(actor="root").instances == 0
    finally:
        twin.db.dispose()
        app.db.dispose()
        _drop(twin_url)

    assert app.cleanup(actor="root").instances == 0


def test_older_than_overrides_and_refusals(app: Handoff, clock: ManualClock, db_url: str) -> None:
    app.deploy([DATA / "rework_pingpong.bpmn"], actor="root")  # no time to live: kept unless told
    done = run_article(app, clock, datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 0, "A", finish=True)
    clock.set(datetime(2026, 3, 4, 9, 0, tzinfo=UTC))
    assert app.cleanup(actor="root").instances == 0
    assert app.cleanup(older_than="P3D", actor="root").instances == 0
    with pytest.raises(InvalidInput, match="not a duration"):
        app.cleanup(older_than="soon", actor="root")
    app.add_user("root", role="admin", actor=None)
    app.add_user("ana", role="analyst", actor="root")
    with pytest.raises(Forbidden):
        app.cleanup(older_than="P1D", actor="ana")
    result = CliRunner().invoke(
        main, ["--db", db_url, "--user", "root", "cleanup", "--older-than", "P1D", "--process", "article"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("deleted 1 finished instance(s) (")
    assert "gone from reports and exports for good" in result.stdout
    assert app.instances(actor="root") == [] and done


def _instance_column(db_url: str, table: str) -> list[tuple[int]]:
    from sqlalchemy import text

    db = Database(db_url)
    try:
        with db.reader() as session:
            return [tuple(r) for r in session.execute(text(f"SELECT instance_id FROM {table}"))]  # type: ignore[misc]
    finally:
        db.dispose()


def _drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    import psycopg

    base, name = url.rsplit("/", 1)
    with psycopg.connect(base + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _twin(db_url: str, tmp_path: Path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'twin.db'}"
    import uuid

    import psycopg

    name = f"handoff_twin_{uuid.uuid4().hex[:10]}"
    admin = db_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return db_url.rsplit("/", 1)[0] + f"/{name}"

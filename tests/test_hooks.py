"""Hooks: a failing record hook rolls back and is named; a failing notify hook leaves a trace; an
installed package's hook (entry point `handoff.hooks`) receives every event of a run."""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import EXAMPLE, ROOT, table_rows
from engine import Handoff, HookError, LifecycleEvent, hookimpl
from storage import Database


class Exploding:
    @hookimpl
    def handoff_record(self, events, context) -> None:
        if any(e.kind == "task_completed" for e in events):
            raise RuntimeError("ledger offline")


class Collecting:
    def __init__(self) -> None:
        self.seen: list[LifecycleEvent] = []

    @hookimpl
    def handoff_notify(self, events) -> None:
        self.seen.extend(events)


class FailingNotify:
    @hookimpl
    def handoff_notify(self, events) -> None:
        raise ConnectionError("webhook unreachable")


def make(db_url: str, clock, *plugins: object) -> Handoff:
    app = Handoff(Database(db_url), clock=clock, plugins=plugins, load_entry_points=False)
    app.init()
    return app


def test_failing_record_hook_rolls_back_and_is_named(db_url: str, clock) -> None:
    app = make(db_url, clock, Exploding())
    app.deploy([EXAMPLE], actor="d")
    task = app.start("order_to_cash", actor="web").tasks[0]  # no task completed yet: the hook lets it pass
    before = table_rows(db_url)
    with pytest.raises(HookError, match=r"record hook '.*Exploding.*' failed: RuntimeError: ledger offline"):
        app.complete(task.id, data={"customer": "A"}, actor="ann")
    assert table_rows(db_url) == before
    app.db.dispose()


def test_failing_notify_hook_leaves_the_change_and_a_hook_failed_event(db_url: str, clock) -> None:
    collector = Collecting()
    app = make(db_url, clock, FailingNotify(), collector)
    app.deploy([EXAMPLE], actor="d")
    view = app.start("order_to_cash", actor="web")
    view = app.complete(view.tasks[0].id, data={"customer": "A"}, actor="ann")
    assert view.tasks[0].name == "Approve credit"  # the change stands
    failed = [e for e in app.show(view.id).timeline if e.kind == "hook_failed"]
    assert len(failed) == 2  # one per operation (start, complete)
    assert "webhook unreachable" in failed[0].data["error"] and "FailingNotify" in failed[0].data["hook"]
    # The other notify hook still ran, after the commit, with the stored ids.
    kinds = [e.kind for e in collector.seen]
    assert kinds[:2] == ["instance_started", "task_ready"] and "task_completed" in kinds
    assert all(e.id is not None for e in collector.seen)
    app.db.dispose()


def test_hook_from_an_installed_package_sees_every_event(db_url: str, tmp_path: Path) -> None:
    """The example hook of examples/hooks, made installed by a dist-info with its entry point."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "jsonl_hook.py").write_text((ROOT / "examples" / "hooks" / "jsonl_hook.py").read_text())
    dist = site / "handoff_jsonl_hook-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: handoff-jsonl-hook\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text("[handoff.hooks]\njsonl = jsonl_hook\n")
    events_file = tmp_path / "events.jsonl"
    env = dict(
        os.environ,
        HANDOFF_DB=db_url,
        HANDOFF_EVENTS_FILE=str(events_file),
        PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]),
    )

    def handoff(*args: str, user: str = "ann") -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, str(ROOT / "cli.py"), "--user", user, *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
        )
        assert result.returncode == 0, result.stderr
        return result

    handoff("init")
    handoff("deploy", str(EXAMPLE))
    instance = json.loads(handoff("--json", "start", "order_to_cash").stdout)["id"]
    task = json.loads(handoff("--json", "tasks").stdout)[0]["id"]
    handoff("claim", str(task))
    handoff("complete", str(task), "--data", "customer=ACME")
    lines = [json.loads(line) for line in events_file.read_text().splitlines()]
    history = json.loads(handoff("--json", "show", str(instance)).stdout)["timeline"]
    assert [(line["id"], line["kind"], line["element"]) for line in lines] == [
        (e["id"], e["kind"], e["element"]) for e in history
    ]
    assert {line["kind"] for line in lines} >= {
        "instance_started",
        "task_ready",
        "task_claimed",
        "task_completed",
    }


def test_the_hooks_example_installs_offline_with_the_documented_commands(db_url: str, tmp_path: Path) -> None:
    """Issue 14 item 27: docs/hooks.md's commands, run in a fresh virtual environment with pip's index
    and configuration switched off. The environment also sees the packages of the one running the tests
    (Handoff and the build tools of the test extra), as Handoff's own environment holds them: a `.pth`
    file adds its site directories (`--system-site-packages` would add the base interpreter's instead
    when the tests run in a virtual environment themselves, as the README's test command does)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    venv_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(venv_site) / "tests_environment.pth").write_text(
        "".join(f"import site; site.addsitedir({p!r})\n" for p in ours)
    )
    source = tmp_path / "hooks"  # a copy: a build leaves build/ and *.egg-info beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "jsonl_hook.py"):
        (source / name).write_text((ROOT / "examples" / "hooks" / name).read_text())
    offline = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    offline |= {"PIP_CONFIG_FILE": os.devnull, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    documented = [
        ["install", "setuptools>=61", "wheel", "--no-index"],  # already there: nothing to fetch
        ["install", "--no-build-isolation", "--no-index", "./hooks"],
    ]
    for argv in documented:
        done = subprocess.run(
            [str(python), "-m", "pip", *argv], cwd=tmp_path, env=offline, capture_output=True, text=True
        )
        assert done.returncode == 0, (argv, done.stdout, done.stderr)

    events_file = tmp_path / "events.jsonl"
    env = dict(offline, HANDOFF_DB=db_url, HANDOFF_EVENTS_FILE=str(events_file), PYTHONPATH=str(ROOT))
    for argv in (["init"], ["deploy", str(EXAMPLE)], ["start", "order_to_cash"]):
        run = subprocess.run(
            [str(python), str(ROOT / "cli.py"), *argv], env=env, cwd=tmp_path, capture_output=True, text=True
        )
        assert run.returncode == 0, run.stderr
    kinds = [json.loads(line)["kind"] for line in events_file.read_text().splitlines()]
    assert kinds[:2] == ["instance_started", "task_ready"]

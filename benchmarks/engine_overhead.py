"""Engine overhead: Handoff with SQLite persistence against bare SpiffWorkflow in memory (DESIGN §5).

Both run the same straight-through process (`ten_scripts.bpmn`: start, 10 script tasks, end) in the
same Python process, interleaved round by round so that both see the same machine conditions:

  (a) Handoff: `Handoff.start("ten_scripts")` on a fresh SQLite FILE database (`handoff init`
      equivalent), one unit of work per instance, run to completion and committed;
  (b) bare SpiffWorkflow: the spec parsed once with the parser Handoff picks for plain BPMN
      (BpmnDmnParser; Handoff uses its subclass in bpmn/spiff_parsers.py), then `BpmnWorkflow(spec, subs).do_engine_steps()` per instance, in memory.

Prints instances/second of each, the ratio Handoff / bare (target >= 0.5, goal 0.8), and the SQL
statements and commits per Handoff instance (counted in a separate pass, so the counting listener
does not slow the timed runs).

    python benchmarks/engine_overhead.py                 # 3 rounds of 2000 instances each way
    python benchmarks/engine_overhead.py --n 500 --json  # machine-readable
    python benchmarks/engine_overhead.py --profile       # + cProfile top 25 of the Handoff path
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

BPMN_PATH = HERE / "ten_scripts.bpmn"
PROCESS_ID = "ten_scripts"
EXPECTED_X = 9  # s1 sets x = 0, s2..s10 add 1
TARGET, GOAL = 0.5, 0.8
POSTGRESQL_TARGET = 0.4  # issue 17: PostgreSQL pays a round trip per statement on the same cores


# --- the two contestants ------------------------------------------------------------------------------


class Bare:
    """SpiffWorkflow alone: parse once, then one in-memory workflow per instance."""

    def __init__(self, bpmn_path: Path, scripts: str = "plain") -> None:
        """`scripts`: "plain" is SpiffWorkflow's own exec; "sandbox" gives bare the script engine Handoff
        uses (engine/sandbox.py), to compare the engines alone with the same script execution."""
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
        from SpiffWorkflow.dmn.parser.BpmnDmnParser import BpmnDmnParser

        from engine import runtime

        self.script_engine = runtime.script_engine() if scripts == "sandbox" else None

        parser = (
            BpmnDmnParser()
        )  # what Handoff subclasses for plain BPMN (bpmn.spiff_parsers.PARSERS["bpmn"])
        parser.add_bpmn_file(str(bpmn_path))
        self.spec = parser.get_spec(PROCESS_ID)
        self.subs = parser.get_subprocess_specs(PROCESS_ID)
        self._workflow = BpmnWorkflow

    def run(self, n: int) -> int:
        completed = 0
        spec, subs, workflow_class = self.spec, self.subs, self._workflow
        engine = self.script_engine
        for _ in range(n):
            wf = (
                workflow_class(spec, subs)
                if engine is None
                else workflow_class(spec, subs, script_engine=engine)
            )
            wf.do_engine_steps()
            if wf.is_completed():
                completed += 1
        return completed

    def check(self) -> None:
        from SpiffWorkflow.bpmn.workflow import BpmnWorkflow

        wf = BpmnWorkflow(self.spec, self.subs)
        wf.do_engine_steps()
        assert wf.is_completed(), "bare SpiffWorkflow did not complete ten_scripts"
        assert wf.last_task is not None and wf.last_task.data.get("x") == EXPECTED_X, wf.last_task.data


HOOKS = ("handoff.history", "handoff.handoffs", "handoff.crossings", "handoff.delays")


class WithHandoff:
    """Handoff's services over a fresh SQLite file, as `handoff init` + `handoff deploy` leave it."""

    def __init__(self, bpmn_path: Path, url: str | None, hooks: str = "all", users: bool = False) -> None:
        from engine import Handoff
        from storage import Database

        self.tmp = None
        if url is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="handoff-bench-")
            self.path: str | None = os.path.join(self.tmp.name, "handoff.db")
            url = f"sqlite:///{self.path}"
        else:
            self.path = None
        self.url = url
        self.app = Handoff(Database(url), load_entry_points=False)
        # --hooks: all built-in recorders (live use), history only, or none at all (no events written).
        keep = {"all": HOOKS, "history": ("handoff.history",), "none": ()}[hooks]
        for name in HOOKS:
            if name not in keep:
                self.app.hooks.unregister(name=name)
        self.hooks = hooks
        self.app.init()
        if users:
            # --users: roles are checked on every start (bench is an operator among other users), as in
            # an installation past single-user mode.
            self.app.add_user("admin", role="admin", actor="admin")
            for i in range(50):
                self.app.add_user(f"op{i}", role="operator", lanes=[f"Lane {i % 5}"], actor="admin")
            self.app.add_user("bench", role="designer", actor="admin")
        self.users = users
        deployed = self.app.deploy([bpmn_path], actor="bench")
        assert any(d.process == PROCESS_ID for d in deployed), deployed

    def run(self, n: int) -> int:
        completed = 0
        start = self.app.start
        for _ in range(n):
            view = start(PROCESS_ID, actor="bench")
            if view.status == "completed":
                completed += 1
        return completed

    def check(self) -> None:
        view = self.app.start(PROCESS_ID, actor="bench")
        assert view.status == "completed", (view.status, view.error)
        assert view.data.get("x") == EXPECTED_X, view.data

    def count_sql(self, n: int) -> dict[str, Any]:
        """Statements and commits per instance, by kind, over n instances (listener attached only here)."""
        from sqlalchemy import event

        engine = self.app.db.engine
        statements: Counter[str] = Counter()
        commits = [0]

        def on_execute(
            _conn: Any, _cursor: Any, statement: str, _params: Any, _ctx: Any, executemany: bool
        ) -> None:
            words = statement.split()
            verb = words[0].upper() if words else "?"
            table = ""
            if verb == "WITH" and "INTO" in words:  # a data-modifying WITH: its first INSERT's table
                table = words[words.index("INTO") + 1]
            elif verb == "INSERT" and len(words) > 2:
                table = words[2]
            elif verb == "UPDATE" and len(words) > 1:
                table = words[1]
            elif verb == "SELECT" and "FROM" in words:
                table = words[words.index("FROM") + 1]
            statements[f"{verb} {table}".strip() + (" (executemany)" if executemany else "")] += 1

        def on_commit(_conn: Any) -> None:
            commits[0] += 1

        event.listen(engine, "before_cursor_execute", on_execute)
        event.listen(engine, "commit", on_commit)
        try:
            done = self.run(n)
        finally:
            event.remove(engine, "before_cursor_execute", on_execute)
            event.remove(engine, "commit", on_commit)
        assert done == n, f"only {done} of {n} instances completed"
        total = sum(statements.values())
        return {
            "instances": n,
            "statements_per_instance": round(total / n, 2),
            "commits_per_instance": round(commits[0] / n, 2),
            "statements_by_kind_per_instance": {k: round(v / n, 2) for k, v in statements.most_common()},
        }

    def state_size(self) -> int:
        from sqlalchemy import func, select

        from storage.models import ProcessInstance

        with self.app.db.reader() as session:
            return int(session.scalar(select(func.avg(func.length(ProcessInstance.state)))) or 0)

    def close(self) -> None:
        self.app.db.dispose()
        if self.tmp is not None:
            self.tmp.cleanup()


# --- measuring ----------------------------------------------------------------------------------------


def timed(run: Any, n: int) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds of this process, instances completed) of run(n)."""
    gc.collect()
    c0, t0 = time.process_time(), time.perf_counter()
    done = run(n)
    return time.perf_counter() - t0, time.process_time() - c0, done


def categorize(stats: pstats.Stats) -> dict[str, float]:
    """Share of own (tottime) time by where the code lives."""
    buckets: Counter[str] = Counter()
    total = 0.0
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        total += tt
        f = filename.replace("\\", "/")
        if "/sqlalchemy/" in f:
            key = "sqlalchemy"
        elif "/SpiffWorkflow/" in f and "/serializer/" in f:
            key = "spiff serializer"
        elif "/SpiffWorkflow/" in f:
            key = "spiffworkflow (engine)"
        elif f.endswith("bpmn/serializer.py"):
            key = "handoff bpmn/serializer"
        elif "/engine/" in f or "/bpmn/" in f or "/storage/" in f:
            key = "handoff engine/bpmn/storage"
        elif "/json/" in f or "_json" in func or func.startswith("<method 'encode' of '_json"):
            key = "json"
        elif "sqlite3" in f or "sqlite3" in func:
            key = "sqlite3 (driver, incl. commit/fsync)"
        elif f == "<string>" or "<built-in method builtins.exec>" in func or "builtins.eval" in func:
            key = "scripts (exec/eval)"
        elif "/uuid" in f or "uuid" in func:
            key = "uuid"
        elif "/copy.py" in f or "deepcopy" in func:
            key = "copy (deepcopy of task data)"
        else:
            key = "other"
        buckets[key] += tt
    return {k: round(100 * v / total, 1) for k, v in buckets.most_common()} if total else {}


def profile_handoff(handoff: WithHandoff, n: int, top: int = 25) -> tuple[str, dict[str, float]]:
    profiler = cProfile.Profile()
    profiler.enable()
    handoff.run(n)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    out.write("\n--- by own time (tottime) ---\n")
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue(), categorize(stats)


# Where a Handoff start spends its time, by stage: wrappers around the functions services.py calls.
# Names that do not exist (any more) are skipped; nested stages overlap (e.g. _view includes open_tasks_of).
STAGES = {
    "engine.runtime": [
        "new_workflow",
        "run_engine",
        "dump_workflow",
        "snapshot",
        "instance_data",
        "is_finished",
        "has_unfinished",
        "ready_human_tasks",
        "next_timer_due",
        "load_workflow",
    ],
    "storage.repository": [
        "latest_definition",
        "latest_definition_ref",
        "insert_instance",
        "add_events_returning_ids",
        "open_tasks_of",
        "get_instance",
    ],
}


def breakdown_handoff(handoff: WithHandoff, n: int) -> tuple[float, list[tuple[str, float]]]:
    """(ms per start, [(stage, ms per start)]) with every stage wrapped in a timer, restored afterwards."""
    import functools
    import importlib

    from sqlalchemy.orm import Session

    from engine import services

    spent: dict[str, float] = {}
    restore: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str, label: str) -> None:
        original = owner.__dict__.get(name) if isinstance(owner, type) else getattr(owner, name, None)
        if original is None:
            return

        @functools.wraps(original)
        def timed_call(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                spent[label] = spent.get(label, 0.0) + time.perf_counter() - t0

        restore.append((owner, name, original))
        setattr(owner, name, timed_call)

    for module_name, names in STAGES.items():
        module = importlib.import_module(module_name)
        for name in names:
            wrap(module, name, f"{module_name.split('.')[-1]}.{name}")
    for name in ("flush", "commit", "close"):
        wrap(Session, name, f"Session.{name}")
    for name in ("_view", "_definition", "_advance"):
        wrap(services.Handoff, name, f"Handoff.{name}")
    try:
        t0 = time.perf_counter()
        handoff.run(n)
        total = time.perf_counter() - t0
    finally:
        for owner, name, original in reversed(restore):
            setattr(owner, name, original)
    return 1000 * total / n, [(k, 1000 * v / n) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--n", type=int, default=2000, help="instances per round and contestant (default 2000)"
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    parser.add_argument("--slices", type=int, default=10, help="alternating slices per round (default 10)")
    parser.add_argument(
        "--warmup",
        type=int,
        nargs="?",
        const=200,
        default=200,
        metavar="N",
        help="untimed instances of each contestant first (default 200; 0 disables)",
    )
    parser.add_argument("--count-n", type=int, default=200, help="instances in the SQL-counting pass")
    parser.add_argument(
        "--url", default=None, help="database URL instead of a fresh temporary SQLite file (it gets `init`)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.add_argument("--profile", action="store_true", help="print a cProfile top 25 of the Handoff path")
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="time the stages of a Handoff start (engine.runtime, storage.repository, Session)",
    )
    parser.add_argument(
        "--hooks",
        choices=("all", "history", "none"),
        default="all",
        help="built-in record hooks on the Handoff side: all (live use, the default), history only, or none",
    )
    parser.add_argument(
        "--users",
        action="store_true",
        help="register users first (an admin, 50 operators; bench a designer), so every start checks its actor",
    )
    parser.add_argument(
        "--bare-scripts",
        choices=("plain", "sandbox"),
        default="plain",
        help="bare SpiffWorkflow's script execution: its own plain exec (the default) or Handoff's sandbox",
    )
    args = parser.parse_args(argv)

    bare = Bare(BPMN_PATH, args.bare_scripts)
    handoff = WithHandoff(BPMN_PATH, args.url, args.hooks, args.users)
    try:
        bare.check()
        handoff.check()
        if args.warmup:
            bare.run(args.warmup)
            handoff.run(args.warmup)

        rounds: list[dict[str, float]] = []
        contestants: dict[str, Bare | WithHandoff] = {"bare": bare, "handoff": handoff}
        slices = max(1, min(args.slices, args.n))
        for r in range(args.rounds):
            # Each round runs n instances of each contestant in `slices` alternating slices (who goes first
            # alternates too), so that both see the same machine conditions on this shared 2-core machine.
            wall = dict.fromkeys(contestants, 0.0)
            cpu = dict.fromkeys(contestants, 0.0)
            for s in range(slices):
                size = args.n // slices + (1 if s < args.n % slices else 0)
                order = ["bare", "handoff"] if (r + s) % 2 == 0 else ["handoff", "bare"]
                for name in order:
                    w, c, done = timed(contestants[name].run, size)
                    if done != size:
                        raise SystemExit(f"{name}: only {done} of {size} instances completed")
                    wall[name] += w
                    cpu[name] += c
            result = {name: args.n / wall[name] for name in contestants}
            result["ratio"] = result["handoff"] / result["bare"]
            result["cpu_bare"] = args.n / cpu["bare"] if cpu["bare"] else float("inf")
            result["cpu_handoff"] = args.n / cpu["handoff"] if cpu["handoff"] else float("inf")
            result["cpu_ratio"] = result["cpu_handoff"] / result["cpu_bare"]
            rounds.append(result)
            if not args.json:
                print(
                    f"  round {r + 1}: bare {result['bare']:8.1f}/s  handoff {result['handoff']:8.1f}/s  "
                    f"ratio {result['ratio']:.3f}  (CPU-time ratio {result['cpu_ratio']:.3f})",
                    flush=True,
                )

        sql = handoff.count_sql(args.count_n)
        best_bare = max(r["bare"] for r in rounds)
        best_handoff = max(r["handoff"] for r in rounds)
        target = POSTGRESQL_TARGET if handoff.app.db.dialect == "postgresql" else TARGET
        report: dict[str, Any] = {
            "benchmark": "engine_overhead",
            "process": "ten_scripts (start, 10 script tasks, end)",
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
            },
            "database": (
                handoff.app.db.display_url() if handoff.path is None else "sqlite file (fresh, temporary)"
            ),
            "hooks": args.hooks,
            "users": args.users,
            "bare_scripts": args.bare_scripts,
            "n_per_round": args.n,
            "rounds": args.rounds,
            "warmup": args.warmup,
            "method": "rounds of alternating slices; instances/s = best round (wall clock) of each contestant; "
            "ratio = median over rounds of the paired per-round wall-clock ratios; ratio_of_bests = "
            "best handoff / best bare; cpu_ratio = the same median on process CPU time (less "
            "sensitive to other load on the machine)",
            "bare_per_s": round(best_bare, 1),
            "handoff_per_s": round(best_handoff, 1),
            "ratio": round(statistics.median(r["ratio"] for r in rounds), 3),
            "ratio_of_bests": round(best_handoff / best_bare, 3),
            "cpu_ratio": round(statistics.median(r["cpu_ratio"] for r in rounds), 3),
            "handoff_ms_per_instance": round(1000 / best_handoff, 3),
            "bare_ms_per_instance": round(1000 / best_bare, 3),
            "target": target,
            "goal": GOAL,
            "meets_target": statistics.median(r["ratio"] for r in rounds) >= target,
            "per_round": [{k: round(v, 3) for k, v in r.items()} for r in rounds],
            "state_bytes_per_instance": handoff.state_size(),
            **sql,
        }
        if args.breakdown:
            total_ms, stages = breakdown_handoff(handoff, args.n)
            report["breakdown_ms_per_instance"] = {"total": round(total_ms, 3)} | {
                k: round(v, 3) for k, v in stages
            }
        profile_text = None
        if args.profile:
            profile_text, shares = profile_handoff(handoff, args.n)
            report["profile_own_time_percent"] = shares

        if args.json:
            print(json.dumps(report, indent=2))
        else:
            print(
                f"engine overhead — {report['process']}: {args.rounds} rounds of {args.n} instances each way, "
                f"in {slices} alternating slices, hooks: {args.hooks}"
                f"{', users registered' if args.users else ''}"
                f"{', bare with the sandbox' if args.bare_scripts == 'sandbox' else ''}; best round's rates, median ratio "
                f"({os.cpu_count()} CPUs, Python {platform.python_version()})"
            )
            print(
                f"  bare SpiffWorkflow (memory) : {best_bare:9.1f} instances/s  "
                f"({report['bare_ms_per_instance']:.3f} ms each)"
            )
            backend = "SQLite file" if handoff.path is not None else handoff.app.db.dialect
            print(
                f"  {'Handoff (' + backend + ')':<28}: {best_handoff:9.1f} instances/s  "
                f"({report['handoff_ms_per_instance']:.3f} ms each)"
            )
            verdict = (
                "goal met"
                if report["ratio"] >= GOAL
                else ("target met" if report["meets_target"] else "BELOW TARGET")
            )
            print(
                f"  ratio Handoff / bare        : {report['ratio']:.3f}  (median of the per-round ratios; "
                f"by CPU time {report['cpu_ratio']:.3f}, of the bests {report['ratio_of_bests']:.3f}; "
                f"target {target}, goal {GOAL}: {verdict})"
            )
            print(
                f"  per Handoff instance        : {sql['statements_per_instance']} SQL statements, "
                f"{sql['commits_per_instance']} commits, {report['state_bytes_per_instance']} bytes of state "
                f"(counted over {args.count_n} more instances)"
            )
            for kind, per in sql["statements_by_kind_per_instance"].items():
                print(f"      {per:5.2f}  {kind}")
            if args.breakdown:
                stages_ms = report["breakdown_ms_per_instance"]
                print(
                    f"\n--- stages of a Handoff start, ms per instance (total {stages_ms['total']:.3f} ms, "
                    f"with timers; nested stages overlap) ---"
                )
                for k, v in stages_ms.items():
                    if k != "total":
                        print(f"  {v:7.3f} ms  {100 * v / stages_ms['total']:5.1f}%  {k}")
            if profile_text is not None:
                print("\n--- cProfile of the Handoff path, top 25 by cumulative time ---")
                print(profile_text)
                print("own time by area (%):", json.dumps(report["profile_own_time_percent"]))
    finally:
        handoff.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

#!/usr/bin/env python3
"""How long a person waits for a read command: `handoff tasks` and `handoff show 1` as whole processes.

    python3 benchmarks/cli_latency.py                       # a demo database of 2,500 orders, 10 runs each
    python3 benchmarks/cli_latency.py --db sqlite:///demo.db --runs 20
    python3 benchmarks/cli_latency.py --baseline ../handoff-old   # the same commands of another checkout
    python3 benchmarks/cli_latency.py --floors      # + `import sqlalchemy, click` and + its ORM, as processes

Each command is started as a process (`python3 -m cli ...`, start-up and imports included, as a person
types it) `--runs` times, beside `python3 -c pass` (the interpreter's own start-up) in the same sitting,
the commands taking turns so that the machine's other load falls on all of them alike. Printed: the
median wall-clock and CPU seconds of each (target: under 0.3 s wall), and, with --baseline, each
command's median ratio to the other checkout's, pair by pair.

Bytecode is cached, as on a user's machine (pip compiles what it installs; an editable checkout writes
`__pycache__` on its first run): the children run without PYTHONDONTWRITEBYTECODE (which this project's
sandboxes set, making every run compile Handoff's modules from source, ~60 ms), and each checkout is
compiled once (`compileall`) before the timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.3


def child_environment() -> dict[str, str]:
    """This environment, but writing and reading cached bytecode as a user's installation does."""
    return {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def compile_checkout(root: Path) -> None:
    """Cache the bytecode of a checkout's modules once, before anything is timed."""
    targets = [str(path) for path in sorted(root.glob("cli*.py"))]
    targets += [str(root / name) for name in ("engine", "storage", "bpmn", "web") if (root / name).is_dir()]
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", *targets], env=child_environment(), check=True,
        capture_output=True,
    )  # fmt: skip


def run(command: list[str], root: Path | None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one process."""
    env = child_environment()
    if root is not None:
        env["PYTHONPATH"] = str(root)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    began = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=root or ROOT, capture_output=True, check=False)
    wall = time.perf_counter() - began
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def demo_database(folder: str, instances: int) -> str:
    url = f"sqlite:///{folder}/demo.db"
    print(f"making a demo database of {instances:,} orders ...", file=sys.stderr)
    subprocess.run(
        [sys.executable, "-m", "cli", "--db", url, "demo", "--instances", str(instances), "--out",
         f"{folder}/report.html"],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=True, capture_output=True,
    )  # fmt: skip
    return url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="a database made by `handoff demo` (default: a new one)")
    parser.add_argument("--instances", type=int, default=2500, help="orders in a new demo database")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--baseline", type=Path, help="another checkout, run the same way")
    parser.add_argument(
        "--floors",
        action="store_true",
        help="also time what any read command over SQLAlchemy pays: importing it (with click), and its ORM",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="handoff-latency-") as folder:
        url = args.db or demo_database(folder, args.instances)
        commands = {
            "handoff tasks": ["--user", "fay", "tasks"],
            "handoff show 1": ["--user", "cleo", "show", "1"],
        }
        # The floors start up as the commands do (collector off while importing, start-up frozen).
        floors = {
            "import sqlalchemy, click": "import gc; gc.disable(); import sqlalchemy, click; gc.freeze()",
            "+ sqlalchemy.orm": "import gc; gc.disable(); import sqlalchemy, sqlalchemy.orm, click; gc.freeze()",
        } if args.floors else {}  # fmt: skip
        times: dict[str, list[tuple[float, float]]] = {
            name: [] for name in ["python3 -c pass", *floors, *commands]
        }
        base: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for root in [ROOT] if args.baseline is None else [ROOT, args.baseline]:
            compile_checkout(root)
            for tail in commands.values():  # warm the file cache (and any bytecode compileall missed) once
                run([sys.executable, "-m", "cli", "--db", url, *tail], root)
        for _ in range(args.runs):
            times["python3 -c pass"].append(run([sys.executable, "-c", "pass"], None))
            for name, code in floors.items():
                times[name].append(run([sys.executable, "-c", code], None))
            for name, tail in commands.items():
                times[name].append(run([sys.executable, "-m", "cli", "--db", url, *tail], ROOT))
                if args.baseline is not None:
                    base[name].append(run([sys.executable, "-m", "cli", "--db", url, *tail], args.baseline))

    result: dict[str, dict[str, float | bool]] = {}
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        result[name] = {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3)}
        if name in commands:
            result[name]["under_target"] = wall < TARGET
            if args.baseline is not None:
                pairs = zip(runs, base[name], strict=True)
                result[name]["wall_ratio_to_baseline"] = round(
                    statistics.median(a[0] / b[0] for a, b in pairs), 3
                )
                result[name]["cpu_ratio_to_baseline"] = round(
                    statistics.median(a[1] / b[1] for a, b in zip(runs, base[name], strict=True)), 3
                )
                result[name]["baseline_wall_s"] = round(statistics.median(w for w, _ in base[name]), 3)
    if args.json:
        print(
            json.dumps(
                {"runs": args.runs, "target_s": TARGET, "bytecode": "cached", "commands": result}, indent=2
            )
        )
        return 0
    print(
        f"median of {args.runs} runs each, as processes, bytecode cached as on a user's machine"
        f" (target: under {TARGET} s wall)"
    )
    for name, figures in result.items():
        line = f"  {name:<24} wall {figures['wall_s']:.3f} s   CPU {figures['cpu_s']:.3f} s"
        if "wall_ratio_to_baseline" in figures:
            line += (
                f"   baseline wall {figures['baseline_wall_s']:.3f} s, ratio {figures['wall_ratio_to_baseline']:.2f}"
                f" (CPU {figures['cpu_ratio_to_baseline']:.2f})"
            )
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The operator path in-process: human-task completions per second at 1,000 and at 100,000 stored instances.

One completion is what `handoff complete ID` does inside the engine, through the public `Handoff` facade:
load the task row and its instance, check the actor and the form, restore the workflow, complete the
user task, run the instance on to its end, persist the instance row, the task row and the history (all
built-in record hooks on), in one transaction on a SQLite file. The process is `one_task.bpmn` (start,
one user task in lane Work, end), so each completion also finishes its instance.

Two databases in the same process, seeded alike except in size:
  small: 1,000 instances with their open task;
  large: 100,000 instances (`--large`), the same.
Seeding: the instances are started by the engine itself (`Handoff.start`) inside the simulator's batch
unit of work (`Handoff.batch()`: many operations in one transaction, rows written by one executemany
per table), 5,000 starts per transaction; the seeding is not timed.

Timed: `--rounds` rounds; each round completes `--n` tasks on each database, in `--slices` alternating
slices, so that the machine's other load falls on both alike. The tasks completed are drawn at random
from all the open ones (not the newest rows only). Printed: completions/s at each size (the best round
and the median), the same by process CPU time (steadier when other jobs share the machine), and the
ratio large / small of the per-round rates (median): the path should not slow down as the database grows
(target: >= 1,000/s at both, within 20%).

    python3 benchmarks/operator_path.py                        # 3 rounds x 300 completions each size
    python3 benchmarks/operator_path.py --large 20000 --json   # a quicker seed
    python3 benchmarks/operator_path.py --profile              # + cProfile of completions (large db)
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import json
import os
import platform
import pstats
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

PROCESS = HERE / "one_task.bpmn"
PROCESS_ID = "one_task"
ACTOR = "bench"
TARGET_RATE, TARGET_SPREAD = 1000.0, 0.20
SEED_CHUNK = 5000


class Store:
    """One SQLite file, `one_task` deployed, `size` instances each with its open task."""

    def __init__(self, size: int, tmp: str, name: str, seed: int) -> None:
        from engine import Handoff
        from storage import Database

        self.size = size
        self.url = f"sqlite:///{os.path.join(tmp, name)}.db"
        self.app = Handoff(Database(self.url), load_entry_points=False)
        self.app.init()
        self.app.deploy([PROCESS], actor=ACTOR)
        began = time.perf_counter()
        self.open: list[int] = []
        left = size
        while left > 0:
            with self.app.batch() as batch:
                for _ in range(min(SEED_CHUNK, left)):
                    view = batch.start(PROCESS_ID, actor=ACTOR)
                    self.open.append(view.tasks[0].id)
            left -= SEED_CHUNK
        self.seed_seconds = time.perf_counter() - began
        random.Random(seed).shuffle(self.open)
        self.done = 0

    def complete(self, n: int) -> tuple[float, float]:
        """Complete the next n open tasks (in random order); seconds taken, wall clock and process CPU."""
        ids = self.open[self.done : self.done + n]
        if len(ids) < n:
            raise SystemExit(
                f"only {len(self.open) - self.done} open tasks left: seed more or complete fewer"
            )
        self.done += n
        complete = self.app.complete
        began, cpu = time.perf_counter(), time.process_time()
        for task_id in ids:
            view = complete(task_id, data={}, actor=ACTOR)
            if view.status != "completed":
                raise SystemExit(f"task {task_id}: instance {view.id} is {view.status}, not completed")
        return time.perf_counter() - began, time.process_time() - cpu

    def counts(self) -> dict[str, int]:
        from sqlalchemy import text

        with self.app.db.engine.connect() as conn:
            instances = conn.execute(text("SELECT count(*) FROM process_instance")).scalar_one()
            completed = conn.execute(
                text("SELECT count(*) FROM process_instance WHERE status = 'completed'")
            ).scalar_one()
        return {"instances": int(instances), "completed": int(completed)}


def measure(
    stores: list[Store], n: int, rounds: int, slices: int
) -> tuple[list[list[float]], list[list[float]]]:
    """Per round, per store: completions/s by the wall clock and by process CPU time, the stores
    alternating slice by slice."""
    per_slice = max(1, n // slices)
    rates: list[list[float]] = []
    cpu_rates: list[list[float]] = []
    for _ in range(rounds):
        seconds = [0.0 for _ in stores]
        cpu = [0.0 for _ in stores]
        done = [0 for _ in stores]
        gc.collect()
        for s in range(slices):
            order = stores if s % 2 == 0 else list(reversed(stores))
            for store in order:
                i = stores.index(store)
                wall, used = store.complete(per_slice)
                seconds[i] += wall
                cpu[i] += used
                done[i] += per_slice
        rates.append([done[i] / seconds[i] for i in range(len(stores))])
        cpu_rates.append([done[i] / cpu[i] for i in range(len(stores))])
    return rates, cpu_rates


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=1000, help="instances in the small database")
    parser.add_argument("--large", type=int, default=100_000, help="instances in the large database")
    parser.add_argument("--n", type=int, default=300, help="completions per round on each database")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slices", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=50, help="untimed completions on each first")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile 300 more completions (large)")
    args = parser.parse_args()
    needed = args.warmup + args.n * args.rounds + (300 if args.profile else 0)
    if args.small < needed:
        raise SystemExit(f"--small {args.small} is fewer than the {needed} completions asked for")

    with tempfile.TemporaryDirectory(prefix="handoff-operator-") as tmp:
        small = Store(args.small, tmp, "small", args.seed)
        large = Store(args.large, tmp, "large", args.seed + 1)
        stores = [small, large]
        for store in stores:
            store.complete(args.warmup)
        rates, cpu_rates = measure(stores, args.n, args.rounds, args.slices)
        ratios = [r[1] / r[0] for r in rates]
        result: dict[str, Any] = {
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "process": PROCESS_ID,
            "completions_per_round": args.n,
            "rounds": args.rounds,
            "sizes": {"small": small.counts(), "large": large.counts()},
            "seed_seconds": {"small": round(small.seed_seconds, 1), "large": round(large.seed_seconds, 1)},
            "rates": {
                "small": [round(r[0], 1) for r in rates],
                "large": [round(r[1], 1) for r in rates],
            },
            "median_rate": {
                "small": round(statistics.median(r[0] for r in rates), 1),
                "large": round(statistics.median(r[1] for r in rates), 1),
            },
            "ratio_large_small": round(statistics.median(ratios), 3),
            "median_cpu_rate": {
                "small": round(statistics.median(r[0] for r in cpu_rates), 1),
                "large": round(statistics.median(r[1] for r in cpu_rates), 1),
            },
        }
        low = min(result["median_rate"].values())
        result["target_met"] = low >= TARGET_RATE and abs(1 - result["ratio_large_small"]) <= TARGET_SPREAD
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            large.complete(300)
            profile.disable()
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            for i, r in enumerate(rates):
                print(
                    f"  round {i + 1}: {small.size:>7,} instances {r[0]:7.0f}/s   "
                    f"{large.size:>7,} instances {r[1]:7.0f}/s   ratio {ratios[i]:.3f}   "
                    f"(by CPU time {cpu_rates[i][0]:.0f}/s, {cpu_rates[i][1]:.0f}/s)"
                )
            print(
                f"operator path — one_task: complete a human task (load, check, complete, run on, persist), "
                f"{args.rounds} rounds of {args.n} each size in {args.slices} alternating slices "
                f"({os.cpu_count()} CPUs, Python {platform.python_version()})"
            )
            for key, store in (("small", small), ("large", large)):
                c = result["sizes"][key]
                print(
                    f"  {store.size:>7,} stored instances: median {result['median_rate'][key]:7.1f} completions/s "
                    f"(best {max(r[stores.index(store)] for r in rates):.0f}; by CPU time "
                    f"{result['median_cpu_rate'][key]:.0f}/s); "
                    f"seeded in {store.seed_seconds:.1f} s; now {c['instances']:,} instances, "
                    f"{c['completed']:,} completed"
                )
            verdict = "met" if result["target_met"] else "NOT MET"
            print(
                f"  ratio {large.size:,} / {small.size:,} : {result['ratio_large_small']:.3f} "
                f"(median of the per-round ratios; target >= {TARGET_RATE:.0f}/s at both and within "
                f"{TARGET_SPREAD:.0%}: {verdict})"
            )
        if args.profile:
            stats = pstats.Stats(profile, stream=sys.stdout)
            stats.sort_stats("cumulative").print_stats(40)
            stats.sort_stats("tottime").print_stats(25)
        for store in stores:
            store.app.db.dispose()


if __name__ == "__main__":
    main()

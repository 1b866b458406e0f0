"""Search by data at scale: `handoff instances --var amount>1000 --var region=EU` (and a rare value) at
1,000 and at 100,000 instances (issue 15: within 2x).

The instances are written straight into a fresh database (rows as the engine writes them: an instance
row with its data snapshot, and its rows of the instance variable table through
`storage.repository.variables.variable_rows`), since what is measured is the search, not starting
instances. Each search goes through the use case (`Handoff.instances`), newest first, 100 at most, as
the CLI and the API ask; each figure is the median of `--repeat` runs after one warm-up.

    python benchmarks/data_search.py                        # SQLite file, 1,000 and 100,000
    python benchmarks/data_search.py --db postgresql://...  # an empty PostgreSQL database
    python benchmarks/data_search.py --small 1000 --large 20000 --json
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

BPMN = ROOT / "tests" / "data" / "assignment_camunda.bpmn"
SEARCHES = {
    "amount>1000 region=EU": ["amount>1000", "region=EU"],  # a quarter of all instances match
    "order=4711 (one)": ["order=4711"],  # exactly one instance matches
    "note~urgent": ["note~urgent"],  # contains: one in ten
}


def populate(url: str, n: int, seed: int = 7) -> None:
    """A fresh schema, the claim process deployed, and `n` instances with data."""
    from sqlalchemy import insert, text

    from engine import Handoff
    from storage import Database
    from storage.models import ProcessInstance
    from storage.models_variables import InstanceVariable
    from storage.repository.variables import variable_rows

    app = Handoff(Database(url))
    try:
        app.init()
        [deployed] = app.deploy([BPMN], actor="bench")
        with app.db.unit_of_work() as session:
            definition_id = session.execute(
                text("SELECT id FROM process_definition WHERE process_id = :p"),
                {"p": deployed.process},
            ).scalar_one()
        rng = random.Random(seed)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        chunk = 5000
        for first in range(1, n + 1, chunk):
            instances, variables = [], []
            for i in range(first, min(first + chunk, n + 1)):
                data = {
                    "starter": "ann",
                    "amount": rng.choice((200, 800, 1500, 2500)),
                    "region": rng.choice(("EU", "US")),
                    "order": i + 10_000 if i != n // 2 else 4711,
                    "note": "urgent, please" if i % 10 == 0 else "routine",
                }
                at = start + timedelta(seconds=i)
                instances.append(
                    {
                        "id": i,
                        "definition_id": definition_id,
                        "process_id": deployed.process,
                        "business_key": None,
                        "status": "waiting",
                        "state": "",
                        "data": data,
                        "error": None,
                        "next_due_at": None,
                        "created_at": at,
                        "updated_at": at,
                        "completed_at": None,
                        "started_by": "ann",
                        "version_counter": 1,
                        "lease_owner": None,
                        "lease_expires_at": None,
                        "attempts": 0,
                        "called": None,
                    }
                )
                variables.extend(variable_rows(i, data))
            with app.db.unit_of_work() as session:
                session.execute(insert(ProcessInstance), instances)
                session.execute(insert(InstanceVariable), variables)
        if app.db.engine.dialect.name == "postgresql":
            with app.db.engine.connect() as conn:
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
    finally:
        app.db.dispose()


def measure(url: str, repeat: int) -> dict[str, float]:
    """Median milliseconds per search."""
    from engine import Handoff
    from storage import Database

    app = Handoff(Database(url))
    try:
        out = {}
        for label, conditions in SEARCHES.items():
            app.instances(variables=conditions, limit=100)  # warm-up: caches, the first plan
            times = []
            for _ in range(repeat):
                began = time.perf_counter()
                found = app.instances(variables=conditions, limit=100)
                times.append((time.perf_counter() - began) * 1000)
                assert found, label
            out[label] = statistics.median(times)
        return out
    finally:
        app.db.dispose()


def fresh_database(base: str | None, name: str, folder: Path) -> str:
    if base is None:
        return f"sqlite:///{folder / (name + '.db')}"
    import psycopg

    with psycopg.connect(base.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return base.rsplit("/", 1)[0] + "/" + name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="a PostgreSQL server URL where databases may be created (else SQLite)")
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"backend": "postgresql" if args.db else "sqlite", "searches": {}}
    with tempfile.TemporaryDirectory() as folder:
        figures = {}
        for n in (args.small, args.large):
            url = fresh_database(args.db, f"handoff_search_{n}", Path(folder))
            began = time.perf_counter()
            populate(url, n)
            results[f"populate_{n}_seconds"] = round(time.perf_counter() - began, 1)
            figures[n] = measure(url, args.repeat)
    for label in SEARCHES:
        small, large = figures[args.small][label], figures[args.large][label]
        results["searches"][label] = {
            f"ms_at_{args.small}": round(small, 2),
            f"ms_at_{args.large}": round(large, 2),
            "ratio": round(large / small, 2),
        }
    worst = max(s["ratio"] for s in results["searches"].values())
    results["worst_ratio"] = worst
    results["within_2x"] = worst <= 2.0
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"search by data on {results['backend']}: median ms of {args.repeat} runs, 100 newest matches")
        for label, s in results["searches"].items():
            print(
                f"  {label:24} {s[f'ms_at_{args.small}']:8.2f} ms at {args.small:,}"
                f"  {s[f'ms_at_{args.large}']:8.2f} ms at {args.large:,}  ratio {s['ratio']:.2f}"
            )
        print(f"worst ratio {worst:.2f}: {'within' if worst <= 2 else 'NOT within'} 2x")
    return 0


if __name__ == "__main__":
    sys.exit(main())

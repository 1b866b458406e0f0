"""Simulation speed: instances of the order-to-cash example per second through the real engine.

DESIGN §5: at least 200 instances/second. Each instance is ~12 engine operations (start, then a claim
and a complete per human task) with all built-in hooks, on a SQLite file, in one batch transaction.
Printed beside it, in the same process: bare SpiffWorkflow running the same instances in memory (no
persistence, no history) with the same form data, as the ceiling.

    python3 benchmarks/simulation_speed.py [--instances 2500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from SpiffWorkflow.util.task import TaskState  # noqa: E402

from bpmn.parsing import validate_files  # noqa: E402
from bpmn.serializer import codec  # noqa: E402
from engine import Handoff, runtime  # noqa: E402
from engine.simulation import Scenario, form_data, simulate  # noqa: E402
from storage import Database  # noqa: E402

EXAMPLE = ROOT / "examples" / "order-to-cash.bpmn"
STAFF = {"Customer Service": 1, "Sales": 1, "Finance": 2, "Warehouse": 2}


def handoff_rate(n: int, seed: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/sim.db"
        app = Handoff(Database(url))
        app.init()
        app.deploy([EXAMPLE], actor="bench")
        app.db.dispose()
        began = time.perf_counter()
        result = simulate(url, Scenario("order_to_cash", n, seed=seed, staff=STAFF))
        return n / (time.perf_counter() - began), result.operations


class _Form:
    def __init__(self, form: list[dict]) -> None:
        self.form = form


def bare_rate(n: int, seed: int) -> float:
    parsed = validate_files([EXAMPLE]).processes[0]
    model = parsed.model
    spec, subs = codec(model.dialect).spec_from_dict(parsed.spec)
    rng = random.Random(seed)
    forms = {eid: _Form([f.to_json() for f in e.form]) for eid, e in model.elements.items()}
    began = time.perf_counter()
    for _ in range(n):
        workflow = runtime.Workflow(spec, subs, script_engine=runtime.script_engine())
        workflow.do_engine_steps()
        while not workflow.is_completed():
            task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
            element = model.elements[task.task_spec.bpmn_id]
            task.data.update(form_data(forms[element.id], element.properties, rng))  # type: ignore[arg-type]
            task.run()
            workflow.do_engine_steps()
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--instances", type=int, default=2500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rates, bares = [], []
    for r in range(args.rounds):
        rate, ops = handoff_rate(args.instances, seed=r + 1)
        bare = bare_rate(args.instances, seed=r + 1)
        rates.append(rate)
        bares.append(bare)
        print(f"round {r + 1}: Handoff {rate:6.0f} instances/s ({ops / args.instances:.1f} operations each), "
              f"bare SpiffWorkflow {bare:6.0f}/s, ratio {rate / bare:.2f}")  # fmt: skip
    med, bare = statistics.median(rates), statistics.median(bares)
    print(
        f"median: Handoff {med:.0f} instances/s of order-to-cash (target 200), bare {bare:.0f}/s, ratio {med / bare:.2f}"
    )


if __name__ == "__main__":
    main()

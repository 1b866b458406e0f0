"""Handoff drives SpiffWorkflow without some of its whole-tree walks (engine/runtime/lean_steps.py,
lean_queries.py): the task trees must come out exactly as SpiffWorkflow's own `do_engine_steps` and
`Task.run` leave them, task for task (same ids, specs, states, parents, children and data), on models
with parallel and inclusive joins, loops, timers that keep tasks WAITING, boundary events, multi-instance
tasks, subprocesses and call activities.

Each model runs twice with the same seeded task ids and the same random choices: once through
SpiffWorkflow alone, once through Handoff's runtime; after every step both trees are compared.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState

from bpmn.parsing import validate_files
from bpmn.serializer import codec
from conftest import DATA, EXAMPLE
from engine import runtime
from engine.runtime.lean_queries import lean_queries, spiff_is_descendant_of

MODELS = [
    EXAMPLE,
    DATA / "worked_example.bpmn",
    DATA / "parallel_optional.bpmn",
    DATA / "inclusive_gateway.bpmn",
    DATA / "multi_instance.bpmn",
    DATA / "timer_boundary.bpmn",
    DATA / "error_boundary.bpmn",
    DATA / "escalation.bpmn",
    DATA / "subprocess_lanes.bpmn",
    DATA / "rework_pingpong.bpmn",
    DATA / "lifecycle.bpmn",
    DATA / "event_subprocess_timer.bpmn",
    DATA / "mm1.bpmn",
]
MAX_STEPS = 60
START_DATA = {"suppliers": ["acme", "globex", "initech"]}  # multi_instance.bpmn's collection


def extra_data(rng: random.Random) -> dict[str, Any]:
    """Values the models' conditions and scripts read beyond their forms, drawn so that each branch
    is taken on some seeds (as tests/test_constructs.py enters them)."""
    return {
        "custom_terms": rng.random() < 0.6,
        "value": rng.choice([5, 500_000]),
        "quantity": rng.choice([5, 50]),
        "fixed": rng.random() < 0.5,
        "price": rng.randint(1, 99),
    }


def tree(workflow: runtime.Workflow) -> list[tuple[Any, ...]]:
    """Every task of the instance (subprocesses included) as comparable values."""
    return [
        (
            str(t.id),
            t.task_spec.name,
            TaskState.get_name(t.state),
            str(t.parent.id) if t.parent is not None else None,
            tuple(str(c.id) for c in t.children),
            repr(sorted(t.data.items(), key=lambda kv: kv[0])),
        )
        for t in runtime.all_tasks(workflow)
    ]


def value(field: dict[str, Any], rng: random.Random) -> Any:
    kind = field.get("type")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "enum" and field.get("values"):
        return rng.choice([v["id"] for v in field["values"]])
    if field.get("default") is not None:
        return field["default"]
    return rng.randint(1, 30000) if kind == "long" else f"text-{rng.randint(1, 99)}"


def drive(path: Path, seed: int, *, lean: bool) -> list[list[tuple[Any, ...]]]:
    """The task tree after each step of one instance, driven by SpiffWorkflow alone or by Handoff."""
    parsed = validate_files([path]).processes[0]
    spec, subs = codec(parsed.model.dialect).spec_from_dict(parsed.spec)
    forms = {eid: [f.to_json() for f in e.form] for eid, e in parsed.model.elements.items()}
    rng = random.Random(seed)
    trees = []
    with runtime.seeded_task_ids(f"lean/{seed}"):
        workflow = runtime.Workflow(spec, subs, script_engine=runtime.script_engine())
        workflow.task_tree.data.update(START_DATA)  # as engine/runtime/workflow.py's new_workflow
        for start in workflow.get_tasks(state=TaskState.READY):
            start.data.update(START_DATA)

        def steps() -> bool:
            """Run the engine steps; whether they succeeded (a model's expression may fail on the
            random data: both must fail alike, leaving the same tree)."""
            try:
                if lean:
                    runtime.run_engine(workflow, runtime.StepLog())
                else:
                    workflow.do_engine_steps()
            except Exception as exc:  # noqa: BLE001 - compared below, like the trees
                trees.append([("failed", type(exc).__name__), *tree(workflow)])
                return False
            trees.append(tree(workflow))
            return True

        if not steps():
            return trees
        for _ in range(MAX_STEPS):
            ready = sorted(
                (t for t in runtime.all_tasks(workflow) if t.state == TaskState.READY and t.task_spec.manual),
                key=lambda t: (t.task_spec.name, str(t.id)),
            )
            if not ready:
                break
            task = rng.choice(ready)
            data = extra_data(rng) | {f["id"]: value(f, rng) for f in forms.get(task.task_spec.bpmn_id, [])}
            try:
                if lean:
                    runtime.run_user_task(task, data)
                else:
                    task.data.update(data)
                    task.run()
            except Exception as exc:  # noqa: BLE001 - the condition after a task may fail alike
                trees.append([("failed", type(exc).__name__), *tree(workflow)])
                break
            if not steps():
                break
    return trees


@pytest.mark.parametrize("path", MODELS, ids=lambda p: p.stem)
def test_handoff_leaves_the_task_tree_spiffworkflow_leaves(path: Path) -> None:
    for seed in range(4):
        spiff = drive(path, seed, lean=False)
        handoff = drive(path, seed, lean=True)
        assert len(handoff) == len(spiff)
        for step, (ours, theirs) in enumerate(zip(handoff, spiff, strict=True)):
            assert ours == theirs, f"{path.name}, seed {seed}: the trees differ after step {step}"


def test_the_join_check_finds_the_tasks_the_walk_finds_in_its_order() -> None:
    """`get_tasks(spec_name=...)` answered from the flat dict: the walk's tasks, in the walk's depth-first
    order, at every step of instances that pass the parallel join (and loop before it)."""
    parsed = validate_files([EXAMPLE]).processes[0]
    spec, subs = codec(parsed.model.dialect).spec_from_dict(parsed.spec)
    names = [s for s in spec.task_specs]
    rng = random.Random(7)
    compared = 0
    for _ in range(20):
        workflow = runtime.Workflow(spec, subs, script_engine=runtime.script_engine())
        workflow.do_engine_steps()
        while not workflow.is_completed():
            for name in names:
                walked = workflow.get_tasks(spec_name=name)
                with lean_queries(workflow):
                    answered = workflow.get_tasks(spec_name=name)
                assert [t.id for t in answered] == [t.id for t in walked], name
                compared += len(walked) > 1
            task = rng.choice(workflow.get_tasks(state=TaskState.READY, manual=True))
            task.data.update({"approved": rng.random() < 0.7, "amount": rng.randint(100, 30000)})
            task.run()
            workflow.do_engine_steps()
    assert compared > 0  # several tasks of one spec (the join's, one per branch) were ordered


@pytest.mark.parametrize("path", [EXAMPLE, DATA / "parallel_optional.bpmn", DATA / "subprocess_lanes.bpmn"])
def test_is_descendant_of_answers_as_spiffworkflows_recursion(path: Path) -> None:
    """The looping `Task.is_descendant_of` Handoff installs against SpiffWorkflow's own, for every pair of
    tasks of trees taken at each step of several instances (loops and parallel branches included)."""
    assert runtime.Task.is_descendant_of is not spiff_is_descendant_of  # installed
    pairs = 0
    for seed in range(3):
        parsed = validate_files([path]).processes[0]
        spec, subs = codec(parsed.model.dialect).spec_from_dict(parsed.spec)
        rng = random.Random(seed)
        workflow = runtime.Workflow(spec, subs, script_engine=runtime.script_engine())
        workflow.do_engine_steps()
        for _ in range(MAX_STEPS):
            tasks = list(runtime.all_tasks(workflow))
            for a in tasks:
                for b in tasks:
                    assert a.is_descendant_of(b) == spiff_is_descendant_of(a, b)
                    pairs += a.is_descendant_of(b)
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = rng.choice(ready)
            task.data.update(
                extra_data(rng) | {"approved": rng.random() < 0.6, "amount": rng.randint(1, 30000)}
            )
            task.run()
            workflow.do_engine_steps()
    assert pairs > 100  # ancestors were found, not only refused

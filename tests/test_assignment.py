"""Work assignment as modellers draw it (issue 15 items 1-2; docs/assignment.md).

A Camunda Modeler file (tests/data/assignment_camunda.bpmn) with assignee, candidate users and groups,
due and follow-up dates and priority, literal and as expressions: deployed with a warning for each
Camunda feature Handoff does not act on, then worked by the assignee, a lane member, a candidate user,
a candidate group's member and an outsider, through the CLI (CliRunner and a real process) and the HTTP
API, on SQLite and PostgreSQL. The lane-SLA example of the issue shows its due time and overdue mark.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA, ROOT, handoff_command, table_rows
from engine import Handoff
from engine.clock import ManualClock
from storage import Database

CLAIM = DATA / "assignment_camunda.bpmn"

# name -> (role, lanes): cfo and fin work in Finance, dora in Sales (a candidate user by name), ed in
# Audit (a candidate group), hal in HR (nobody's candidate), ann administers.
PEOPLE = {
    "ann": ("admin", ()),
    "cfo": ("operator", ("Finance",)),
    "fin": ("operator", ("Finance",)),
    "dora": ("operator", ("Sales",)),
    "ed": ("operator", ("Audit",)),
    "hal": ("operator", ("HR",)),
    "rita": ("operator", ("Requester",)),
}


def cli(url: str, user: str, *args: object, as_json: bool = False) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv)


def ok(url: str, user: str, *args: object) -> Any:
    result = cli(url, user, *args, as_json=True)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return json.loads(result.stdout)


def refused(url: str, user: str, code: int, fragment: str, *args: object) -> None:
    """The command fails with exit `code` and one line naming `fragment`; nothing changed."""
    before = table_rows(url)
    result = cli(url, user, *args)
    assert result.exit_code == code, (args, result.stdout, result.stderr)
    assert fragment in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert table_rows(url) == before


def setup(url: str, clock: Any = None) -> Handoff:
    app = Handoff(Database(url), clock=clock) if clock else Handoff(Database(url))
    app.init()
    app.deploy([CLAIM], actor="setup")
    for name, (role, lanes) in PEOPLE.items():
        app.add_user(name, role=role, lanes=lanes, actor="ann")
    return app


def test_deploy_names_every_camunda_feature_it_does_not_act_on(tmp_path) -> None:
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'h.db'}", "validate", str(CLAIM)])
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "not supported by Handoff" in line]
    assert sorted(w.split(": ", 2)[2] for w in warnings) == [
        "userTask 'Approve claim': camunda:asyncBefore is not supported by Handoff and is ignored",
        "userTask 'Approve claim': camunda:formKey is not supported by Handoff and is ignored",
        "userTask 'Review claim': camunda:taskListener is not supported by Handoff and is ignored",
    ]
    # what it does act on is not reported
    for acted in ("assignee", "candidateUsers", "candidateGroups", "dueDate", "followUpDate", "priority"):
        assert f"camunda:{acted} " not in result.output


def test_an_untranslatable_assignee_expression_is_named_and_ignored(tmp_path) -> None:
    """A Camunda file that ran before assignment was read still deploys (the corpus has Spring-bean
    assignees); the warning names the attribute and says the task is not assigned from it."""
    bad = tmp_path / "bad.bpmn"
    bad.write_text(CLAIM.read_text().replace("${starter}", "${user.name}"))
    result = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'h.db'}", "validate", str(bad)])
    assert result.exit_code == 0, result.output
    assert (
        "warning: element 'enter': camunda:assignee '${user.name}' cannot be translated (property access"
        in result.output
    )
    assert "ignored: the task is not assigned from it" in result.output


def test_assignee_lane_member_candidates_and_outsider_through_the_cli(db_url: str) -> None:
    app = setup(db_url)
    try:
        started = ok(db_url, "rita", "start", "expense_claim", "--data", "starter=rita", "--data-json",
                     json.dumps({"follow_up": "2030-01-20T09:00:00Z"}))  # fmt: skip
        [enter] = started["tasks"]
        # camunda:assignee="${starter}": claimed by the starter from the start
        assert (enter["state"], enter["assignee"]) == ("claimed", "rita")
        ok(db_url, "rita", "complete", enter["id"], "--data", "amount=5000", "--data", "region=EU")

        [approve] = ok(db_url, "ann", "tasks", "--instance", started["id"])
        # ${amount > 1000 ? 'cfo' : 'fin'} and ${amount > 1000 ? 80 : 40}; P2D and PT4H from ready
        assert (approve["element"], approve["state"], approve["assignee"]) == ("approve", "claimed", "cfo")
        assert approve["priority"] == 80 and approve["lane"] == "Finance"
        ready = datetime.fromisoformat(approve["created_at"])
        assert datetime.fromisoformat(approve["due_at"]) == ready + timedelta(days=2)
        assert datetime.fromisoformat(approve["follow_up_at"]) == ready + timedelta(hours=4)
        assert approve["overdue"] is False

        # a lane member may not complete the assignee's task; an outsider may not even try
        refused(db_url, "fin", 5, "is claimed by cfo", "complete", approve["id"])
        refused(db_url, "hal", 9, "hal (operator) may not complete", "complete", approve["id"])
        assert [t["id"] for t in ok(db_url, "cfo", "tasks", "--assignee", "cfo")] == [approve["id"]]
        assert [t["id"] for t in ok(db_url, "cfo", "tasks", "--mine")] == [approve["id"]]
        ok(db_url, "cfo", "complete", approve["id"])

        [review] = ok(db_url, "ann", "tasks", "--instance", started["id"])
        assert (review["state"], review["assignee"]) == ("ready", None)
        assert review["candidate_users"] == ["dora"] and review["candidate_groups"] == ["Audit", "Legal"]
        assert review["due_at"] == "2030-01-31T17:00:00Z" and review["follow_up_at"] == "2030-01-20T09:00:00Z"
        assert review["priority"] == 70

        # who sees it: the lane, the candidate user, the candidate group's member; not the outsider
        for who in ("fin", "dora", "ed"):
            assert review["id"] in [t["id"] for t in ok(db_url, who, "tasks")], who
            assert review["id"] in [t["id"] for t in ok(db_url, who, "tasks", "--mine")], who
        assert ok(db_url, "hal", "tasks") == []
        assert [t["id"] for t in ok(db_url, "ann", "tasks", "--candidate", "ed")] == [review["id"]]
        assert [t["id"] for t in ok(db_url, "ann", "tasks", "--candidate", "dora")] == [review["id"]]
        assert ok(db_url, "ann", "tasks", "--candidate", "hal") == []

        # the outsider is refused; the group member claims, outside Finance; the candidate user then waits
        refused(db_url, "hal", 9, "hal (operator) may not claim", "claim", review["id"])
        claimed = ok(db_url, "ed", "claim", review["id"])
        assert (claimed["state"], claimed["assignee"]) == ("claimed", "ed")
        refused(db_url, "dora", 5, "is claimed by ed", "complete", review["id"])
        ok(db_url, "ed", "unclaim", review["id"])
        ok(db_url, "dora", "claim", review["id"])
        done = ok(db_url, "dora", "complete", review["id"])
        assert done["status"] == "completed"

        # the lane stays the department: history and the handoffs name Finance for both tasks
        history = ok(db_url, "ann", "history", started["id"])
        lanes = {e["element"]: e["lane"] for e in history["timeline"] if e["kind"] == "task_completed"}
        assert lanes == {"enter": "Requester", "approve": "Finance", "review": "Finance"}
        ready_events = {e["element"]: e["data"] for e in history["timeline"] if e["kind"] == "task_ready"}
        assert ready_events["approve"] == {"assignee": "cfo"}
        assert ready_events["review"] == {"candidate_users": ["dora"], "candidate_groups": ["Audit", "Legal"]}
        assert [(h["from_actor"], h["to_actor"]) for h in ok(db_url, "ann", "handoffs")] == [
            ("rita", "cfo"),
            ("cfo", "dora"),
        ]
    finally:
        app.db.dispose()


def test_a_small_amount_goes_to_fin_and_a_failing_expression_is_shown_not_fatal(db_url: str) -> None:
    app = setup(db_url)
    try:
        # no `follow_up` in the data: the review's follow-up date cannot be evaluated; the task still
        # arrives, and history says why its follow-up date is empty
        view = app.start("expense_claim", data={"starter": "rita"}, actor="rita")
        view = app.complete(view.tasks[0].id, data={"amount": 200}, actor="rita")
        [approve] = view.tasks
        assert approve.assignee == "fin" and approve.priority == 40
        view = app.complete(approve.id, actor="fin")
        [review] = view.tasks
        assert review.follow_up_at is None and review.state == "ready"
        timeline = app.history(view.id, actor="ann").instance.timeline or ()
        ready = [e for e in timeline if e.kind == "task_ready"][-1]
        assert ready.data is not None
        [problem] = ready.data["assignment_problems"]
        assert problem.startswith("followUpDate 'follow_up': NameError") and "follow_up" in problem
    finally:
        app.db.dispose()


def test_priority_then_age_orders_the_list(db_url: str) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    app = setup(db_url, clock)
    try:
        ids = []
        for amount in (200, 5000, 300):  # fin (40), cfo (80), fin (40)
            view = app.start("expense_claim", data={"starter": "rita"}, actor="rita")
            clock.advance(minutes=1)
            ids.append(app.complete(view.tasks[0].id, data={"amount": amount}, actor="rita").tasks[0].id)
            clock.advance(minutes=1)
        listed = [(t.id, t.priority) for t in app.tasks(lane="Finance", actor="ann")]
        assert listed == [(ids[1], 80), (ids[0], 40), (ids[2], 40)]
        out = cli(db_url, "ann", "tasks", "--lane", "Finance").stdout
        assert out.splitlines()[0].split()[:9] == ["TASK", "INST", "PROCESS", "NAME", "LANE", "STATE", "ASSIGNEE",
                                                   "PRI", "READY"]  # fmt: skip
    finally:
        app.db.dispose()


def test_the_lane_sla_example_shows_due_and_overdue(db_url: str) -> None:
    """The issue's example: `sla set --lane HR PT1M`, then `tasks` and `tasks --json` show the due time
    (ready + 1 minute) and the overdue mark, as `worker --once` reports the delay."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    app = Handoff(Database(db_url), clock=ManualClock(an_hour_ago))
    try:
        app.init()
        app.deploy([DATA / "web_api_order.bpmn"], actor="setup")  # no `sla` property of its own
        [register] = app.start("web_api_order", actor="ann").tasks
        lane = register.lane
        fresh = app.start("web_api_order", actor="ann").tasks[0]
    finally:
        app.db.dispose()
    assert ok(db_url, "ann", "tasks")[0]["due_at"] is None
    assert cli(db_url, "ann", "sla", "set", "--lane", lane, "PT1M").exit_code == 0
    listed = ok(db_url, "ann", "tasks")
    first = next(t for t in listed if t["id"] == register.id)
    assert datetime.fromisoformat(first["due_at"]) == register.created_at + timedelta(minutes=1)
    assert first["overdue"] is True
    text = cli(db_url, "ann", "tasks").stdout
    row = next(line for line in text.splitlines() if line.startswith(f"{register.id} "))
    due = (register.created_at + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    assert f"{due} OVERDUE" in row
    assert {t["id"] for t in ok(db_url, "ann", "tasks", "--overdue")} == {register.id, fresh.id}
    [shown] = ok(db_url, "ann", "show", register.instance)["tasks"]  # show gives the same due time
    assert (shown["due_at"], shown["overdue"]) == (first["due_at"], True)
    # a global default does not override the lane's; a longer lane SLA makes nothing overdue
    assert cli(db_url, "ann", "sla", "set", "--lane", lane, "PT2H").exit_code == 0
    assert ok(db_url, "ann", "tasks", "--overdue") == []
    worker = cli(db_url, "ann", "worker", "--once")
    assert worker.exit_code == 0


def test_tasks_json_through_a_real_process(db_url: str) -> None:
    app = setup(db_url)
    app.db.dispose()
    env_cmd = [*handoff_command(), "--db", db_url, "--user", "rita", "--json"]
    started = subprocess.run(
        [*env_cmd, "start", "expense_claim", "--data", "starter=rita"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert started.returncode == 0, started.stderr
    listed = subprocess.run([*env_cmd, "tasks", "--mine"], capture_output=True, text=True, cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    [task] = json.loads(listed.stdout)
    for key in ("candidate_users", "candidate_groups", "priority", "due_at", "follow_up_at", "overdue"):
        assert key in task
    assert (task["assignee"], task["priority"], task["candidate_users"]) == ("rita", 50, [])


@pytest.fixture
def served(db_url: str):
    from engine import signin
    from web import create_app
    from web_server import serve_in_thread

    app = setup(db_url)
    tokens = {name: signin.create_token(app, name, expires=None, actor="ann").token for name in PEOPLE}
    app.db.dispose()
    with serve_in_thread(create_app(db_url, with_pages=False)) as url:
        yield url, tokens


def test_the_same_through_the_http_api(served, db_url: str) -> None:
    import httpx

    url, tokens = served

    def client(name: str) -> httpx.Client:
        return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {tokens[name]}"}, timeout=30)

    with (
        client("rita") as rita,
        client("cfo") as cfo,
        client("fin") as fin,
        client("hal") as hal,
        client("ed") as ed,
        client("dora") as dora,
        client("ann") as ann,
    ):
        r = rita.post("/api/processes/expense_claim/instances", json={"data": {"starter": "rita"}})
        assert r.status_code == 201, r.text
        instance = r.json()["id"]
        [enter] = r.json()["tasks"]
        assert (enter["state"], enter["assignee"]) == ("claimed", "rita")
        r = rita.post(f"/api/tasks/{enter['id']}/complete", json={"data": {"amount": 5000}})
        assert r.status_code == 200, r.text
        [approve] = r.json()["tasks"]
        assert approve["assignee"] == "cfo"
        assert fin.post(f"/api/tasks/{approve['id']}/complete", json={}).status_code == 409
        assert hal.post(f"/api/tasks/{approve['id']}/complete", json={}).status_code == 403
        mine = cfo.get("/api/tasks", params={"mine": "1"}).json()
        assert [(t["id"], t["priority"]) for t in mine] == [(approve["id"], 80)]
        r = cfo.post(f"/api/tasks/{approve['id']}/complete", json={})
        assert r.status_code == 200, r.text
        [review] = r.json()["tasks"]

        # the candidate group's member sees and opens it outside Finance; the outsider gets 403
        assert ed.get(f"/api/tasks/{review['id']}").json()["candidate_groups"] == ["Audit", "Legal"]
        assert hal.get(f"/api/tasks/{review['id']}").status_code == 403
        assert hal.get("/api/tasks").json() == []
        listed = ann.get("/api/tasks", params={"candidate": "dora"}).json()
        assert [t["id"] for t in listed] == [review["id"]]
        assert ann.get("/api/tasks", params={"assignee": "cfo"}).json() == []
        assert ann.get("/api/tasks", params={"overdue": "1"}).json() == []
        before = table_rows(db_url)
        assert hal.post(f"/api/tasks/{review['id']}/claim").status_code == 403
        assert table_rows(db_url) == before
        r = dora.post(f"/api/tasks/{review['id']}/claim")
        assert r.status_code == 200 and r.json()["assignee"] == "dora"
        assert ed.post(f"/api/tasks/{review['id']}/complete", json={}).status_code == 409
        r = dora.post(f"/api/tasks/{review['id']}/complete", json={})
        assert r.status_code == 200 and r.json()["status"] == "completed"
        assert ann.get(f"/api/instances/{instance}").json()["status"] == "completed"


def test_spiffarena_properties_and_lane_owners(db_url: str) -> None:
    """SpiffArena's equivalents: Python expressions in spiffworkflow:properties, and `lane_owners`."""
    app = Handoff(Database(db_url))
    try:
        app.init()
        report = app.deploy([DATA / "assignment_spiff.bpmn"], actor="setup")
        assert report
        for name, (role, lanes) in PEOPLE.items():
            app.add_user(name, role=role, lanes=lanes, actor="ann")
    finally:
        app.db.dispose()
    started = ok(db_url, "rita", "start", "spiff_claim", "--data", "starter=rita")
    [enter] = started["tasks"]
    assert (enter["state"], enter["assignee"], enter["priority"]) == ("claimed", "rita", 65)
    assert datetime.fromisoformat(enter["due_at"]) == datetime.fromisoformat(enter["created_at"]) + timedelta(
        days=1
    )
    done = ok(db_url, "rita", "complete", enter["id"], "--data-json", '{"amount": 5000}')
    [approve] = done["tasks"]
    # lane_owners made dora (Sales) a candidate of the Finance task; the expression added group Audit
    assert approve["candidate_users"] == ["dora"] and approve["candidate_groups"] == ["Audit"]
    assert approve["follow_up_at"] == "2030-01-02T09:00:00Z" and approve["lane"] == "Finance"
    refused(db_url, "hal", 9, "hal (operator) may not claim", "claim", approve["id"])
    assert ok(db_url, "dora", "claim", approve["id"])["assignee"] == "dora"
    assert ok(db_url, "dora", "complete", approve["id"])["status"] == "completed"

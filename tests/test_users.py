"""People, lanes and roles (issue 7 item 2; docs/users.md).

Single-user mode until the first user (an admin) is added; then every service checks its actor: the
role for each action family, and for operators the lane of the task itself. A refusal is `Forbidden`
(exit 9), one line naming the user, the action and what is needed, and leaves the database unchanged.
User management is audited. Every test runs on SQLite and PostgreSQL (`db_url`), through the services,
click's CliRunner and real processes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli import main
from conftest import DATA, EXAMPLE, ROOT, table_rows
from engine import Conflict, Forbidden, Handoff, HandoffError, InvalidInput, NotFound, ScriptFailed

CS, FINANCE = "Customer Service", "Finance"
ORDER = {"customer": "ACME", "amount": 25000}  # high risk: Approve credit (Finance) follows
SINGLE_USER_LINE = (
    "no users yet: single-user mode, anyone may do anything; "
    "add the first admin with 'handoff users add NAME --role admin'"
)

# --- helpers -----------------------------------------------------------------------------------------


def staff(app: Handoff) -> None:
    """root (admin), dee (designer), olga (operator, Customer Service), fin (operator, Finance and
    Sales), ana (analyst); order_to_cash and bad_script deployed before the first user."""
    app.deploy([EXAMPLE], actor="setup")
    app.deploy([DATA / "bad_script.bpmn"], actor="setup")
    app.add_user("root", role="admin", actor="setup")
    app.add_user("dee", role="designer", actor="root")
    app.add_user("olga", role="operator", lanes=[CS], actor="root")
    app.add_user("fin", role="operator", lanes=[FINANCE, "Sales"], actor="root")
    app.add_user("ana", role="analyst", actor="root")


def register_task(app: Handoff) -> int:
    """A fresh instance's Register order task (lane Customer Service), started by root."""
    view = app.start("order_to_cash", actor="root")
    [task] = view.tasks
    assert task.lane == CS
    return task.id


def approve_task(app: Handoff) -> int:
    """A fresh instance's Approve credit task (lane Finance)."""
    view = app.complete(register_task(app), data=ORDER, actor="root")
    [task] = view.tasks
    assert task.lane == FINANCE
    return task.id


def forbidden(app: Handoff, db_url: str, action: Callable[[], Any], *fragments: str) -> str:
    """The action is refused with Forbidden, one line with these fragments; no row of any table moved."""
    before = table_rows(db_url)
    with pytest.raises(Forbidden) as caught:
        action()
    assert table_rows(db_url) == before
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    return message


# --- single-user mode and the first user -------------------------------------------------------------


def test_single_user_mode_checks_nothing(app: Handoff) -> None:
    assert app.single_user_mode()
    assert app.users() == []
    assert app.lane_members(CS) == []
    app.deploy([EXAMPLE], actor=None)
    view = app.start("order_to_cash", actor="anyone")
    task = view.tasks[0].id
    assert [t.id for t in app.tasks(actor="whoever")] == [task]
    app.claim(task, actor="x")
    app.unclaim(task, actor="y")
    app.complete(task, data=ORDER, actor=None)
    app.set_sla("PT1H", lane=CS, actor="z")
    app.handoffs(actor=None)
    app.report(actor="nobody")
    assert app.export(io.StringIO(), "csv", actor="q") > 0
    assert app.audit_log() == []


def test_first_user_must_be_an_admin(app: Handoff, db_url: str) -> None:
    before = table_rows(db_url)
    for role in ("operator", "designer", "analyst", None):
        with pytest.raises(InvalidInput, match="first user must be an admin"):
            app.add_user("bob", role=role, lanes=[CS], actor="bob")
    assert table_rows(db_url) == before
    assert app.single_user_mode()
    added = app.add_user("ann", role="admin", actor="installer")
    assert added.action == "added" and added.user.role == "admin" and added.user.created_by == "installer"
    assert not app.single_user_mode()
    # From now on only admins manage users; the installer's login is nobody here.
    forbidden(app, db_url, lambda: app.add_user("bob", role="operator", actor="installer"), "installer")


def test_bad_user_input_is_refused(app: Handoff, db_url: str) -> None:
    app.add_user("root", role="admin", actor="root")
    before = table_rows(db_url)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: app.add_user("x", role="boss", actor="root"), "unknown role 'boss'"),
        (lambda: app.add_user("two words", actor="root"), "may not contain spaces"),
        (lambda: app.add_user("  ", actor="root"), "needs a name"),
        (lambda: app.add_user("x", lanes=[" "], actor="root"), "a lane needs a name"),
        (lambda: app.add_user("x" * 256, actor="root"), "at most 255"),
    ]
    for action, fragment in cases:
        with pytest.raises(InvalidInput, match=fragment):
            action()
    with pytest.raises(NotFound, match="user ghost does not exist"):
        app.remove_user("ghost", actor="root")
    assert table_rows(db_url) == before


# --- the role matrix ---------------------------------------------------------------------------------

ROLE_ACTORS = {"admin": "root", "designer": "dee", "operator": "olga", "analyst": "ana"}


def _read(app: Handoff, actor: str | None, _: Any) -> None:
    app.processes(actor=actor)
    instance = app.instances(actor=actor)[0].id
    app.show(instance, actor=actor)
    app.sla_settings(actor=actor)
    app.users(actor=actor)


def _history(app: Handoff, actor: str | None, _: Any) -> None:
    app.handoffs(actor=actor)
    app.crossings(actor=actor)
    app.delays(actor=actor)


def _report(app: Handoff, actor: str | None, _: Any) -> None:
    app.report(actor=actor)
    app.report_html(actor=actor)


def _retry(app: Handoff, actor: str | None, instance: int) -> None:
    with contextlib.suppress(ScriptFailed):  # allowed, and the script still fails: nothing changed
        app.retry(instance, actor=actor)


def _failed_instance(app: Handoff) -> int:
    with pytest.raises(ScriptFailed) as caught:
        app.start("bad_script", actor="root")
    assert caught.value.instance_id is not None
    return caught.value.instance_id


def _claimed_task(app: Handoff) -> int:
    task = register_task(app)
    app.claim(task, actor="root")
    return task


# action family -> (what it does, what it needs prepared by root, the roles allowed)
MATRIX: dict[
    str, tuple[Callable[[Handoff, str | None, Any], Any], Callable[[Handoff], Any] | None, set[str]]
] = {
    "deploy": (lambda a, who, _: a.deploy([DATA / "no_lanes.bpmn"], actor=who), None, {"admin", "designer"}),
    "start": (lambda a, who, _: a.start("order_to_cash", actor=who), None, {"admin", "designer", "operator"}),
    "read": (_read, None, {"admin", "designer", "operator", "analyst"}),
    "tasks": (lambda a, who, _: a.tasks(actor=who), None, {"admin", "operator"}),
    "claim": (lambda a, who, t: a.claim(t, actor=who), register_task, {"admin", "operator"}),
    "unclaim": (lambda a, who, t: a.unclaim(t, actor=who), _claimed_task, {"admin", "operator"}),
    "complete": (
        lambda a, who, t: a.complete(t, data=ORDER, actor=who),
        register_task,
        {"admin", "operator"},
    ),
    "history": (_history, None, {"admin", "analyst"}),
    "report": (_report, None, {"admin", "analyst"}),
    "export": (lambda a, who, _: a.export(io.StringIO(), "csv", actor=who), None, {"admin", "analyst"}),
    "audit": (lambda a, who, _: a.audit_log(actor=who), None, {"admin", "analyst"}),
    "retry": (_retry, _failed_instance, {"admin"}),
    "sla": (lambda a, who, _: a.set_sla("PT2H", lane="Sales", actor=who), None, {"admin"}),
    "users": (lambda a, who, _: a.add_user(f"new-{who}", role="analyst", actor=who), None, {"admin"}),
}


@pytest.mark.parametrize("family", list(MATRIX))
def test_each_role_allowed_or_forbidden(app: Handoff, db_url: str, family: str) -> None:
    action, prepare, allowed = MATRIX[family]
    staff(app)
    register_task(app)  # an instance to read
    for role, actor in ROLE_ACTORS.items():
        prepared = prepare(app) if prepare else None
        if role in allowed:
            action(app, actor, prepared)
        else:
            message = forbidden(
                app,
                db_url,
                lambda actor=actor, prepared=prepared: action(app, actor, prepared),
                f"{actor} ({role}) may not",
            )
            assert "needs role" in message and "admin" in message, message
    # Unknown once users exist, or no name at all: refused whatever the action.
    prepared = prepare(app) if prepare else None
    forbidden(app, db_url, lambda: action(app, "zed", prepared), "zed may not", "not a registered user")
    forbidden(app, db_url, lambda: action(app, None, prepared), "without a name", "--user")


# --- lanes -------------------------------------------------------------------------------------------


def test_operators_see_and_act_on_their_own_lanes_only(app: Handoff, db_url: str) -> None:
    staff(app)
    cs_task = register_task(app)
    fin_task = approve_task(app)
    assert {t.lane for t in app.tasks(actor="root")} == {CS, FINANCE}  # admins see every lane
    assert [t.id for t in app.tasks(actor="olga")] == [cs_task]
    assert [t.id for t in app.tasks(actor="fin")] == [fin_task]
    assert app.tasks(actor="fin", lane="Sales") == []
    forbidden(app, db_url, lambda: app.tasks(actor="olga", lane=FINANCE), "olga", "lane Finance")
    # The check is on the task's own lane, whatever the caller knows of it.
    for verb, call in [
        ("claim", lambda: app.claim(fin_task, actor="olga")),
        ("complete", lambda: app.complete(fin_task, data={"approved": True}, actor="olga")),
    ]:
        message = forbidden(app, db_url, call, f"olga (operator) may not {verb} task {fin_task}")
        assert "it is in lane Finance; olga works in Customer Service" in message
    app.claim(fin_task, actor="root")
    forbidden(app, db_url, lambda: app.unclaim(fin_task, actor="olga"), "may not release", "lane Finance")
    app.unclaim(fin_task, actor="fin")  # an operator of the lane may release a colleague's claim
    # Given the lane, olga may: her lanes are re-read at once by the object that changed them.
    change = app.add_user("olga", lanes=[CS, FINANCE], actor="root")
    assert change.action == "changed" and change.changes == (
        "lanes Customer Service -> Customer Service, Finance",
    )
    assert {t.id for t in app.tasks(actor="olga")} == {cs_task, fin_task}
    app.complete(fin_task, data={"approved": True}, actor="olga")


def test_a_task_in_no_lane_is_for_admins_only(app: Handoff, db_url: str) -> None:
    staff(app)
    app.deploy([DATA / "no_lanes.bpmn"], actor="dee")
    [task] = app.start("two_steps", actor="olga").tasks
    assert task.lane is None
    assert app.tasks(actor="olga") == []
    forbidden(app, db_url, lambda: app.claim(task.id, actor="olga"), "it is in no lane, so only an admin may")
    app.complete(task.id, actor="root")


def test_lane_members_are_the_lane_operators_and_admins(app: Handoff) -> None:
    staff(app)
    app.add_user("carl", role="operator", lanes=[CS], actor="root")
    app.add_user("boss", role="admin", lanes=[CS], actor="root")
    app.add_user("dee", lanes=[CS], actor="root")  # a designer with a lane works no tasks
    assert app.lane_members(CS) == ["boss", "carl", "olga"]
    assert app.lane_members("Sales") == ["fin"]
    assert app.lane_members("Nowhere") == []
    app.remove_user("carl", actor="root")
    assert app.lane_members(CS) == ["boss", "olga"]


# --- changing and removing users ---------------------------------------------------------------------


def test_adding_an_existing_user_updates_and_says_so(app: Handoff, db_url: str, clock: Any) -> None:
    staff(app)
    same = app.add_user("olga", actor="root")
    assert same.action == "unchanged" and same.user.lanes == (CS,) and same.user.role == "operator"
    clock.advance(minutes=5)
    changed = app.add_user("olga", role="analyst", actor="root")
    assert changed.action == "changed" and changed.changes == ("role operator -> analyst",)
    assert changed.user.lanes == (CS,)  # lanes not given: kept
    assert changed.user.updated_by == "root" and changed.user.updated_at == clock()
    assert changed.user.created_by == "root" and changed.user.created_at < clock()
    forbidden(app, db_url, lambda: app.tasks(actor="olga"), "olga (analyst) may not list tasks")


def test_removing_a_user_revokes_access(app: Handoff, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    staff(app)
    other = Handoff(app.db, clock=app.clock)  # another process, with its own cache of the user table
    task = register_task(app)
    assert [t.id for t in other.tasks(actor="olga")] == [task]
    removed = app.remove_user("olga", actor="root")
    assert removed.name == "olga" and removed.lanes == (CS,)
    forbidden(app, db_url, lambda: app.claim(task, actor="olga"), "olga may not", "not a registered user")
    forbidden(app, db_url, lambda: app.show(1, actor="olga"), "not a registered user")
    # Another object re-reads the table within USERS_CACHE_SECONDS (docs/users.md).
    from engine.kernel import permissions

    later = permissions.time.monotonic() + permissions.Permissions.CACHE_SECONDS + 1
    monkeypatch.setattr(permissions.time, "monotonic", lambda: later)
    forbidden(other, db_url, lambda: other.claim(task, actor="olga"), "not a registered user")
    # Her history keeps her name.
    app.add_user("olga", role="operator", lanes=[CS], actor="root")
    app.complete(task, data=ORDER, actor="olga")
    assert any(e.actor == "olga" for e in app.show(1, actor="root").timeline)


def test_the_last_admin_stays(app: Handoff, db_url: str) -> None:
    staff(app)
    before = table_rows(db_url)
    with pytest.raises(Conflict, match="root is the last admin"):
        app.remove_user("root", actor="root")
    with pytest.raises(Conflict, match="root is the last admin"):
        app.add_user("root", role="operator", actor="root")
    assert table_rows(db_url) == before
    app.add_user("rita", role="admin", actor="root")
    app.remove_user("root", actor="rita")
    forbidden(app, db_url, lambda: app.users(actor="root"), "root may not")
    assert [u.name for u in app.users(actor="rita") if u.role == "admin"] == ["rita"]


def test_user_management_is_audited(app: Handoff, clock: Any) -> None:
    staff(app)
    clock.advance(hours=1)
    app.add_user("olga", role="operator", lanes=[FINANCE], actor="root")
    clock.advance(hours=1)
    app.remove_user("fin", actor="root")
    log = app.audit_log(actor="ana")
    assert [(e.action, e.subject, e.actor) for e in log] == [
        ("user_added", "root", "setup"),
        ("user_added", "dee", "root"),
        ("user_added", "olga", "root"),
        ("user_added", "fin", "root"),
        ("user_added", "ana", "root"),
        ("user_changed", "olga", "root"),
        ("user_removed", "fin", "root"),
    ]
    changed, removed = log[-2], log[-1]
    assert changed.data == {
        "role": "operator",
        "lanes": [FINANCE],
        "before": {"role": "operator", "lanes": [CS]},
    }
    assert removed.data == {"role": "operator", "lanes": [FINANCE, "Sales"]}
    assert removed.at - changed.at == clock() - changed.at
    assert [e.action for e in app.audit_log(subject="olga", actor="root")] == ["user_added", "user_changed"]
    # Unchanged adds and refused ones leave no entry.
    app.add_user("olga", lanes=[FINANCE], actor="root")
    with pytest.raises(Forbidden):
        app.add_user("eve", role="admin", actor="olga")
    assert len(app.audit_log(actor="root")) == len(log)


def test_migration_0004_downgrades_and_upgrades(app: Handoff) -> None:
    from alembic import command

    staff(app)
    config = app.db._alembic_config()
    command.downgrade(config, "0003")
    assert app.db.current_revision() == "0003"
    command.upgrade(config, "head")
    assert app.db.current_revision() == app.db.head_revision()
    assert app.single_user_mode()


# --- the command line --------------------------------------------------------------------------------


def cli(url: str, user: str, *args: object, as_json: bool = False) -> Result:
    argv = ["--db", url, "--user", user, *(["--json"] if as_json else []), *(str(a) for a in args)]
    return CliRunner().invoke(main, argv)


def ok(url: str, user: str, *args: object) -> Any:
    result = cli(url, user, *args, as_json=True)
    assert result.exit_code == 0, (args, result.stdout, result.stderr, result.exception)
    return json.loads(result.stdout)


def one_error(result: Result, code: int, *fragments: str) -> str:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == code, (result.exit_code, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def test_cli_init_says_single_user_mode(db_url: str) -> None:
    result = cli(db_url, "ann", "init")
    assert result.exit_code == 0, result.stderr
    assert SINGLE_USER_LINE in result.stdout
    assert ok(db_url, "ann", "init")["single_user_mode"] is True
    assert cli(db_url, "ann", "users", "list").stdout.strip() == SINGLE_USER_LINE
    one_error(cli(db_url, "ann", "users", "add", "ann"), 2, "the first user must be an admin")
    added = ok(db_url, "installer", "users", "add", "ann", "--role", "admin")
    assert added["action"] == "added" and added["created_by"] == "installer"
    result = cli(db_url, "ann", "init")
    assert SINGLE_USER_LINE not in result.stdout and "roles and lanes are checked" in result.stdout
    assert ok(db_url, "ann", "init")["single_user_mode"] is False


@pytest.fixture
def cli_staffed(db_url: str) -> str:
    assert cli(db_url, "setup", "init").exit_code == 0
    ok(db_url, "setup", "users", "add", "root", "--role", "admin")
    ok(db_url, "root", "users", "add", "dee", "--role", "designer")
    ok(db_url, "root", "users", "add", "olga", "--lane", CS)
    ok(db_url, "root", "users", "add", "fin", "--lane", FINANCE, "--lane", "Sales", "--role", "operator")
    ok(db_url, "root", "users", "add", "ana", "--role", "analyst")
    ok(db_url, "dee", "deploy", EXAMPLE)
    ok(db_url, "dee", "deploy", DATA / "bad_script.bpmn")
    return db_url


def test_cli_users_add_list_remove(cli_staffed: str) -> None:
    url = cli_staffed
    listed = ok(url, "olga", "users", "list")
    assert [(u["name"], u["role"], u["lanes"]) for u in listed] == [
        ("ana", "analyst", []),
        ("dee", "designer", []),
        ("fin", "operator", [FINANCE, "Sales"]),
        ("olga", "operator", [CS]),
        ("root", "admin", []),
    ]
    assert all(u["created_at"].endswith("Z") for u in listed)
    assert {u["name"]: u["created_by"] for u in listed}["olga"] == "root"
    text = cli(url, "root", "users", "list").stdout
    assert "NAME" in text and "olga" in text and CS in text
    result = cli(url, "root", "users", "add", "olga", "--lane", FINANCE)
    assert result.exit_code == 0
    assert result.stdout.strip() == "olga already existed and was updated: lanes Customer Service -> Finance"
    assert "unchanged" in cli(url, "root", "users", "add", "olga").stdout
    result = cli(url, "root", "users", "add", "wes", "--lane", "Warehous")
    assert "warning: no deployed process has a lane 'Warehous'" in result.stderr
    assert ok(url, "root", "users", "remove", "wes")["action"] == "removed"
    log = ok(url, "ana", "users", "log", "--name", "olga")
    assert [(e["action"], e["actor"]) for e in log] == [("user_added", "root"), ("user_changed", "root")]
    assert "user changed" in cli(url, "ana", "users", "log").stdout
    for args in (["users"], ["users", "add"], ["users", "list"], ["users", "remove"], ["users", "log"]):
        help_text = cli(url, "root", *args, "--help").stdout
        assert "Example" in help_text and "handoff users" in help_text


def test_cli_errors_one_line_and_database_unchanged(cli_staffed: str, tmp_path: Path) -> None:
    url = cli_staffed
    instance = ok(url, "olga", "start", "order_to_cash")["id"]
    cs_task = ok(url, "olga", "tasks")[0]["id"]
    failed = cli(url, "root", "start", "bad_script", as_json=True)
    assert failed.exit_code == 6
    out = tmp_path / "log.csv"
    cases: list[tuple[str, list[object], int, tuple[str, ...]]] = [
        (
            "olga",
            ["deploy", DATA / "no_lanes.bpmn"],
            9,
            ("olga (operator) may not deploy", "designer or admin"),
        ),
        ("ana", ["start", "order_to_cash"], 9, ("ana (analyst) may not start instances",)),
        (
            "fin",
            ["claim", cs_task],
            9,
            (f"fin (operator) may not claim task {cs_task}", "lane Customer Service"),
        ),
        (
            "fin",
            ["complete", cs_task, "--data", "customer=x", "--data", "amount=1"],
            9,
            ("may not complete",),
        ),
        ("ana", ["tasks"], 9, ("ana (analyst) may not list tasks", "operator or admin")),
        (
            "olga",
            ["tasks", "--lane", FINANCE],
            9,
            ("olga (operator) may not list the tasks of lane Finance",),
        ),
        ("olga", ["users", "add", "eve", "--role", "admin"], 9, ("olga (operator) may not manage users",)),
        ("ana", ["users", "remove", "olga"], 9, ("ana (analyst) may not manage users",)),
        ("olga", ["users", "log"], 9, ("may not read the audit log",)),
        ("dee", ["sla", "set", "--lane", "Sales", "PT1H"], 9, ("dee (designer) may not set SLAs", "admin")),
        ("olga", ["retry", failed_id(failed)], 9, ("olga (operator) may not retry incidents",)),
        ("olga", ["history", instance], 9, ("olga (operator) may not read history records",)),
        ("dee", ["handoffs"], 9, ("analyst or admin",)),
        ("olga", ["report"], 9, ("may not read the report",)),
        ("dee", ["export", "--format", "csv", "--out", out], 9, ("dee (designer) may not export",)),
        ("zed", ["processes"], 9, ("zed may not", "not a registered user")),
        ("zed", ["show", instance], 9, ("zed may not",)),
        ("root", ["users", "remove", "root"], 5, ("root is the last admin",)),
        ("root", ["users", "add", "x", "--role", "boss"], 2, ("unknown role 'boss'",)),
        ("root", ["users", "remove", "ghost"], 4, ("user ghost does not exist",)),
    ]
    for user, args, code, fragments in cases:
        before = table_rows(url)
        one_error(cli(url, user, *args), code, *fragments)
        result = cli(url, user, *args, as_json=True)
        line = one_error(result, code, *fragments)
        assert json.loads(result.stdout) == {"error": line.removeprefix("error: ")}
        assert table_rows(url) == before, (user, args)
    assert not out.exists()
    # What each may do still works: reads are open to every registered user.
    for user in ("ana", "dee", "olga", "fin", "root"):
        assert ok(url, user, "show", instance)["id"] == instance
        assert ok(url, user, "processes")
    assert ok(url, "ana", "history", instance)["id"] == instance
    assert ok(url, "olga", "claim", cs_task)["assignee"] == "olga"


def failed_id(result: Result) -> int:
    return int(json.loads(result.stdout)["instance"])


# --- real processes ----------------------------------------------------------------------------------


def _commands() -> list[list[str]]:
    commands = [[sys.executable, str(ROOT / "cli.py")]]
    exe = shutil.which("handoff")
    if exe:
        commands.append([exe])
    return commands


@pytest.mark.parametrize("command", _commands(), ids=["python_cli_py", "handoff_exe"][: len(_commands())])
def test_roles_through_real_processes(db_url: str, command: list[str], tmp_path: Path) -> None:
    # The installed `handoff` may be another checkout's: put this one first, and check that it is used.
    env = {k: v for k, v in os.environ.items() if k not in ("HANDOFF_DB", "HANDOFF_USER")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])

    def run(user: str, *args: object, as_json: bool = False) -> subprocess.CompletedProcess[str]:
        argv = [*command, "--db", db_url, "--user", user, *(["--json"] if as_json else []), *map(str, args)]
        return subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)

    proc = run("setup", "init")
    assert proc.returncode == 0 and SINGLE_USER_LINE in proc.stdout, proc.stderr
    assert run("setup", "users", "add", "root", "--role", "admin").returncode == 0
    assert run("root", "users", "add", "olga", "--lane", CS).returncode == 0
    assert run("root", "users", "add", "fin", "--lane", FINANCE).returncode == 0
    assert run("root", "deploy", EXAMPLE).returncode == 0
    started = run("olga", "start", "order_to_cash", as_json=True)
    task = json.loads(started.stdout)["tasks"][0]["id"]
    proc = run("fin", "claim", task)
    assert proc.returncode == 9 and proc.stdout == ""
    assert proc.stderr.strip() == (
        f"error: fin (operator) may not claim task {task} (Register order): it is in lane Customer Service; "
        "fin works in Finance"
    )
    assert json.loads(run("fin", "tasks", as_json=True).stdout) == []
    assert run("olga", "claim", task).returncode == 0
    listed = json.loads(run("olga", "users", "list", as_json=True).stdout)
    assert {u["name"]: u["created_by"] for u in listed} == {"fin": "root", "olga": "root", "root": "setup"}
    assert run("root", "users", "remove", "olga").returncode == 0
    proc = run("olga", "complete", task, "--data", "customer=ACME", "--data", "amount=5")
    assert (
        proc.returncode == 9 and "olga may not complete tasks: olga is not a registered user" in proc.stderr
    )
    log = json.loads(run("root", "users", "log", as_json=True).stdout)
    assert [e["action"] for e in log][-1] == "user_removed"


def test_exit_code_9_is_documented() -> None:
    assert Forbidden.exit_code == 9 and issubclass(Forbidden, HandoffError)
    readme = (ROOT / "README.md").read_text()
    assert "9 forbidden" in readme
    assert (ROOT / "docs" / "users.md").exists()

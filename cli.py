"""`handoff`: the command line. Thin over engine.Handoff: parse options, call one service, print.

Heavy modules (SpiffWorkflow, SQLAlchemy) are imported inside the commands so `handoff --help` is fast.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

import click

if TYPE_CHECKING:
    from engine import Handoff, InstanceView, TaskView, Wait

DEFAULT_DB = "sqlite:///handoff.db"


class Context:
    def __init__(self, db_url: str, user: str, as_json: bool) -> None:
        self.db_url = db_url
        self.user = user
        self.as_json = as_json
        self._app: Handoff | None = None

    def app(self) -> Handoff:
        if self._app is None:
            from engine import Handoff, SetupRequired
            from storage import Database, StorageError

            try:
                database = Database(self.db_url)
            except StorageError as exc:
                raise SetupRequired(str(exc)) from exc
            self._app = Handoff(database)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.db.dispose()


pass_ctx = click.make_pass_decorator(Context)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def fail(ctx: Context | None, message: str, code: int = 1) -> NoReturn:
    message = " ".join(message.split())
    click.echo(f"error: {message}", err=True)
    if ctx is not None and ctx.as_json:
        click.echo(json.dumps({"error": message}))
    sys.exit(code)


def run(ctx: Context, action: Callable[[], Any]) -> Any:
    """Call an engine service; its errors become one line on stderr and the error's exit code."""
    from engine import HandoffError

    try:
        return action()
    except HandoffError as exc:
        fail(ctx, str(exc), exc.exit_code)


def emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    from engine.text import table as text_table

    return text_table(headers, rows)


def iso_time(text: str) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def when(value: Any) -> str:
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--db",
    "db_url",
    envvar="HANDOFF_DB",
    default=DEFAULT_DB,
    show_default=True,
    help="Database URL (sqlite:///file.db or postgresql://user@host/db); env HANDOFF_DB.",
)
@click.option(
    "--user",
    envvar="HANDOFF_USER",
    default=None,
    help="Who is acting; env HANDOFF_USER, else your login name.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output on stdout.")
@click.version_option(package_name="handoff")
@click.pass_context
def main(click_ctx: click.Context, db_url: str, user: str | None, as_json: bool) -> None:
    """Handoff runs BPMN processes and shows where work waits and crosses departments.

    \b
    Start here:
      handoff init                      create the database (handoff.db here)
      handoff deploy examples/order-to-cash.bpmn
      handoff start order_to_cash
      handoff tasks                     the open tasks, with their forms
      handoff complete 1 --data customer=ACME --data amount=2500
      handoff show 1                    status, data, open tasks, timeline
    """
    ctx = Context(db_url, user or _default_user(), as_json)
    click_ctx.obj = ctx
    click_ctx.call_on_close(ctx.close)


# --- setup and definitions ---------------------------------------------------------------------------


@main.command()
@pass_ctx
def init(ctx: Context) -> None:
    """Create the database schema, or upgrade it to this version of Handoff.

    \b
    Example:
      handoff --db sqlite:///work.db init
    """
    before, after = run(ctx, ctx.app().init)
    url = ctx.app().db.display_url()
    single = run(ctx, ctx.app().single_user_mode)
    if ctx.as_json:
        emit_json({"database": url, "from": before, "to": after, "single_user_mode": single})
        return
    if before == after:
        click.echo(f"{url}: schema is up to date (revision {after})")
    elif before is None:
        click.echo(f"{url}: schema created (revision {after})")
    else:
        click.echo(f"{url}: schema upgraded from {before} to {after}")
    if single:
        click.echo(
            "no users yet: single-user mode, anyone may do anything; "
            "add the first admin with 'handoff users add NAME --role admin'"
        )
    else:
        click.echo("users are registered: roles and lanes are checked (handoff users list)")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@pass_ctx
def validate(ctx: Context, files: tuple[str, ...]) -> None:
    """Parse and lint BPMN/DMN files without storing anything.

    Every problem is printed as FILE:LINE: MESSAGE; warnings do not fail. Files over 10 MiB
    (HANDOFF_MAX_UPLOAD, e.g. 20MiB), DOCTYPEs and entities, and binary files are refused.

    \b
    Example:
      handoff validate examples/order-to-cash.bpmn
    """
    import bpmn
    from engine.input_limits import upload_limit

    report = bpmn.validate_files(files, max_bytes=run(ctx, upload_limit))
    if ctx.as_json:
        emit_json(
            {
                "ok": report.ok,
                "processes": [p.model.process_id for p in report.processes],
                "problems": [
                    {"file": p.file, "line": p.line, "severity": p.severity, "message": p.message}
                    for p in report.problems
                ],
            }
        )
    else:
        for problem in report.problems:
            click.echo(str(problem), err=problem.severity == "error")
        if report.ok:
            names = ", ".join(p.model.process_id for p in report.processes)
            click.echo(f"ok: {names}" + (f" ({len(report.warnings)} warnings)" if report.warnings else ""))
    if not report.ok:
        sys.exit(3)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--trusted-scripts",
    is_flag=True,
    help="Run these versions' scripts as full Python (imports, files, network) instead of in the "
    "sandbox. Admins only; see docs/security.md.",
)
@pass_ctx
def deploy(ctx: Context, files: tuple[str, ...], trusted_scripts: bool) -> None:
    """Validate BPMN/DMN files, then store each process as a new version.

    Files deployed together may call each other. Deploying identical content again makes no new
    version; running instances stay on the version they started with. Uploads are checked as by
    'handoff validate' (size limit HANDOFF_MAX_UPLOAD, default 10 MiB).

    Scripts and conditions run in a sandbox (no imports, no file or network access, a CPU-time limit
    and a memory cap per script). --trusted-scripts lifts the sandbox for the versions this command
    makes; the setting belongs to the version, so deploying the same files with the other setting
    makes a new version.

    \b
    Example:
      handoff deploy examples/order-to-cash.bpmn
      handoff --user root deploy --trusted-scripts reports.bpmn
    """
    from engine import HandoffError

    app = ctx.app()
    try:
        results = app.deploy(list(files), actor=ctx.user, trusted_scripts=trusted_scripts)
    except HandoffError as exc:
        # One line, as for every error: `handoff validate` lists every problem.
        fail(ctx, str(exc), exc.exit_code)
    if ctx.as_json:
        emit_json([r.to_json() for r in results])
        return
    for warning in sorted({w for r in results for w in r.warnings}):
        click.echo(warning, err=True)
    for r in results:
        status = "deployed as version" if r.new else "unchanged, still version"
        lanes = f"  lanes: {', '.join(r.lanes)}" if r.lanes else ""
        trust = "  scripts: trusted (full Python)" if r.trusted_scripts else ""
        click.echo(f"{r.process} {status} {r.version}{lanes}{trust}")


@main.command()
@pass_ctx
def processes(ctx: Context) -> None:
    """List deployed processes: latest version, lanes, instance counts, and whether that version's
    scripts run sandboxed or trusted (full Python, deployed with --trusted-scripts).

    \b
    Example:
      handoff processes
    """
    items = run(ctx, lambda: ctx.app().processes(actor=ctx.user))
    if ctx.as_json:
        emit_json([p.to_json() for p in items])
        return
    if not items:
        click.echo("no process deployed yet: handoff deploy FILE.bpmn")
        return
    rows = [
        (
            p.process,
            p.name or "",
            p.version,
            ", ".join(p.lanes),
            " ".join(f"{k}={v}" for k, v in sorted(p.instances.items())) or "none",
            "trusted" if p.trusted_scripts else "sandboxed",
        )
        for p in items
    ]
    click.echo(table(["PROCESS", "NAME", "VERSION", "LANES", "INSTANCES", "SCRIPTS"], rows))


# --- instances ---------------------------------------------------------------------------------------

data_options = [
    click.option(
        "--data",
        "data_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="A form field or variable; repeat for more. Converted to the field's type.",
    ),
    click.option(
        "--data-json",
        metavar="JSON",
        help="Data as a JSON object, e.g. '{\"amount\": 100}'. Limits: 64 KiB per string, 1 MiB in all, "
        "20 levels deep, finite numbers, 64-bit whole numbers (docs/hostile-input.md).",
    ),
]


def with_data(f: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(data_options):
        f = option(f)
    return f


def _data(ctx: Context, pairs: tuple[str, ...], data_json: str | None) -> dict[str, Any]:
    from engine import parse_assignments

    return run(ctx, lambda: parse_assignments(pairs, data_json))  # type: ignore[no-any-return]


def failure_text(error: dict[str, Any]) -> str:
    """Where and why an instance failed: `Charge card (charge) line 3: message`."""
    task = error.get("task")
    where = f"{error.get('task_name')} ({task})" if error.get("task_name") else (task or "the process")
    line = f" line {error['line']}" if error.get("line") else ""
    return f"{where}{line}: {error.get('message', '')}"


def retry_text(error: dict[str, Any], next_due_at: Any, attempts: int) -> str:
    """What comes next for an instance in error: the automatic retry, or an incident for people."""
    retries = error.get("retries") or 0
    if next_due_at is not None:
        return f"automatic retry {attempts + 1} of {retries} at {when(next_due_at)}"
    made = f"after {attempts} automatic retr{'y' if attempts == 1 else 'ies'}; " if attempts else ""
    return f"incident: {made}fix the cause, then 'handoff retry INSTANCE' (or terminate it)"


def print_instance(view: InstanceView, *, timeline: bool = False, waits: Sequence[Wait] = ()) -> None:
    click.echo(
        f"instance {view.id}  {view.process} v{view.version}  {view.status.upper()}"
        + (f"  key={view.business_key}" if view.business_key else "")
    )
    click.echo(
        f"started {when(view.created_at)} by {view.started_by or '-'}"
        + (f", completed {when(view.completed_at)}" if view.completed_at else "")
    )
    if view.error and view.status == "error":
        click.echo(f"{'incident' if view.incident else 'failed'}: {failure_text(view.error)}")
        click.echo(f"  {retry_text(view.error, view.next_due_at, view.attempts)}")
    if view.data:
        click.echo("data: " + ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in view.data.items()))
    if view.tasks:
        click.echo("open tasks:")
        for t in view.tasks:
            who = f" claimed by {t.assignee}" if t.assignee else ""
            click.echo(f"  [{t.id}] {t.label}  ({t.lane or 'no lane'}) {t.state}{who}")
    elif view.status in ("running", "waiting"):
        click.echo("open tasks: none (waiting for an event)")
    for w in waits:
        key = f" (key {w.correlation})" if w.correlation else ""
        click.echo(f"waits for {w.kind} '{w.name}'{key} at {w.element_id}")
    if timeline and view.timeline:
        click.echo("timeline:")
        for e in view.timeline:
            what = e.kind.replace("_", " ")
            subject = f" {e.name or e.element}" if e.element else ""
            lane = f" [{e.lane}]" if e.lane else ""
            actor = f" by {e.actor}" if e.actor else ""
            note = message_note(e.kind, e.data)
            click.echo(f"  {when(e.at)}  {what}{subject}{lane}{actor}{': ' + note if note else ''}")


def message_note(kind: str, data: dict[str, Any] | None) -> str:
    """What a message or signal event of the history says: its name, key, and where it went or came from."""
    word = kind.split("_", 1)[0]
    if word not in ("message", "signal") or not data:
        return ""
    text = f"'{data.get(word, '')}'" + (f" key {data['key']}" if data.get("key") else "")
    if kind.endswith("_sent"):
        went = [f"to instance {i}" for i in data.get("to") or ()]
        went += [f"started instance {i}" for i in data.get("started") or ()]
        return f"{text} {', '.join(went) or '(nobody waited)'}"
    source = data.get("from")
    return f"{text} from instance {source['instance']}" if source else f"{text} from outside"


@main.command()
@click.argument("process")
@with_data
@click.option("--key", "business_key", help="A business key (order number, case id) to find it by.")
@click.option("--version", type=int, help="Start this version instead of the latest.")
@pass_ctx
def start(
    ctx: Context,
    process: str,
    data_pairs: tuple[str, ...],
    data_json: str | None,
    business_key: str | None,
    version: int | None,
) -> None:
    """Start an instance of PROCESS and run it until it waits for people or events.

    \b
    Example:
      handoff start order_to_cash --key SO-1001 --data channel=web
    """
    data = _data(ctx, data_pairs, data_json)
    _changed(
        ctx,
        lambda: ctx.app().start(
            process, data=data, business_key=business_key, version=version, actor=ctx.user
        ),
    )


def _changed(ctx: Context, action: Callable[[], InstanceView]) -> None:
    """Print the instance after a change; an incident prints it and fails with its own message."""
    from engine import HandoffError, ScriptFailed

    try:
        view = action()
    except ScriptFailed as exc:
        if ctx.as_json and exc.instance_id is not None:
            message = " ".join(str(exc).split())
            click.echo(f"error: {message}", err=True)
            emit_json({"error": message, "instance": exc.instance_id})
            sys.exit(exc.exit_code)
        fail(ctx, str(exc), exc.exit_code)
    except HandoffError as exc:
        fail(ctx, str(exc), exc.exit_code)
    if ctx.as_json:
        emit_json(view.to_json())
    else:
        print_instance(view)


@main.command()
@click.option("--process", help="Only instances of this process.")
@click.option(
    "--status",
    help="running, waiting, completed, error, terminated or suspended; 'error' shows each failure's "
    "cause, the automatic retries made and allowed, and the next retry or 'incident'.",
)
@click.option("--key", "business_key", help="Only this business key.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@pass_ctx
def instances(
    ctx: Context, process: str | None, status: str | None, business_key: str | None, limit: int
) -> None:
    """List instances, newest first.

    \b
    Example:
      handoff instances --status error
    """
    items = run(
        ctx,
        lambda: ctx.app().instances(
            process_id=process, status=status, business_key=business_key, limit=limit, actor=ctx.user
        ),
    )
    if ctx.as_json:
        emit_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("no instances")
        return
    failed = any(i.status == "error" for i in items)
    rows = []
    for i in items:
        row: tuple[Any, ...] = (
            i.id,
            i.process,
            i.version,
            i.status,
            i.business_key or "",
            when(i.created_at),
            when(i.updated_at),
        )
        if failed:
            error = i.error or {}
            retries = f"{i.attempts}/{error.get('retries') or 0}" if i.status == "error" else ""
            then = ("incident" if i.incident else when(i.next_due_at)) if i.status == "error" else ""
            cause = failure_text(error) if i.status == "error" else ""
            row += (retries, then, cause if len(cause) <= 100 else cause[:99] + "…")
        rows.append(row)
    headers = ["ID", "PROCESS", "VER", "STATUS", "KEY", "STARTED", "UPDATED"]
    if failed:
        headers += ["RETRIES", "NEXT RETRY", "CAUSE"]
    click.echo(table(headers, rows))


@main.command()
@click.argument("instance", type=int)
@pass_ctx
def show(ctx: Context, instance: int) -> None:
    """Show an instance: status, data, open tasks and its timeline.

    \b
    Example:
      handoff show 1
    """
    view = run(ctx, lambda: ctx.app().show(instance, actor=ctx.user))
    waits = run(ctx, lambda: ctx.app().waits_of(instance, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json(with_timeline=True) | {"waits_for": [w.to_json() for w in waits]})
    else:
        print_instance(view, timeline=True, waits=waits)


# --- tasks -------------------------------------------------------------------------------------------


def print_tasks(items: Sequence[TaskView]) -> None:
    if not items:
        click.echo("no open tasks")
        return
    rows = []
    for t in items:
        fields = ", ".join(
            f"{f['id']}{'*' if f.get('required') else ''}:{f.get('type', 'string')}" for f in t.form
        )
        rows.append(
            (
                t.id,
                t.instance,
                t.process,
                t.label,
                t.lane or "",
                t.state,
                t.assignee or "",
                when(t.created_at),
                when(t.due_at),
                fields,
            )
        )
    click.echo(
        table(
            [
                "TASK",
                "INST",
                "PROCESS",
                "NAME",
                "LANE",
                "STATE",
                "ASSIGNEE",
                "READY SINCE",
                "DUE",
                "FORM (* required)",
            ],
            rows,
        )
    )


@main.command()
@click.option("--lane", help="Only tasks of this lane (department).")
@click.option("--mine", is_flag=True, help="Only tasks claimed by you (--user).")
@click.option("--instance", type=int, help="Only tasks of this instance.")
@click.option("--all", "include_closed", is_flag=True, help="Include completed and cancelled tasks.")
@pass_ctx
def tasks(ctx: Context, lane: str | None, mine: bool, instance: int | None, include_closed: bool) -> None:
    """List open human tasks (ready and claimed) with their forms.

    \b
    Example:
      handoff tasks --lane Finance
    """
    items = run(
        ctx,
        lambda: ctx.app().tasks(
            lane=lane,
            assignee=ctx.user if mine else None,
            instance_id=instance,
            include_closed=include_closed,
            actor=ctx.user,
        ),
    )
    if ctx.as_json:
        emit_json([t.to_json() for t in items])
    else:
        print_tasks(items)


@main.command()
@click.argument("task", type=int)
@pass_ctx
def claim(ctx: Context, task: int) -> None:
    """Take a task, so that others see you are working on it.

    \b
    Example:
      handoff --user bob claim 2
    """
    view = run(ctx, lambda: ctx.app().claim(task, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json())
    else:
        click.echo(f"task {view.id} ({view.label}) claimed by {view.assignee}")


@main.command()
@click.argument("task", type=int)
@pass_ctx
def unclaim(ctx: Context, task: int) -> None:
    """Release a claimed task back to its lane.

    \b
    Example:
      handoff --user bob unclaim 2
    """
    view = run(ctx, lambda: ctx.app().unclaim(task, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json())
    else:
        click.echo(f"task {view.id} ({view.label}) released to {view.lane or 'its lane'}")


@main.command()
@click.argument("task", type=int)
@with_data
@pass_ctx
def complete(ctx: Context, task: int, data_pairs: tuple[str, ...], data_json: str | None) -> None:
    """Complete a task with form data (checked against its form), then run the instance on.

    A task with a form takes its fields only, converted to their types (string, long, double,
    boolean, date, enum); an unknown field is an error. A task without a form takes any data within
    the limits of --data-json.

    \b
    Example:
      handoff --user bob complete 2 --data approved=true --data note="good customer"
    """
    data = _data(ctx, data_pairs, data_json)
    _changed(ctx, lambda: ctx.app().complete(task, data=data, actor=ctx.user))


@main.command()
@click.argument("instance", type=int)
@with_data
@pass_ctx
def retry(ctx: Context, instance: int, data_pairs: tuple[str, ...], data_json: str | None) -> None:
    """Run the failed task of an instance in error again, with corrected data if given.

    \b
    Example:
      handoff retry 7 --data amount=1200
    """
    data = _data(ctx, data_pairs, data_json)
    _changed(ctx, lambda: ctx.app().retry(instance, data=data, actor=ctx.user))


_reason_option = click.option("--reason", help="Why, for the history (shown by 'handoff history').")


@main.command()
@click.argument("instance", type=int)
@_reason_option
@pass_ctx
def suspend(ctx: Context, instance: int, reason: str | None) -> None:
    """Put an instance on hold: its tasks cannot be claimed or completed and its timers and automatic
    retries do not fire until 'handoff resume'. Admins only.

    \b
    Example:
      handoff suspend 7 --reason "customer asked us to wait"
    """
    _changed(ctx, lambda: ctx.app().suspend(instance, reason=reason, actor=ctx.user))


@main.command()
@click.argument("instance", type=int)
@pass_ctx
def resume(ctx: Context, instance: int) -> None:
    """Take a suspended instance off hold, back to the status it had; timers and retries that fell due
    meanwhile fire on the worker's next pass. Admins only.

    \b
    Example:
      handoff resume 7
    """
    _changed(ctx, lambda: ctx.app().resume(instance, actor=ctx.user))


@main.command()
@click.argument("instance", type=int)
@_reason_option
@pass_ctx
def terminate(ctx: Context, instance: int, reason: str | None) -> None:
    """End an instance for good: its open tasks are cancelled and it never runs again. Admins only.

    \b
    Example:
      handoff terminate 7 --reason "order cancelled by the customer"
    """
    _changed(ctx, lambda: ctx.app().terminate(instance, reason=reason, actor=ctx.user))


# --- messages and signals ----------------------------------------------------------------------------


def _delivered(ctx: Context, kind: str, name: str, action: Callable[[], list[InstanceView]]) -> None:
    """Print the instances a message or signal reached; an incident fails with its own message."""
    from engine import HandoffError, ScriptFailed

    try:
        views = action()
    except ScriptFailed as exc:
        if ctx.as_json and exc.instance_id is not None:
            message = " ".join(str(exc).split())
            click.echo(f"error: {message}", err=True)
            emit_json({"error": message, "instance": exc.instance_id})
            sys.exit(exc.exit_code)
        fail(ctx, str(exc), exc.exit_code)
    except HandoffError as exc:
        fail(ctx, str(exc), exc.exit_code)
    if ctx.as_json:
        emit_json([v.to_json() for v in views])
        return
    click.echo(f"{kind} '{name}' reached {len(views)} instance{'s' if len(views) != 1 else ''}")
    for view in views:
        click.echo("")
        print_instance(view)


@main.command()
@click.argument("name")
@click.option(
    "--key", help="Correlation key: the value of the message's correlation property, else the business key."
)
@click.option("--instance", "instance_id", type=int, help="Deliver to this instance only.")
@click.option(
    "--all", "every", is_flag=True, help="Several instances wait without --key: deliver to all of them."
)
@with_data
@pass_ctx
def message(
    ctx: Context,
    name: str,
    key: str | None,
    instance_id: int | None,
    every: bool,
    data_pairs: tuple[str, ...],
    data_json: str | None,
) -> None:
    """Deliver message NAME: resume the instances that wait for it, or start a process at its message
    start event.

    The instances that wait for NAME (a catch event, receive task, boundary event, event-based gateway
    or event subprocess) and whose correlation key is KEY get it; where a process defines no
    correlation, KEY is matched against the business key. Without --key exactly one waiting instance
    takes it (several: name one with --instance, or use --all). If no instance waits, the latest version
    of every process whose start event catches NAME starts, with KEY as its business key. Nothing at
    all waits for it: exit 4. The data is the message's payload. See docs/messages.md.

    \b
    Example:
      handoff message payment-received --key SO-1001 --data amount=2500
      handoff message order --data-json '{"order_id": "A-7", "item": "chair"}'
    """
    data = _data(ctx, data_pairs, data_json)
    _delivered(
        ctx,
        "message",
        name,
        lambda: ctx.app().message(
            name, key=key, data=data, instance_id=instance_id, every=every, actor=ctx.user
        ),
    )


@main.command()
@click.argument("name")
@click.option("--instance", "instance_id", type=int, help="Only this instance catches it; nothing starts.")
@with_data
@pass_ctx
def signal(
    ctx: Context, name: str, instance_id: int | None, data_pairs: tuple[str, ...], data_json: str | None
) -> None:
    """Broadcast signal NAME: every instance that waits for it catches it, and every process whose start
    event catches it starts (its latest version). Nothing waits for it: exit 4. See docs/messages.md.

    \b
    Example:
      handoff signal recall --data batch=B-17
    """
    data = _data(ctx, data_pairs, data_json)
    _delivered(
        ctx,
        "signal",
        name,
        lambda: ctx.app().signal(name, data=data, instance_id=instance_id, actor=ctx.user),
    )


# --- history and records ------------------------------------------------------------------------------


def _when_option(name: str, help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(name, metavar="TIME", help=help_text)


def _parse_time(ctx: Context, value: str | None, option: str) -> Any:
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        fail(ctx, f"{option} expects an ISO 8601 time like 2026-03-02 or 2026-03-02T09:00Z, got {value!r}", 2)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def record_filters(f: Callable[..., Any]) -> Callable[..., Any]:
    options: list[Callable[[Callable[..., Any]], Callable[..., Any]]] = [
        click.option("--process", help="Only this process."),
        click.option("--instance", type=int, help="Only this instance."),
        _when_option("--since", "From this time on (UTC, ISO 8601)."),
        _when_option("--until", "Before this time (UTC, ISO 8601)."),
        click.option("--lane", "lanes", multiple=True, help="Touching this lane; repeat for more."),
        click.option("--limit", default=1000, show_default=True, help="At most this many."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _filters(
    ctx: Context,
    process: str | None,
    instance: int | None,
    since: str | None,
    until: str | None,
    lanes: tuple[str, ...],
    limit: int,
) -> dict[str, Any]:
    return {
        "process_id": process,
        "instance_id": instance,
        "since": _parse_time(ctx, since, "--since"),
        "until": _parse_time(ctx, until, "--until"),
        "lanes": lanes,
        "limit": limit,
        "actor": ctx.user,
    }


def duration_text(seconds: float) -> str:
    from datetime import timedelta

    from bpmn.durations import format_duration

    return format_duration(timedelta(seconds=seconds))


@main.command()
@record_filters
@pass_ctx
def handoffs(ctx: Context, **options: Any) -> None:
    """Work passing from one person to another, with the latency of each handoff.

    \b
    Example:
      handoff handoffs --process order_to_cash --since 2026-03-01 --lane Finance
    """
    items = run(ctx, lambda: ctx.app().handoffs(**_filters(ctx, **options)))
    if ctx.as_json:
        emit_json([h.to_json() for h in items])
        return
    if not items:
        click.echo("no handoffs")
        return
    rows = [
        (
            h.instance,
            f"{h.from_name or h.from_element} -> {h.to_name or h.to_element}",
            f"{h.from_actor} -> {h.to_actor}",
            f"{h.from_lane or '-'} -> {h.to_lane or '-'}",
            when(h.from_at),
            when(h.to_at),
            duration_text(h.latency_seconds),
        )
        for h in items
    ]
    click.echo(table(["INST", "FROM -> TO", "WHO", "LANES", "DONE", "TAKEN UP", "LATENCY"], rows))


@main.command()
@record_filters
@pass_ctx
def crossings(ctx: Context, **options: Any) -> None:
    """Where work crossed from one department (lane) to another; ping-pong marks straight returns.

    \b
    Example:
      handoff crossings --lane Sales
    """
    items = run(ctx, lambda: ctx.app().crossings(**_filters(ctx, **options)))
    if ctx.as_json:
        emit_json([c.to_json() for c in items])
        return
    if not items:
        click.echo("no boundary crossings")
        return
    rows = [
        (
            c.instance,
            when(c.at),
            f"{c.from_lane} -> {c.to_lane}",
            f"{c.from_name or c.from_element} -> {c.to_name or c.to_element}",
            "ping-pong" if c.ping_pong else "",
        )
        for c in items
    ]
    click.echo(table(["INST", "AT", "LANES", "FROM -> TO", "NOTE"], rows))


@main.command()
@record_filters
@pass_ctx
def delays(ctx: Context, **options: Any) -> None:
    """Tasks that waited, and instances that ran, longer than their SLA.

    \b
    Example:
      handoff delays --lane Finance
    """
    items = run(ctx, lambda: ctx.app().delays(**_filters(ctx, **options)))
    if ctx.as_json:
        emit_json([d.to_json() for d in items])
        return
    if not items:
        click.echo("no delays")
        return
    rows = [
        (
            d.instance,
            d.task or "",
            d.name or d.element or "(instance cycle time)",
            d.lane or "",
            duration_text(d.waited_seconds) + (" so far" if d.still_open else ""),
            f"{duration_text(d.threshold_seconds)} ({d.threshold_source})",
            when(d.detected_at),
        )
        for d in items
    ]
    click.echo(table(["INST", "TASK", "WHAT", "LANE", "WAITED", "SLA", "DETECTED"], rows))


@main.command()
@click.argument("instance", type=int)
@pass_ctx
def history(ctx: Context, instance: int) -> None:
    """The timeline of an instance: when, who, which lane, what; handoffs, crossings and waits marked.

    \b
    Example:
      handoff history 1
    """
    app = ctx.app()
    who = ctx.user
    view = run(ctx, lambda: app.show(instance, actor=who))
    hand = {h.to_event: h for h in run(ctx, lambda: app.handoffs(instance_id=instance, actor=who))}
    cross = {c.to_event: c for c in run(ctx, lambda: app.crossings(instance_id=instance, actor=who))}
    all_delays = run(ctx, lambda: app.delays(instance_id=instance, actor=who))
    late = {d.task: d for d in all_delays if d.task is not None}
    if ctx.as_json:
        out = view.to_json(with_timeline=True)
        out["handoffs"] = [h.to_json() for h in hand.values()]
        out["crossings"] = [c.to_json() for c in cross.values()]
        out["delays"] = [d.to_json() for d in all_delays]
        emit_json(out)
        return
    click.echo(
        f"instance {view.id}  {view.process} v{view.version}  {view.status.upper()}"
        + (f"  key={view.business_key}" if view.business_key else "")
    )
    ready_at: dict[int, Any] = {}
    rows = []
    for e in view.timeline:
        notes = []
        if e.kind == "task_ready" and e.task is not None:
            ready_at[e.task] = e.at
        if e.kind in ("task_claimed", "task_completed") and e.task in ready_at:
            notes.append(f"waited {duration_text((e.at - ready_at.pop(e.task)).total_seconds())}")
        if e.id in cross:
            c = cross[e.id]
            notes.append(f"crossed {c.from_lane} -> {c.to_lane}" + (" (ping-pong)" if c.ping_pong else ""))
        if e.id in hand:
            h = hand[e.id]
            notes.append(f"handoff {h.from_actor} -> {h.to_actor} after {duration_text(h.latency_seconds)}")
        if e.kind == "task_completed" and e.task in late:
            d = late[e.task]
            notes.append(f"DELAYED: SLA {duration_text(d.threshold_seconds)}")
        if e.kind == "instance_failed" and e.data:
            notes.append(str(e.data.get("message", ""))[:100])
            if e.data.get("retry_at"):
                notes.append(f"retry at {when(iso_time(e.data['retry_at']))}")
        if e.kind in ("instance_suspended", "instance_terminated") and e.data and e.data.get("reason"):
            notes.append(str(e.data["reason"]))
        if message_note(e.kind, e.data):
            notes.append(message_note(e.kind, e.data))
        what = e.kind.replace("_", " ")
        subject = e.name or e.element or ""
        rows.append((when(e.at), e.actor or "", e.lane or "", f"{what} {subject}".strip(), "; ".join(notes)))
    click.echo(table(["WHEN", "WHO", "LANE", "WHAT", "NOTES"], rows))
    for d in all_delays:
        if d.task is None:
            click.echo(
                f"cycle time {duration_text(d.waited_seconds)} exceeded its SLA of "
                f"{duration_text(d.threshold_seconds)} ({d.threshold_source})"
            )


# --- users -------------------------------------------------------------------------------------------


@main.group()
def users() -> None:
    """People, the lanes (departments) they work in, and their roles.

    Until the first user is added, Handoff is in single-user mode: anyone may do anything. The first
    user must be an admin. Then every command checks who acts (--user, else HANDOFF_USER, else your
    login name): designers deploy; operators see, claim and complete the tasks of their lanes; analysts
    read history, reports and exports; admins do all that and manage users, SLAs and incidents.
    Every registered user may read processes, instances and settings. See docs/users.md.

    \b
    Example:
      handoff users add ann --role admin
      handoff --user ann users add fay --lane Finance --role operator
    """


@users.command("add")
@click.argument("name")
@click.option("--lane", "lanes", multiple=True, metavar="LANE", help="A lane they work in; repeat for more.")
@click.option(
    "--role",
    metavar="ROLE",
    help="designer, operator, analyst or admin (a new user: operator unless given).",
)
@pass_ctx
def users_add(ctx: Context, name: str, lanes: tuple[str, ...], role: str | None) -> None:
    """Register NAME, or update them if they exist.

    For an existing user, --role replaces the role and --lane options replace all their lanes; what is
    not given stays. The output says whether the user was added, changed or unchanged.

    \b
    Example:
      handoff users add ann --role admin
      handoff users add fay --lane Finance --lane Sales
      handoff users add fay --lane Finance          (fay now works in Finance only)
    """
    result = run(ctx, lambda: ctx.app().add_user(name, lanes=lanes or None, role=role, actor=ctx.user))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if ctx.as_json:
        emit_json(result.to_json())
        return
    user = result.user
    lanes_text = ", ".join(user.lanes) or "no lane"
    if result.action == "added":
        click.echo(f"{user.name} added: {user.role}, lanes: {lanes_text}")
    elif result.action == "changed":
        click.echo(f"{user.name} already existed and was updated: {'; '.join(result.changes)}")
    else:
        click.echo(f"{user.name} already exists, unchanged: {user.role}, lanes: {lanes_text}")


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """List registered users: role, lanes, who added them and when.

    \b
    Example:
      handoff users list
    """
    items = run(ctx, lambda: ctx.app().users(actor=ctx.user))
    if ctx.as_json:
        emit_json([u.to_json() for u in items])
        return
    if not items:
        click.echo(
            "no users yet: single-user mode, anyone may do anything; "
            "add the first admin with 'handoff users add NAME --role admin'"
        )
        return
    rows = [
        (u.name, u.role, ", ".join(u.lanes), when(u.created_at), u.created_by or "", when(u.updated_at))
        for u in items
    ]
    click.echo(table(["NAME", "ROLE", "LANES", "ADDED", "BY", "CHANGED"], rows))


@users.command("remove")
@click.argument("name")
@pass_ctx
def users_remove(ctx: Context, name: str) -> None:
    """Unregister NAME: from now on they may do nothing. History keeps their name.

    \b
    Example:
      handoff users remove carl
    """
    view = run(ctx, lambda: ctx.app().remove_user(name, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json() | {"action": "removed"})
    else:
        click.echo(f"{view.name} removed ({view.role}, lanes: {', '.join(view.lanes) or 'no lane'})")


@users.command("log")
@click.option("--name", "subject", help="Only what was done to this user.")
@click.option("--limit", default=100, show_default=True, help="The newest this many, oldest first.")
@pass_ctx
def users_log(ctx: Context, subject: str | None, limit: int) -> None:
    """The audit of user management: who added, changed or removed whom, and when.

    \b
    Example:
      handoff users log --name fay
    """
    items = run(ctx, lambda: ctx.app().audit_log(subject=subject, limit=limit, actor=ctx.user))
    if ctx.as_json:
        emit_json([e.to_json() for e in items])
        return
    if not items:
        click.echo("no user changes recorded")
        return
    rows = []
    for e in items:
        data = e.data or {}
        what = f"{data.get('role', '')}; lanes: {', '.join(data.get('lanes') or []) or '-'}"
        before = data.get("before")
        if before:
            what += f" (was {before.get('role')}; lanes: {', '.join(before.get('lanes') or []) or '-'})"
        rows.append((when(e.at), e.actor or "", e.action.replace("_", " "), e.subject, what))
    click.echo(table(["WHEN", "WHO", "WHAT", "USER", "DETAILS"], rows))


# --- SLA and worker ----------------------------------------------------------------------------------


@main.group()
def sla() -> None:
    """SLA thresholds beside the BPMN `sla` property: per lane, and a global default.

    A task's threshold is, first match wins: its BPMN `sla` property, its lane's default, the global
    default. An instance's: its process's `sla` property, then the global default.

    \b
    Example:
      handoff sla set --lane Finance PT4H
    """


@sla.command("set")
@click.argument("duration")
@click.option("--lane", help="The lane (department) this default is for.")
@click.option("--default", "is_default", is_flag=True, help="Set the global default.")
@pass_ctx
def sla_set(ctx: Context, duration: str, lane: str | None, is_default: bool) -> None:
    """Set a lane's default SLA or the global default, as an ISO 8601 duration.

    \b
    Example:
      handoff sla set --lane Finance PT4H
      handoff sla set --default P1D
    """
    if bool(lane) == is_default:
        fail(ctx, "give exactly one of --lane LANE or --default", 2)
    view = run(ctx, lambda: ctx.app().set_sla(duration, lane=lane, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json())
    else:
        click.echo(f"SLA for {('lane ' + view.lane) if view.lane else 'everything else'}: {view.duration}")


@sla.command("list")
@pass_ctx
def sla_list(ctx: Context) -> None:
    """List the lane defaults and the global default.

    \b
    Example:
      handoff sla list
    """
    items = run(ctx, lambda: ctx.app().sla_settings(actor=ctx.user))
    if ctx.as_json:
        emit_json([i.to_json() for i in items])
        return
    if not items:
        click.echo("no SLA defaults set (BPMN `sla` properties still apply)")
        return
    rows = [(i.lane or "(default)", i.duration, when(i.updated_at), i.updated_by or "") for i in items]
    click.echo(table(["LANE", "SLA", "SET", "BY"], rows))


@main.command()
@click.option(
    "--once", is_flag=True, help="Do what is due now (up to 5,000 items), then exit (for cron and tests)."
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.05),
    help="Longest sleep between passes, in seconds (a worker wakes sooner when work falls due).",
)
@click.option(
    "--concurrency",
    default=1,
    show_default=True,
    type=click.IntRange(min=1, max=64),
    help="Worker processes to run (PostgreSQL: use the cores; SQLite has one writer at a time).",
)
@click.option(
    "--lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=1),
    help="Seconds a claim on due work lasts; a dead worker's work is taken over after it.",
)
@click.option("--name", default=None, help="This worker's name in leases and logs [default: host:pid].")
@pass_ctx
def worker(
    ctx: Context, once: bool, interval: float, concurrency: int, lease: float, name: str | None
) -> None:
    """Do the work that falls due: fire timers, start instances at timer start events, detect overdue
    tasks and instances.

    Runs until stopped with Ctrl-C or SIGTERM (the item in hand is finished first: nothing is left half
    done), or one pass with --once. Any number of workers may run against one PostgreSQL database: due
    work is claimed with SELECT ... FOR UPDATE SKIP LOCKED under a lease, so nothing fires twice and the
    work of a worker that died is taken over when its lease expires. Each pass that did something prints
    one line (--json: one JSON object per pass).

    \b
    Example:
      handoff worker --once
      handoff --db postgresql://handoff@db/handoff worker --concurrency 4
    """
    import signal
    import threading
    from datetime import timedelta

    from engine.worker import Worker, default_name, run_pool

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    app = ctx.app()
    run(ctx, app.next_due_at)  # the schema check, with its clear message, before any child starts

    def show(result: Any) -> None:
        if ctx.as_json:
            click.echo(json.dumps(result.to_json()))  # JSON lines: one object per pass
        elif result.did_something or once:
            click.echo(result.text())

    if concurrency > 1 and not once:
        failed = run_pool(
            ctx.db_url,
            processes=concurrency,
            interval=interval,
            lease=timedelta(seconds=lease),
            name=name or default_name(),
            stop=stop,
            on_line=click.echo,
            as_json=ctx.as_json,
        )
        if failed:
            fail(ctx, f"{failed} worker process(es) stopped with an error", 1)
        return
    the_worker = Worker(app, name=name, lease=timedelta(seconds=lease))
    if once:
        show(run(ctx, the_worker.run_once))
        return
    if not ctx.as_json:
        click.echo(f"worker {the_worker.name} running on {app.db.display_url()} (Ctrl-C stops it)", err=True)
    run(ctx, lambda: the_worker.run(interval=interval, stop=stop, on_pass=show))


def _progress(ctx: Context, total: int, label: str) -> Any:
    """A progress bar on stderr for a terminal (nothing when piped or with --json)."""
    import contextlib

    if ctx.as_json or not sys.stderr.isatty():
        return contextlib.nullcontext(None)
    return click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True, show_eta=True)


def _advance_to(bar: Any) -> Callable[[int], None] | None:
    if bar is None:
        return None

    def update(done: int) -> None:
        bar.update(done - bar.pos)

    return update


@main.command()
@click.argument("process")
@click.option("-n", "--instances", "count", type=int, required=True, help="How many instances arrive.")
@click.option(
    "--seed", default=1, show_default=True, help="Random seed: the same seed gives the same history."
)
@click.option(
    "--arrivals",
    metavar="RATE",
    help="Arrival rate: 12/h, 300/d, 0.5/min (default: the process's 'arrivals' property, else 1/h).",
)
@click.option(
    "--staff",
    "staff",
    multiple=True,
    metavar="LANE=K",
    help="Operators in a lane (repeatable). Default: the lane's registered users, else 1.",
)
@click.option(
    "--hours",
    metavar="HOURS",
    help="Working hours, e.g. 'mon-fri 08:00-17:00' (UTC); work pauses outside them. Default: round the clock.",
)
@click.option(
    "--start",
    "start_at",
    metavar="TIME",
    help="Virtual start time (UTC, ISO 8601). Default 2026-01-05T08:00Z, a Monday.",
)
@click.option(
    "--report",
    "report_path",
    metavar="FILE",
    help="Also write the HTML report of the simulated process to FILE.",
)
@pass_ctx
def simulate(
    ctx: Context,
    process: str,
    count: int,
    seed: int,
    arrivals: str | None,
    staff: tuple[str, ...],
    hours: str | None,
    start_at: str | None,
    report_path: str | None,
) -> None:
    """Run N instances through the real engine on a virtual clock, with simulated operators.

    PROCESS is a deployed process id, or a BPMN file that is deployed first. Instances arrive at
    random (Poisson); each lane's operators take the oldest ready task of their lane; each task takes
    the time its 'duration' property draws; forms are filled from 'p_true' and 'probability'
    properties; timers fire on the virtual clock. The history, hook records and report are those of
    live use, so simulate into a database of its own (--db). The whole run is one transaction.
    Syntax of every property: docs/simulation.md; a what-if walk-through: docs/what-if.md.

    \b
    Example:
      handoff --db sqlite:///whatif.db simulate examples/order-to-cash.bpmn -n 2000 --seed 7
      handoff --db sqlite:///whatif3.db simulate examples/order-to-cash.bpmn -n 2000 --seed 7 --staff Finance=3
    """
    from engine.simulation import Scenario, WorkingHours, parse_rate
    from engine.simulation import simulate as run_simulation

    staffing: dict[str, int] = {}
    for item in staff:
        lane, sep, value = item.rpartition("=")
        if not sep or not lane.strip() or not value.strip().isdigit() or int(value) < 1:
            fail(ctx, f"--staff expects LANE=K with K a whole number of at least 1, got {item!r}", 2)
        staffing[lane.strip()] = int(value)
    try:
        rate = parse_rate(arrivals) if arrivals else None
        working = WorkingHours.parse(hours) if hours else None
    except ValueError as exc:
        fail(ctx, f"{'--arrivals' if arrivals and 'rate' in str(exc) else '--hours'}: {exc}", 2)
    if count < 1:
        fail(ctx, f"-n must be at least 1, got {count}", 2)
    process_id = process
    if os.path.isfile(process):
        deployed = run(ctx, lambda: ctx.app().deploy([process], actor=ctx.user))
        process_id = deployed[0].process
    else:
        run(ctx, lambda: ctx.app().process_model(process))  # a clear error when it is not deployed
    options: dict[str, Any] = {"seed": seed, "arrivals_per_hour": rate, "staff": staffing, "hours": working}
    if start_at:
        options["start"] = _parse_time(ctx, start_at, "--start")
    scenario = Scenario(process_id, count, **options)
    ctx.close()
    with _progress(ctx, count, "simulating") as bar:
        result = run(ctx, lambda: run_simulation(ctx.db_url, scenario, progress=_advance_to(bar)))
    if report_path:
        html = run(ctx, lambda: ctx.app().report_html(process_id=process_id))
        _write_atomically(ctx, report_path, html)
    if ctx.as_json:
        emit_json(result.to_json() | {"report": report_path})
        return
    click.echo(result.text())
    if report_path:
        click.echo(f"\nreport: {report_path}")


def _write_atomically(ctx: Context, path: str, body: str) -> None:
    """Written beside the target and renamed: a failed write never leaves half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as out:
            out.write(body)
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        fail(ctx, f"cannot write {path}: {exc.strerror}")


@main.command()
@click.option(
    "--instances",
    "count",
    default=2500,
    show_default=True,
    help="How many orders arrive (2,500 is about a quarter).",
)
@click.option("--seed", default=1, show_default=True, help="Random seed: same seed, same run.")
@click.option(
    "--out",
    "out_path",
    default="handoff-report.html",
    show_default=True,
    metavar="FILE",
    help="Where to write the HTML report.",
)
@click.option("--keep", is_flag=True, help="Keep the temporary database and print its path.")
@click.pass_context
def demo(click_ctx: click.Context, count: int, seed: int, out_path: str, keep: bool) -> None:
    """The main job on a fresh machine: a quarter of order-to-cash work, simulated, then reported.

    On a fresh database (a temporary one unless --db or HANDOFF_DB is given) it deploys the examples,
    registers operators per lane, simulates about a quarter of orders through the real engine on a
    virtual clock, writes the HTML report (handoff-report.html) and prints the headline: where work
    waits most, the busiest handoffs, the worst boundary, the SLA breaches.

    \b
    Example:
      handoff demo
      handoff demo --instances 500 --out /tmp/report.html
    """
    import shutil
    import tempfile
    from pathlib import Path

    from engine.demo import run_demo

    ctx: Context = click_ctx.obj
    if count < 1:
        fail(ctx, f"--instances must be at least 1, got {count}", 2)
    source = click_ctx.parent.get_parameter_source("db_url") if click_ctx.parent else None
    tmpdir = None
    if source is None or source.name == "DEFAULT":
        tmpdir = tempfile.mkdtemp(prefix="handoff-demo-")
        ctx.db_url = f"sqlite:///{os.path.join(tmpdir, 'handoff.db')}"
    report = Path(out_path).resolve()
    if not report.parent.is_dir():
        fail(ctx, f"--out: folder {report.parent} does not exist", 2)
    try:
        with _progress(ctx, count, "simulating") as bar:
            result = run(
                ctx,
                lambda: run_demo(
                    ctx.db_url, instances=count, seed=seed, report_path=report, progress=_advance_to(bar)
                ),
            )
        if ctx.as_json:
            emit_json(result.to_json() | {"database": ctx.db_url if (keep or not tmpdir) else None})
        else:
            click.echo(result.text())
            if tmpdir and keep:
                click.echo(f"database kept: {ctx.db_url}")
            elif tmpdir:
                click.echo("(the demo used a temporary database: --keep keeps it, --db URL chooses one)")
    finally:
        if tmpdir and not keep:
            ctx.close()
            shutil.rmtree(tmpdir, ignore_errors=True)


@main.command()
@click.option("--process", help="Only this process.")
@_when_option("--since", "Instances started from this time on (UTC, ISO 8601).")
@_when_option("--until", "Instances started before this time (UTC, ISO 8601).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "html"]),
    default=None,
    help="text (tables), json, or html (one self-contained page); docs/report.md. Default text, json with --json.",
)
@click.option("--out", "out_path", metavar="FILE", help="Write the report here instead of stdout.")
@pass_ctx
def report(
    ctx: Context,
    process: str | None,
    since: str | None,
    until: str | None,
    fmt: str | None,
    out_path: str | None,
) -> None:
    """The CPO report: where time goes, who hands to whom, what crosses departments.

    Covers the instances started in [--since, --until). Percentiles by nearest rank; the JSON schema
    and every definition are in docs/report.md.

    \b
    Example:
      handoff report --process order_to_cash --since 2026-03-01 --until 2026-04-01
      handoff report --format json --out report.json
      handoff report --format html --out report.html
    """
    since_at = _parse_time(ctx, since, "--since")
    until_at = _parse_time(ctx, until, "--until")
    fmt = fmt or ("json" if ctx.as_json else "text")
    if fmt == "html":
        body = run(
            ctx,
            lambda: ctx.app().report_html(process_id=process, since=since_at, until=until_at, actor=ctx.user),
        )
    else:
        result = run(
            ctx, lambda: ctx.app().report(process_id=process, since=since_at, until=until_at, actor=ctx.user)
        )
        body = json.dumps(result.to_json(), indent=2) + "\n" if fmt == "json" else result.text()
    if out_path is None or out_path == "-":
        click.echo(body, nl=False)
        return
    _write_atomically(ctx, out_path, body)
    if ctx.as_json:
        emit_json({"format": fmt, "out": out_path})
    else:
        click.echo(f"report written to {out_path} ({fmt})")


# --- exports ------------------------------------------------------------------------------------------


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xes", "csv"]),
    required=True,
    help="XES (IEEE 1849) or CSV, one row per event.",
)
@click.option("--process", help="Only this process.")
@_when_option("--since", "Events from this time on (UTC, ISO 8601).")
@_when_option("--until", "Events before this time (UTC, ISO 8601).")
@click.option("--schedule", is_flag=True, help="Also export tasks becoming ready (lifecycle 'schedule').")
@click.option("--out", "out_path", required=True, metavar="FILE", help="Where to write; - for stdout.")
@pass_ctx
def export(
    ctx: Context,
    fmt: str,
    process: str | None,
    since: str | None,
    until: str | None,
    schedule: bool,
    out_path: str,
) -> None:
    """The history as an event log for process-mining tools (PM4Py, ProM, Disco, Celonis).

    One trace per instance; each activity's start (claim) and complete events with time, resource
    (who) and group (lane). Streamed: any length of history in constant memory. See docs/export.md.

    \b
    Example:
      handoff export --format xes --process order_to_cash --out orders.xes
    """
    since_at = _parse_time(ctx, since, "--since")
    until_at = _parse_time(ctx, until, "--until")

    def write(out: Any) -> int:
        return run(  # type: ignore[no-any-return]
            ctx,
            lambda: ctx.app().export(
                out,
                fmt,
                process_id=process,
                since=since_at,
                until=until_at,
                schedule=schedule,
                actor=ctx.user,
            ),
        )

    if out_path == "-":
        write(click.get_binary_stream("stdout"))
        return
    import tempfile

    # Written beside the target and renamed at the end: a failed export leaves no half-written file
    # behind, and an older export stays as it was.
    target = os.path.abspath(out_path)
    try:
        fd, partial = tempfile.mkstemp(prefix=".handoff-export-", dir=os.path.dirname(target))
    except OSError as exc:
        fail(ctx, f"cannot write {out_path}: {exc.strerror}")
    try:
        with os.fdopen(fd, "wb") as out:
            count = write(out)
        os.chmod(partial, 0o644)
        os.replace(partial, target)
    except OSError as exc:
        fail(ctx, f"cannot write {out_path}: {exc.strerror}")
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    if ctx.as_json:
        emit_json({"format": fmt, "out": out_path, "events": count})
    else:
        click.echo(f"{count} events written to {out_path} ({fmt})")


# --- sign-in secrets and the web server (docs/security.md, docs/web-api.md) ----------------------------


@users.command("passwd")
@click.argument("name")
@click.option("--stdin", "from_stdin", is_flag=True, help="Read the password from one line of stdin.")
@pass_ctx
def users_passwd(ctx: Context, name: str, from_stdin: bool) -> None:
    """Set NAME's password for signing in to 'handoff serve' (stored as an Argon2id hash).

    Admins set anyone's; anyone may set their own. The user's web sessions end. At least 8
    characters; without --stdin it is asked for twice and not shown.

    \b
    Example:
      handoff users passwd ann
      printf '%s\\n' "$PASSWORD" | handoff users passwd ann --stdin
    """
    from engine import signin

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True, err=True)
    result = run(ctx, lambda: signin.set_password(ctx.app(), name, password, actor=ctx.user))
    if ctx.as_json:
        emit_json(result.to_json())
        return
    ended = f"; {result.sessions_ended} web session(s) ended" if result.sessions_ended else ""
    click.echo(f"password of {name} set{ended}")


@users.command("token")
@click.argument("name")
@click.option(
    "--expires", metavar="DURATION", help="Valid for this long (ISO 8601, e.g. P90D); default: until revoked."
)
@pass_ctx
def users_token(ctx: Context, name: str, expires: str | None) -> None:
    """Make an API token for NAME (Authorization: Bearer TOKEN), printed this once: only its hash is kept.

    \b
    Example:
      handoff users token erp-bot --expires P90D
      curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/api/tasks
    """
    from engine import signin

    lifetime = run(ctx, lambda: signin.parse_expiry(expires))
    new = run(ctx, lambda: signin.create_token(ctx.app(), name, expires=lifetime, actor=ctx.user))
    if ctx.as_json:
        emit_json(new.to_json())
        return
    until = f", expires {when(new.view.expires_at)} UTC" if new.view.expires_at else ", no expiry"
    click.echo(f"token {new.view.id} for {name}{until} (shown once, keep it secret):", err=True)
    click.echo(new.token)


@users.command("tokens")
@click.argument("name")
@pass_ctx
def users_tokens(ctx: Context, name: str) -> None:
    """List NAME's API tokens: id, start of the token, made, expiry, last use, revoked.

    \b
    Example:
      handoff users tokens erp-bot
    """
    from engine import signin

    app = ctx.app()
    items = run(ctx, lambda: signin.tokens(app, name, actor=ctx.user))
    now = app.clock()
    if ctx.as_json:
        emit_json([t.to_json(now) for t in items])
        return
    if not items:
        click.echo(f"{name} has no API tokens (handoff users token {name})")
        return
    rows = [
        (
            t.id,
            t.hint + "…",
            t.state(now),
            when(t.created_at),
            when(t.expires_at),
            when(t.last_used_at),
            when(t.revoked_at),
        )
        for t in items
    ]
    click.echo(table(["ID", "TOKEN", "STATE", "MADE", "EXPIRES", "LAST USED", "REVOKED"], rows))


@users.command("revoke")
@click.argument("token_id", metavar="ID", type=int)
@pass_ctx
def users_revoke(ctx: Context, token_id: int) -> None:
    """Revoke API token ID at once (see 'handoff users tokens NAME').

    \b
    Example:
      handoff users revoke 3
    """
    from engine import signin

    app = ctx.app()
    view = run(ctx, lambda: signin.revoke_token(app, token_id, actor=ctx.user))
    if ctx.as_json:
        emit_json(view.to_json(app.clock()))
    else:
        click.echo(f"token {view.id} of {view.name} revoked")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Server processes (PostgreSQL: any number, on any number of machines; SQLite: one machine).",
)
@click.option(
    "--proxy-header",
    metavar="HEADER",
    envvar="HANDOFF_PROXY_HEADER",
    help="Behind a reverse proxy doing HTTPS: the header saying so (e.g. X-Forwarded-Proto); cookies "
    "then are Secure. Env HANDOFF_PROXY_HEADER.",
)
@pass_ctx
def serve(ctx: Context, host: str, port: int, workers: int, proxy_header: str | None) -> None:
    """Run the web application and HTTP API (docs/web-api.md) for people and other systems.

    Everyone signs in: people with their name and password (handoff users passwd NAME), scripts with
    an API token (handoff users token NAME). It refuses to start while no admin can sign in. Stop it
    with Ctrl-C. Serve over HTTPS (a reverse proxy) beyond localhost.

    \b
    Example:
      handoff users passwd ann
      handoff serve --port 8080           then open http://127.0.0.1:8080/
    """
    from engine import signin

    app = ctx.app()
    run(ctx, app.single_user_mode)  # the schema check, with its clear message
    admins = run(ctx, lambda: signin.check_can_serve(app))
    ctx.close()
    import uvicorn

    os.environ["HANDOFF_DB"] = ctx.db_url  # each worker process builds its application from it
    if proxy_header:
        os.environ["HANDOFF_PROXY_HEADER"] = proxy_header
    if not ctx.as_json:
        click.echo(
            f"handoff serving {app.db.display_url()} at http://{host}:{port}/ "
            f"(API docs at /api/docs; admins who can sign in: {', '.join(admins)}; Ctrl-C stops it)",
            err=True,
        )
    uvicorn.run(
        "web.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
    )


if __name__ == "__main__":
    main()

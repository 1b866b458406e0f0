"""`handoff`: the command line, a door over the engine's use cases (docs/architecture.md).

Each command converts its options, calls one use case through `engine.Handoff`, and prints the result as
text (engine/text renders every view) or, with --json, as the view's JSON. Every error, whether the
engine's or a usage error, becomes one line on stderr (and `{"error": ...}` on stdout with --json) with
its exit code, in one place: `Cli` (cli_base.py, with the context, option types and shared options).
The engine is imported inside the commands, so `handoff --help` starts fast.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime
from typing import Any

import click

from cli_base import (
    AtLeastOne,
    Cli,
    Context,
    Failed,
    Moment,
    Staffing,
    data_of,
    data_options,
    pass_ctx,
    printable,
    progress,
    record_filters,
)
from cli_repair import batch_filters, cancel, cleanup, migrate, one_or_batch, restart
from cli_web import serve, users_passwd, users_revoke, users_token, users_tokens

DEFAULT_DB = "sqlite:///handoff.db"
TEMPORARY_DEMO = (
    "(the demo used a temporary database: --keep keeps it, --db URL chooses one; then it says how to look"
    " at it in the browser)"
)


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@click.group(cls=Cli, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    from engine.text.people import schema

    app = ctx.app()
    before, after = app.init()
    url, single = app.db.display_url(), app.single_user_mode()
    ctx.emit(
        {"database": url, "from": before, "to": after, "single_user_mode": single},
        schema(url, before, after, single_user=single),
    )


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
    from engine.definitions import validate as validate_files
    from engine.text.definitions import validated

    report = validate_files(files)
    if not ctx.as_json:
        for problem in report.problems:
            click.echo(printable(str(problem)), err=problem.severity == "error")
    ctx.emit(report.to_json(), validated(report) if report.ok else None)
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
    from engine.text.definitions import deployed

    results = ctx.app().deploy(list(files), actor=ctx.user, trusted_scripts=trusted_scripts)
    if not ctx.as_json:
        for warning in sorted({w for r in results for w in r.warnings}):
            click.echo(printable(warning), err=True)
    ctx.emit([r.to_json() for r in results], lambda: deployed(results))


@main.command()
@click.argument("process", required=False)
@click.option("--versions", is_flag=True, help="Every deployed version, newest first, not only the latest.")
@pass_ctx
def processes(ctx: Context, process: str | None, versions: bool) -> None:
    """List deployed processes: latest version, lanes, instance counts, and whether that version's
    scripts run sandboxed or trusted (full Python, deployed with --trusted-scripts). With --versions
    (or a PROCESS), every version: when and by whom it was deployed, its instances and files.

    \b
    Example:
      handoff processes
      handoff processes --versions order_to_cash
    """
    from engine.lookups import process_versions
    from engine.text import definitions as text

    app = ctx.app()
    if not (versions or process):
        items = app.processes(actor=ctx.user)
        ctx.emit([p.to_json() for p in items], lambda: text.processes(items))
        return
    ids = [process] if process else [p.process for p in app.processes(actor=ctx.user)]
    found = [v for pid in ids for v in process_versions(app, pid, actor=ctx.user)]
    ctx.emit(found, lambda: text.versions(found))


# --- instances ---------------------------------------------------------------------------------------


@main.command()
@click.argument("process")
@data_options
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
    data = data_of(data_pairs, data_json)
    ctx.changed(
        ctx.app().start(process, data=data, business_key=business_key, version=version, actor=ctx.user)
    )


@main.command()
@click.option("--process", help="Only instances of this process.")
@click.option(
    "--status",
    help="running, waiting, completed, error, terminated or suspended; 'error' shows each failure's "
    "cause, the automatic retries made and allowed, and the next retry or 'incident'.",
)
@click.option("--key", "business_key", help="Only this business key.")
@click.option("--limit", default=100, show_default=True, help="At most this many, newest first.")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=VALUE",
    help="Only instances whose data has NAME=VALUE (also NAME>V, NAME<V, NAME>=V, NAME<=V on numbers and "
    "dates, NAME~TEXT for text containing TEXT); repeat for more, all must hold.",
)
@pass_ctx
def instances(
    ctx: Context,
    process: str | None,
    status: str | None,
    business_key: str | None,
    limit: int,
    variables: tuple[str, ...],
) -> None:
    """List instances, newest first.

    \b
    Example:
      handoff instances --status error
      handoff instances --var amount>1000 --var region=EU
    """
    from engine.text import instances as text

    items = ctx.app().instances(
        process_id=process,
        status=status,
        business_key=business_key,
        limit=limit,
        variables=variables,
        actor=ctx.user,
    )
    ctx.emit([i.to_json() for i in items], lambda: text.instances(items))


@main.command()
@click.argument("instance", type=int)
@pass_ctx
def show(ctx: Context, instance: int) -> None:
    """Show an instance: status, data, open tasks and its timeline.

    \b
    Example:
      handoff show 1
    """
    from engine.text import instances as text

    view = ctx.app().show(instance, actor=ctx.user)
    waits = ctx.app().waits_of(instance, actor=ctx.user)
    out = view.to_json(with_timeline=True) | {"waits_for": [w.to_json() for w in waits]}
    ctx.emit(out, lambda: text.instance(view, timeline=True, waits=waits))


# --- tasks -------------------------------------------------------------------------------------------


@main.command()
@click.option("--lane", help="Only tasks of this lane (department).")
@click.option("--mine", is_flag=True, help="Only tasks assigned to you (--user) or that you may claim.")
@click.option("--assignee", help="Only tasks assigned to (claimed by) this user.")
@click.option("--candidate", help="Only tasks naming this user, or a lane of theirs, as candidates.")
@click.option("--overdue", is_flag=True, help="Only open tasks past their due time.")
@click.option("--instance", type=int, help="Only tasks of this instance.")
@click.option("--all", "include_closed", is_flag=True, help="Include completed and cancelled tasks.")
@pass_ctx
def tasks(
    ctx: Context,
    lane: str | None,
    mine: bool,
    assignee: str | None,
    candidate: str | None,
    overdue: bool,
    instance: int | None,
    include_closed: bool,
) -> None:
    """List open human tasks (ready and claimed) by priority, then oldest first, with due times and forms.

    \b
    Example:
      handoff tasks --lane Finance
      handoff tasks --mine --overdue
    """
    from engine.text import tasks as text

    items = ctx.app().tasks(
        lane=lane,
        assignee=assignee,
        candidate=candidate,
        mine=mine,
        overdue=overdue,
        instance_id=instance,
        include_closed=include_closed,
        actor=ctx.user,
    )
    ctx.emit([t.to_json() for t in items], lambda: text.tasks(items))


@main.command()
@click.argument("task", type=int)
@pass_ctx
def claim(ctx: Context, task: int) -> None:
    """Take a task, so that others see you are working on it.

    \b
    Example:
      handoff --user bob claim 2
    """
    from engine.text import tasks as text

    view = ctx.app().claim(task, actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.claimed(view))


@main.command()
@click.argument("task", type=int)
@pass_ctx
def unclaim(ctx: Context, task: int) -> None:
    """Release a claimed task back to its lane.

    \b
    Example:
      handoff --user bob unclaim 2
    """
    from engine.text import tasks as text

    view = ctx.app().unclaim(task, actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.released(view))


@main.command()
@click.argument("words", nargs=-1, required=True, metavar="[TASK] TEXT")
@click.option("--instance", type=int, help="Comment on this instance rather than on a task.")
@pass_ctx
def comment(ctx: Context, words: tuple[str, ...], instance: int | None) -> None:
    """Leave a note on a task or an instance, shown by show, history, the web pages and exports.

    \b
    Example:
      handoff --user bob comment 2 "waiting for the customer's invoice"
      handoff comment --instance 1 "customer called: deliver on Monday"
    """
    from engine.text import comments as text

    if instance is not None:
        if len(words) != 1:
            raise click.UsageError("give the comment as one argument (in quotes): comment --instance I TEXT")
        view = ctx.app().comment(words[0], instance_id=instance, actor=ctx.user)
    else:
        if len(words) != 2 or not words[0].isdigit():
            raise click.UsageError("give a task and the comment (in quotes): comment TASK TEXT")
        view = ctx.app().comment(words[1], task_id=int(words[0]), actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.added(view))


@main.command()
@click.argument("task", type=int)
@data_options
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
    data = data_of(data_pairs, data_json)
    ctx.changed(ctx.app().complete(task, data=data, actor=ctx.user))


# --- incidents and lifecycle ---------------------------------------------------------------------------

reason_option = click.option("--reason", help="Why, for the history (shown by 'handoff history').")


@main.command()
@click.argument("instance", type=int, required=False)
@data_options
@batch_filters
@pass_ctx
def retry(
    ctx: Context, instance: int | None, data_pairs: tuple[str, ...], data_json: str | None, **filters: Any
) -> None:
    """Run the failed task of an instance in error again, with corrected data if given. With filters
    instead of INSTANCE, every instance in error they select, each on its own (one failure does not stop
    the others), with a summary.

    \b
    Example:
      handoff retry 7 --data amount=1200
      handoff retry --process claims --version 1 --status error --dry-run
    """
    data = data_of(data_pairs, data_json)
    if one_or_batch(ctx, "retry", instance, filters, data=data or None):
        return
    assert instance is not None
    ctx.changed(ctx.app().retry(instance, data=data, actor=ctx.user))


@main.command()
@click.argument("instance", type=int, required=False)
@reason_option
@batch_filters
@pass_ctx
def suspend(ctx: Context, instance: int | None, reason: str | None, **filters: Any) -> None:
    """Put an instance on hold: its tasks cannot be claimed or completed and its timers and automatic
    retries do not fire until 'handoff resume'. With filters instead of INSTANCE, every instance they
    select. Admins only.

    \b
    Example:
      handoff suspend 7 --reason "customer asked us to wait"
      handoff suspend --process claims --status waiting --reason "system migration"
    """
    if one_or_batch(ctx, "suspend", instance, filters, reason=reason):
        return
    assert instance is not None
    ctx.changed(ctx.app().suspend(instance, reason=reason, actor=ctx.user))


@main.command()
@click.argument("instance", type=int, required=False)
@batch_filters
@pass_ctx
def resume(ctx: Context, instance: int | None, **filters: Any) -> None:
    """Take a suspended instance off hold, back to the status it had; timers and retries that fell due
    meanwhile fire on the worker's next pass. With filters instead of INSTANCE, every suspended
    instance they select. Admins only.

    \b
    Example:
      handoff resume 7
      handoff resume --process claims
    """
    if one_or_batch(ctx, "resume", instance, filters):
        return
    assert instance is not None
    ctx.changed(ctx.app().resume(instance, actor=ctx.user))


@main.command()
@click.argument("instance", type=int, required=False)
@reason_option
@batch_filters
@pass_ctx
def terminate(ctx: Context, instance: int | None, reason: str | None, **filters: Any) -> None:
    """End an instance for good: its open tasks are cancelled and it never runs again. With filters
    instead of INSTANCE, every instance they select (try --dry-run first). Admins only.

    \b
    Example:
      handoff terminate 7 --reason "order cancelled by the customer"
      handoff terminate --process claims --version 1 --key C-17 --dry-run
    """
    if one_or_batch(ctx, "terminate", instance, filters, reason=reason):
        return
    assert instance is not None
    ctx.changed(ctx.app().terminate(instance, reason=reason, actor=ctx.user))


# --- messages and signals ----------------------------------------------------------------------------


@main.command()
@click.argument("name")
@click.option(
    "--key", help="Correlation key: the value of the message's correlation property, else the business key."
)
@click.option("--instance", "instance_id", type=int, help="Deliver to this instance only.")
@click.option(
    "--all", "every", is_flag=True, help="Several instances wait without --key: deliver to all of them."
)
@data_options
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
    from engine.text import instances as text

    data = data_of(data_pairs, data_json)
    views = ctx.app().message(name, key=key, data=data, instance_id=instance_id, every=every, actor=ctx.user)
    ctx.emit([v.to_json() for v in views], lambda: text.changed("message", name, views))


@main.command()
@click.argument("name")
@click.option("--instance", "instance_id", type=int, help="Only this instance catches it; nothing starts.")
@data_options
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
    from engine.text import instances as text

    data = data_of(data_pairs, data_json)
    views = ctx.app().signal(name, data=data, instance_id=instance_id, actor=ctx.user)
    ctx.emit([v.to_json() for v in views], lambda: text.changed("signal", name, views))


# --- history and records ------------------------------------------------------------------------------


@main.command()
@record_filters
@pass_ctx
def handoffs(ctx: Context, **filters: Any) -> None:
    """Work passing from one person to another, with the latency of each handoff.

    \b
    Example:
      handoff handoffs --process order_to_cash --since 2026-03-01 --lane Finance
    """
    from engine.text import records as text

    items = ctx.app().handoffs(actor=ctx.user, **filters)
    ctx.emit([h.to_json() for h in items], lambda: text.handoffs(items))


@main.command()
@record_filters
@pass_ctx
def crossings(ctx: Context, **filters: Any) -> None:
    """Where work crossed from one department (lane) to another; ping-pong marks straight returns.

    \b
    Example:
      handoff crossings --lane Sales
    """
    from engine.text import records as text

    items = ctx.app().crossings(actor=ctx.user, **filters)
    ctx.emit([c.to_json() for c in items], lambda: text.crossings(items))


@main.command()
@record_filters
@pass_ctx
def delays(ctx: Context, **filters: Any) -> None:
    """Tasks that waited, and instances that ran, longer than their SLA.

    \b
    Example:
      handoff delays --lane Finance
    """
    from engine.text import records as text

    items = ctx.app().delays(actor=ctx.user, **filters)
    ctx.emit([d.to_json() for d in items], lambda: text.delays(items))


@main.command()
@click.argument("instance", type=int)
@pass_ctx
def history(ctx: Context, instance: int) -> None:
    """The timeline of an instance: when, who, which lane, what; handoffs, crossings and waits marked.

    \b
    Example:
      handoff history 1
    """
    from engine.text import instances as text

    found = ctx.app().history(instance, actor=ctx.user)
    ctx.emit(found.to_json(), lambda: text.history(found))


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
    "--role", metavar="ROLE", help="designer, operator, analyst or admin (a new user: operator unless given)."
)
@click.option(
    "--tz",
    metavar="ZONE",
    help="The time zone their times are shown in (Europe/Berlin); else HANDOFF_TZ, else the machine's.",
)
@click.option("--email", metavar="ADDRESS", help='Where their notifications go ("" removes it).')
@pass_ctx
def users_add(
    ctx: Context, name: str, lanes: tuple[str, ...], role: str | None, tz: str | None, email: str | None
) -> None:
    """Register NAME, or update them if they exist.

    For an existing user, --role replaces the role and --lane options replace all their lanes; what is
    not given stays. The output says whether the user was added, changed or unchanged.

    \b
    Example:
      handoff users add ann --role admin
      handoff users add fay --lane Finance --lane Sales
      handoff users add fay --lane Finance          (fay now works in Finance only)
      handoff users add fay --tz Europe/Berlin
    """
    from engine.text import people as text

    result = ctx.app().add_user(name, lanes=lanes or None, role=role, actor=ctx.user, tz=tz, email=email)
    for warning in result.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    ctx.emit(result.to_json(), lambda: text.change(result))


@users.command("list")
@pass_ctx
def users_list(ctx: Context) -> None:
    """List registered users: role, lanes, who added them and when.

    \b
    Example:
      handoff users list
    """
    from engine.text import people as text

    items = ctx.app().users(actor=ctx.user)
    ctx.emit([u.to_json() for u in items], lambda: text.users(items))


@users.command("remove")
@click.argument("name")
@pass_ctx
def users_remove(ctx: Context, name: str) -> None:
    """Unregister NAME: from now on they may do nothing. History keeps their name.

    \b
    Example:
      handoff users remove carl
    """
    from engine.text import people as text

    view = ctx.app().remove_user(name, actor=ctx.user)
    ctx.emit(view.to_json() | {"action": "removed"}, lambda: text.removed(view))


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
    from engine.text import people as text

    items = ctx.app().audit_log(subject=subject, limit=limit, actor=ctx.user)
    ctx.emit([e.to_json() for e in items], lambda: text.audit(items))


# --- SLA and worker ----------------------------------------------------------------------------------


@main.group()
def notify() -> None:
    """Mail notifications: who hears of what is in docs/notifications.md; SMTP settings here or in the
    environment (HANDOFF_SMTP_HOST, _PORT, _FROM, _USER, _PASSWORD, _STARTTLS, _TIMEOUT), which wins.

    \b
    Example:
      handoff notify set --host smtp.example.org --port 587 --from handoff@example.org --starttls true
    """


@notify.command("set")
@click.option("--host", help="The SMTP server (nothing is sent until it is set).")
@click.option("--port", help="Its port (25 unless given).")
@click.option("--from", "sender", help="The sender address of the mails.")
@click.option("--username", help="The SMTP user; the password only from HANDOFF_SMTP_PASSWORD.")
@click.option(
    "--starttls", type=click.Choice(["true", "false"]), help="Upgrade the connection with STARTTLS."
)
@click.option("--timeout", help="Seconds to wait for the server (5 unless given).")
@click.option(
    "--arrival", type=click.Choice(["immediate", "digest", "off"]), help="How a lane hears of new work."
)
@click.option("--digest-minutes", help="In digest mode: at most one digest per person this often (60).")
@click.option("--url", help="The web address of `handoff serve`, for links in the mails.")
@click.option(
    "--unset", "unset", multiple=True, metavar="NAME", help="Forget a setting (back to its default)."
)
@pass_ctx
def notify_set(ctx: Context, unset: tuple[str, ...], sender: str | None, **options: str | None) -> None:
    """Set the mail settings (admins); the effective settings afterwards.

    \b
    Example:
      handoff notify set --host localhost --port 2525 --from handoff@example.org --arrival digest
    """
    values: dict[str, str | None] = {k: v for k, v in options.items() if v is not None}
    if sender is not None:
        values["from"] = sender
    for name in unset:
        values[name.replace("-", "_")] = None
    if not values:
        raise Failed("give at least one setting (see --help)", 2)
    from engine.text import notify as text

    view = ctx.app().notify_settings(values, actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.settings(view))


@notify.command("show")
@pass_ctx
def notify_show(ctx: Context) -> None:
    """The effective mail settings (environment, else stored, else defaults).

    \b
    Example:
      handoff notify show
    """
    from engine.text import notify as text

    view = ctx.app().notify_settings(actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.settings(view))


@notify.command("flush")
@pass_ctx
def notify_flush(ctx: Context) -> None:
    """Send every waiting digest now (digest mode sends them by itself once they are due).

    \b
    Example:
      handoff notify flush
    """
    sent = ctx.app().notify_flush(actor=ctx.user)
    ctx.emit({"sent": sent}, f"{sent} digest mail{'s' if sent != 1 else ''} sent")


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
    from engine.text import records as text

    if bool(lane) == is_default:
        raise Failed("give exactly one of --lane LANE or --default", 2)
    view = ctx.app().set_sla(duration, lane=lane, actor=ctx.user)
    ctx.emit(view.to_json(), lambda: text.sla_set(view))


@sla.command("list")
@pass_ctx
def sla_list(ctx: Context) -> None:
    """List the lane defaults and the global default.

    \b
    Example:
      handoff sla list
    """
    from engine.text import records as text

    items = ctx.app().sla_settings(actor=ctx.user)
    ctx.emit([i.to_json() for i in items], lambda: text.sla_list(items))


@main.command()
@click.option(
    "--once", is_flag=True, help="Do what is due now (up to 5,000 items), then exit (for cron and tests)."
)
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(min=0.05, max=86_400),
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
    type=click.FloatRange(min=1, max=7 * 86_400),
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
    from datetime import timedelta

    from engine.worker import WorkerPass, serve

    def on_pass(result: WorkerPass) -> None:
        if ctx.as_json:
            click.echo(json.dumps(result.to_json()))  # JSON lines: one object per pass
        elif result.did_something or once:
            click.echo(result.text())

    failed = serve(
        ctx.app(),
        ctx.db_url,
        once=once,
        interval=interval,
        concurrency=concurrency,
        lease=timedelta(seconds=lease),
        name=name,
        on_pass=on_pass,
        on_line=click.echo,
        on_start=lambda line: None if ctx.as_json else click.echo(line, err=True),
        as_json=ctx.as_json,
    )
    if failed:
        raise Failed(f"{failed} worker process(es) stopped with an error")


# --- simulation and the demo ----------------------------------------------------------------------------


@main.command()
@click.argument("process")
@click.option(
    "-n", "--instances", "count", type=AtLeastOne(), required=True, help="How many instances arrive."
)
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
    type=Staffing(),
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
    type=Moment(),
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
    staff: tuple[tuple[str, int], ...],
    hours: str | None,
    start_at: datetime | None,
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
      handoff --db sqlite:///whatif.db init
      handoff --db sqlite:///whatif.db simulate examples/order-to-cash.bpmn -n 2000 --seed 7 --staff Finance=3
    """
    from engine.simulation import scenario_for
    from engine.simulation import simulate as run_simulation

    scenario = scenario_for(
        ctx.app(), process, count, seed, arrivals, dict(staff), hours, start_at, actor=ctx.user
    )
    ctx.close()  # the simulation opens the database itself, in one long transaction
    with progress(ctx.as_json, count, "simulating") as moved:
        result = run_simulation(ctx.db_url, scenario, progress=moved)
    if report_path:
        _write_file(report_path, ctx.app().report_html(process_id=scenario.process))
    ctx.emit(
        result.to_json() | {"report": report_path},
        result.text() + (f"\n\nreport: {report_path}" if report_path else ""),
    )


def _write_file(path: str, body: str) -> None:
    from engine.files import atomic_file

    with atomic_file(path) as out:
        out.write(body)


@main.command()
@click.option(
    "--instances",
    "count",
    type=AtLeastOne(),
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
    from pathlib import Path

    from engine.demo import run_demo, scratch_database

    ctx: Context = click_ctx.obj
    report = Path(out_path).resolve()
    if not report.parent.is_dir():
        raise Failed(f"--out: folder {report.parent} does not exist", 2)
    source = click_ctx.parent.get_parameter_source("db_url") if click_ctx.parent else None
    chosen = None if source is None or source.name == "DEFAULT" else ctx.db_url
    with scratch_database(chosen, keep=keep) as db_url, progress(ctx.as_json, count, "simulating") as moved:
        result = run_demo(db_url, instances=count, seed=seed, report_path=report, progress=moved)
    kept = db_url if (keep or chosen) else None
    note = "" if chosen else f"\ndatabase kept: {db_url}" if keep else f"\n{TEMPORARY_DEMO}"
    browser = "\n".join(result.browser_text(kept))
    ctx.emit(
        result.to_json() | {"database": kept, "web": result.browser(kept)}, result.text() + browser + note
    )


@main.command()
@click.option("--process", help="Only this process.")
@click.option("--since", type=Moment(), help="Instances started from this time on (UTC, ISO 8601).")
@click.option("--until", type=Moment(), help="Instances started before this time (UTC, ISO 8601).")
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
    since: datetime | None,
    until: datetime | None,
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
    fmt = fmt or ("json" if ctx.as_json else "text")
    if fmt == "html" and out_path in (None, "-") and sys.stdout.isatty():
        raise Failed("an HTML report is for a browser: write it to a file with --out report.html", 2)
    filters = {"process_id": process, "since": since, "until": until, "actor": ctx.user}
    if fmt == "html":
        body = ctx.app().report_html(**filters)
    else:
        found = ctx.app().report(**filters)
        body = json.dumps(found.to_json(), indent=2) + "\n" if fmt == "json" else found.text()
    if out_path is None or out_path == "-":
        click.echo(body, nl=False)
        return
    _write_file(out_path, body)
    ctx.emit({"format": fmt, "out": out_path}, f"report written to {out_path} ({fmt})")


@main.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["xes", "csv"]),
    required=True,
    help="XES (IEEE 1849) or CSV, one row per event.",
)
@click.option("--process", help="Only this process.")
@click.option("--since", type=Moment(), help="Events from this time on (UTC, ISO 8601).")
@click.option("--until", type=Moment(), help="Events before this time (UTC, ISO 8601).")
@click.option("--schedule", is_flag=True, help="Also export tasks becoming ready (lifecycle 'schedule').")
@click.option(
    "--out", "out_path", default="-", show_default=True, metavar="FILE", help="Where to write; - for stdout."
)
@pass_ctx
def export(
    ctx: Context,
    fmt: str,
    process: str | None,
    since: datetime | None,
    until: datetime | None,
    schedule: bool,
    out_path: str,
) -> None:
    """The history as an event log for process-mining tools (PM4Py, ProM, Disco, Celonis).

    One trace per instance; each activity's start (claim) and complete events with time, resource
    (who) and group (lane). Streamed: any length of history in constant memory. See docs/export.md.

    \b
    Example:
      handoff export --format xes --process order_to_cash --out orders.xes
      handoff export --format csv | head
    """
    from engine.files import atomic_file

    filters = {"process_id": process, "since": since, "until": until, "schedule": schedule, "actor": ctx.user}
    if out_path == "-":
        with progress(ctx.as_json, None, "exporting") as moved:
            ctx.app().export(click.get_binary_stream("stdout"), fmt, progress=moved, **filters)
        return
    with atomic_file(out_path, binary=True) as out, progress(ctx.as_json, None, "exporting") as moved:
        count = ctx.app().export(out, fmt, progress=moved, **filters)
    ctx.emit(
        {"format": fmt, "out": out_path, "events": count}, f"{count} events written to {out_path} ({fmt})"
    )


# --- sign-in secrets and the web server: cli_web.py -------------------------------------------------------

users.add_command(users_passwd)
users.add_command(users_token)
users.add_command(users_tokens)
users.add_command(users_revoke)
main.add_command(serve)

# --- repairing running work: cli_repair.py ----------------------------------------------------------------

for command in (migrate, restart, cancel, cleanup):
    main.add_command(command)


if __name__ == "__main__":
    main()

"""The command line's commands for repairing running work (docs/repair.md): `handoff migrate`,
`restart`, `cancel`, `cleanup`, and the filters that turn `retry`, `suspend`, `resume` and `terminate`
into batches. cli.py mounts them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from cli_base import AtLeastOne, Context, Failed, data_of, data_options, pass_ctx, progress

STATUSES = ("running", "waiting", "completed", "error", "terminated", "suspended")  # engine.INSTANCE_STATUSES


def batch_filters(f: Callable[..., Any]) -> Callable[..., Any]:
    """Instead of one INSTANCE: every instance these select (issue 16's batches)."""
    options = [
        click.option("--process", "process_id", help="Instances of this process."),
        click.option(
            "--version",
            "versions",
            type=AtLeastOne(),
            multiple=True,
            help="Of this version (with --process).",
        ),
        click.option(
            "--status", "statuses", type=click.Choice(STATUSES), multiple=True, help="In this status."
        ),
        click.option("--key", "business_key", help="With this business key."),
        click.option("--dry-run", is_flag=True, help="List what would be done; change nothing."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _stepper(moved: Callable[..., None] | None) -> Callable[[Any, int, int], None]:
    """A use case's progress(item, done, total) moving the bar, if there is one."""
    return lambda _item, done, total: moved(done, total) if moved is not None else None


def one_or_batch(
    ctx: Context, operation: str, instance: int | None, filters: dict[str, Any], **options: Any
) -> bool:
    """Run `operation` on the instances `filters` select (True), or say to run it on INSTANCE (False)."""
    from engine.text import repair as text

    dry_run = filters.pop("dry_run")
    chosen = {k: v for k, v in filters.items() if v}
    if instance is not None:
        if chosen or dry_run:
            raise Failed("give an INSTANCE or filters (--process, --version, --status, --key), not both", 2)
        return False
    if not chosen:
        raise Failed(f"say which instance to {operation}: an INSTANCE, or filters such as --status error", 2)
    with progress(ctx.as_json, None, operation) as moved:
        report = ctx.app().batch_operation(
            operation, dry_run=dry_run, actor=ctx.user, progress=_stepper(moved), **chosen, **options
        )
    ctx.emit(report.to_json(), lambda: text.batch(report))
    if report.count("failed"):
        raise click.exceptions.Exit(5)
    return True


@click.command()
@click.argument("process")
@click.option("--to-version", type=AtLeastOne(), required=True, help="The version to move instances to.")
@click.option("--from-version", type=AtLeastOne(), help="Only instances on this version.")
@click.option("--instance", "instance_ids", type=int, multiple=True, help="Only this instance (repeatable).")
@click.option("--status", "statuses", type=click.Choice(STATUSES), multiple=True, help="Only in this status.")
@click.option("--key", "business_key", help="Only instances with this business key.")
@click.option("--dry-run", is_flag=True, help="Say per instance what would change; change nothing.")
@pass_ctx
def migrate(ctx: Context, process: str, **options: Any) -> None:
    """Move running instances to another version of their process. Each instance moves in a
    transaction of its own, keeping its history; one whose open work is at an element the version
    does not have cannot move, and is listed. Admins only. Exit 5 when an instance failed to move.

    \b
    Example:
      handoff migrate claims --to-version 2 --dry-run
      handoff migrate claims --to-version 2 --from-version 1
    """
    from engine.text import repair as text

    with progress(ctx.as_json, None, "planning" if options["dry_run"] else "migrating") as moved:
        report = ctx.app().migrate(process, actor=ctx.user, progress=_stepper(moved), **options)
    ctx.emit(report.to_json(), lambda: text.migration(report))
    if report.count("failed"):
        raise click.exceptions.Exit(5)


@click.command()
@click.argument("instance", type=int)
@click.option("--from", "element", required=True, help="The BPMN id of a completed activity to restart from.")
@data_options
@pass_ctx
def restart(
    ctx: Context, instance: int, element: str, data_pairs: tuple[str, ...], data_json: str | None
) -> None:
    """Restart an instance from an activity it completed: that activity is ready again (with the data
    given), what came after it is cancelled, and the work done again counts as rework. History stays.
    Admins only.

    \b
    Example:
      handoff restart 7 --from review_claim --data amount=250
    """
    data = data_of(data_pairs, data_json)
    ctx.changed(ctx.app().restart(instance, element=element, data=data or None, actor=ctx.user))


@click.command()
@click.argument("instance", type=int)
@click.option(
    "--task", "task_id", type=int, required=True, help="The open task to cancel (see 'handoff tasks')."
)
@pass_ctx
def cancel(ctx: Context, instance: int, task_id: int) -> None:
    """Cancel one open task of an instance where the model allows it (not its only open work, not a
    branch a join waits for); the instance runs on from its other work. Admins only.

    \b
    Example:
      handoff cancel 7 --task 31
    """
    ctx.changed(ctx.app().cancel(instance, task_id=task_id, actor=ctx.user))


@click.command()
@click.option("--older-than", help="What ended longer ago than this (P180D); else camunda:historyTimeToLive.")
@click.option("--process", "process_id", help="Only instances of this process.")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--export", "export_to", type=click.Path(dir_okay=False), help="First write their XES log to FILE."
)
@pass_ctx
def cleanup(
    ctx: Context, older_than: str | None, process_id: str | None, dry_run: bool, export_to: str | None
) -> None:
    """Delete completed and terminated instances past their time to live, with their tasks, history and
    records, in bounded batches. What it deletes is gone from reports and exports for good: --export
    keeps its event log first. Admins only.

    \b
    Example:
      handoff cleanup --older-than P180D --dry-run
      handoff cleanup --process claims --older-than P1Y --export claims-retired.xes
    """
    from engine.text import repair as text

    with progress(ctx.as_json, None, "deleting") as moved:
        report = ctx.app().cleanup(
            older_than=older_than,
            process_id=process_id,
            dry_run=dry_run,
            export_to=export_to,
            actor=ctx.user,
            progress=(lambda done, total: moved(done, total)) if moved is not None else None,
        )
    ctx.emit(report.to_json(), lambda: text.cleanup(report, export_to))

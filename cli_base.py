"""What every command of the command line stands on: its one error class and the group that turns every
error into one line and its exit code (`Cli`), the context a command receives (`Context`: the global
options and the application, built on first use), the option types (a time, a count, LANE=K), the options
several commands share (form data, the records' filters) and the progress bar. The commands are in
cli.py. Only click is imported here; the engine when a command runs, so `handoff --help` starts fast."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from engine import Handoff, InstanceView


def printable(text: Any, *, whole: bool = False) -> str:
    """engine.terminal.printable (one line, cut to its bound; `whole`: every line, uncut), imported when
    something is printed: `--help` imports no engine."""
    from engine.terminal import printable as escaped

    return escaped(text, None, lines=True) if whole else escaped(text)


class Failed(click.ClickException):
    """An error for the person at the terminal: one line on stderr; with --json, also `{"error": ...}`
    (plus `instance` for a failed script) on stdout."""

    def __init__(self, message: str, exit_code: int = 1, **extra: Any) -> None:
        super().__init__(" ".join(message.split()))
        self.exit_code = exit_code
        self.extra = extra

    def report(self, as_json: bool) -> None:
        click.echo(f"error: {printable(self.message, whole=True)}", err=True)  # bounded by the engine
        if as_json:
            click.echo(json.dumps({"error": self.message, **self.extra}))


class Cli(click.Group):
    """The `handoff` group: engine errors and usage errors end here, each as one line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from engine.errors import HandoffError, ScriptFailed

            if not isinstance(exc, HandoffError):
                raise
            extra = {"instance": exc.instance_id} if isinstance(exc, ScriptFailed) and exc.instance_id else {}
            raise Failed(str(exc), exc.exit_code, **extra) from exc

    def main(
        self, args: Sequence[str] | None = None, *rest: Any, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        if args is None:  # the `handoff` program itself (a test or a tool passes its arguments)
            Startup.whole_process = True
        try:
            return self._main(args, *rest, standalone_mode=standalone_mode, **extra)
        finally:
            if Startup.whole_process:
                # The process ends now: nothing left is garbage worth the interpreter's last full
                # collection at exit, which costs a read command ~30-60 ms over SQLAlchemy's objects.
                gc.freeze()

    def _main(
        self, args: Sequence[str] | None, *rest: Any, standalone_mode: bool = True, **extra: Any
    ) -> Any:
        argv = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in argv[: argv.index("--")] if "--" in argv else "--json" in argv
        if not standalone_mode:
            return super().main(argv, *rest, standalone_mode=False, **extra)
        try:
            code = super().main(argv, *rest, standalone_mode=False, **extra)
        except Failed as exc:
            exc.report(as_json)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:  # usage errors: click's own text, or one line with --json
            if as_json:
                Failed(exc.format_message(), exc.exit_code).report(True)
            else:
                exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


class Startup:
    """The garbage collector during start-up (issue 17: a read command's latency).

    Importing the engine (SQLAlchemy, the models) creates hundreds of thousands of objects, none of them
    garbage; each time their count crosses a threshold the collector walks them all again, ~50 ms of a
    read command. While the application is built it is off; then, when this command is the whole
    process, what was built is frozen (it lives until exit: later collections skip it) and collection
    resumes for what the command itself creates (a long command such as `handoff demo` or `serve`
    collects as usual). In a test's process nothing is frozen: the collector is only restored.
    """

    whole_process = False

    @staticmethod
    @contextmanager
    def quiet() -> Iterator[None]:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            if Startup.whole_process:
                gc.freeze()
            if was_enabled:
                gc.enable()


class Context:
    """The global options, and the application built on first use (closed when the command ends)."""

    def __init__(self, db_url: str, user: str, as_json: bool) -> None:
        self.db_url = db_url
        self.user = user
        self.as_json = as_json
        self._app: Handoff | None = None

    def app(self) -> Handoff:
        if self._app is None:
            with Startup.quiet():
                from engine import Handoff

                self._app = Handoff(self.db_url)
        return self._app

    def close(self) -> None:
        if self._app is not None:
            self._app.db.dispose()
            self._app = None

    def emit(self, value: Any, text: str | Callable[[], str] | None = None) -> None:
        """The result: its JSON with --json, else its text (if any)."""
        if self.as_json:
            click.echo(json.dumps(value, indent=2, default=str))
        elif text is not None:
            from engine import zones

            # Times in the reader's zone, named (`users add --tz`, else HANDOFF_TZ, else the machine's).
            with zones.showing(zones.resolve(self._zone_name())):
                # The renderers escape what came from uploads; this is the last guard for anything else.
                click.echo(printable(text() if callable(text) else text, whole=True))

    def _zone_name(self) -> str | None:
        """The acting user's zone, when the command opened the database and it knows them; None otherwise
        (never an error here, and never a database opened just for this)."""
        if self._app is None:
            return None
        from engine.errors import HandoffError

        try:
            return self.app().zone_of(self.user)
        except HandoffError:
            return None

    def changed(self, view: InstanceView) -> None:
        """An instance after a change: as `show` prints it, without the timeline."""
        from engine.text import instances as text

        self.emit(view.to_json(), lambda: text.instance(view))


pass_ctx = click.make_pass_decorator(Context)


class Moment(click.ParamType):
    """An ISO 8601 time (UTC unless it says otherwise)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            option = param.opts[0] if param is not None and param.opts else "TIME"
            raise Failed(
                f"{option} expects an ISO 8601 time like 2026-03-02 or 2026-03-02T09:00Z, got {value!r}", 2
            ) from None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class AtLeastOne(click.ParamType):
    """A whole number of at least 1 (how many instances)."""

    name = "N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        option = param.opts[0] if param is not None and param.opts else "N"
        try:
            number = int(value)
        except (TypeError, ValueError):
            number = 0
        if number < 1:
            raise Failed(f"{option} must be at least 1, got {value}", 2)
        return number


class Staffing(click.ParamType):
    """LANE=K: K operators in a lane."""

    name = "LANE=K"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[str, int]:
        lane, sep, count = str(value).rpartition("=")
        if not sep or not lane.strip() or not count.strip().isdigit() or int(count) < 1:
            raise Failed(f"--staff expects LANE=K with K a whole number of at least 1, got {value!r}", 2)
        return lane.strip(), int(count)


def data_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """--data KEY=VALUE... and --data-json: a command's form data or variables."""
    f = click.option(
        "--data-json",
        metavar="JSON",
        help="Data as a JSON object, e.g. '{\"amount\": 100}'. Limits: 64 KiB per string, 1 MiB in all, "
        "20 levels deep, finite numbers, 64-bit whole numbers (docs/hostile-input.md).",
    )(f)
    return click.option(
        "--data",
        "data_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="A form field or variable; repeat for more. Converted to the field's type.",
    )(f)


def data_of(pairs: tuple[str, ...], data_json: str | None) -> dict[str, Any]:
    from engine import parse_assignments

    return parse_assignments(pairs, data_json)


def record_filters(f: Callable[..., Any]) -> Callable[..., Any]:
    """The filters of the hook records: process, instance, period, lanes, limit."""
    options = [
        click.option("--process", "process_id", help="Only this process."),
        click.option("--instance", "instance_id", type=int, help="Only this instance."),
        click.option("--since", type=Moment(), help="From this time on (UTC, ISO 8601)."),
        click.option("--until", type=Moment(), help="Before this time (UTC, ISO 8601)."),
        click.option("--lane", "lanes", multiple=True, help="Touching this lane; repeat for more."),
        click.option("--limit", default=1000, show_default=True, help="At most this many."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


@contextmanager
def progress(as_json: bool, total: int | None, label: str) -> Iterator[Callable[..., None] | None]:
    """A progress bar on stderr for a terminal (nothing when piped or with --json): gives the callback
    that moves it to `done`, `moved(done)` or `moved(done, total)` when the total is learnt on the way."""
    if as_json or not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(
        length=max(total or 0, 1), label=label, file=sys.stderr, show_pos=True, show_eta=True
    ) as bar:

        def moved(done: int, of: int | None = None) -> None:
            if of is not None:
                bar.length = max(of, 1)
            bar.update(done - bar.pos)

        yield moved

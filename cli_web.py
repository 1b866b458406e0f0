"""The command line's commands for the web door (docs/security.md, docs/web-api.md): the sign-in secrets
(`handoff users passwd`, `token`, `tokens`, `revoke`) and `handoff serve`. cli.py mounts them; the server
itself is web/, started by its import string, so nothing here imports it."""

from __future__ import annotations

import os
import sys

import click

from cli_base import Context, pass_ctx


@click.command("passwd")
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
    result = signin.set_password(ctx.app(), name, password, actor=ctx.user)
    ended = f"; {result.sessions_ended} web session(s) ended" if result.sessions_ended else ""
    ctx.emit(result.to_json(), f"password of {name} set{ended}")


@click.command("token")
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
    from engine.text.people import token_made

    new = signin.create_token(ctx.app(), name, expires=signin.parse_expiry(expires), actor=ctx.user)
    if ctx.as_json:
        ctx.emit(new.to_json())
        return
    click.echo(token_made(new, name), err=True)
    click.echo(new.token)


@click.command("tokens")
@click.argument("name")
@pass_ctx
def users_tokens(ctx: Context, name: str) -> None:
    """List NAME's API tokens: id, start of the token, made, expiry, last use, revoked.

    \b
    Example:
      handoff users tokens erp-bot
    """
    from engine import signin
    from engine.text.people import tokens

    app = ctx.app()
    items = signin.tokens(app, name, actor=ctx.user)
    ctx.emit([t.to_json(app.clock()) for t in items], lambda: tokens(name, items, app.clock()))


@click.command("revoke")
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
    view = signin.revoke_token(app, token_id, actor=ctx.user)
    ctx.emit(view.to_json(app.clock()), f"token {view.id} of {view.name} revoked")


@click.command()
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
    import uvicorn

    from engine import signin

    app = ctx.app()
    app.single_user_mode()  # the schema check, with its clear message
    admins, url = signin.check_can_serve(app), app.db.display_url()
    ctx.close()
    os.environ["HANDOFF_DB"] = ctx.db_url  # each worker process builds its application from it
    if proxy_header:
        os.environ["HANDOFF_PROXY_HEADER"] = proxy_header
    if not ctx.as_json:
        click.echo(
            f"handoff serving {url} at http://{host}:{port}/ (API docs at /api/docs; admins who can sign "
            f"in: {', '.join(admins)}; Ctrl-C stops it)",
            err=True,
        )
    uvicorn.run(
        "web.app:app_from_environment", factory=True, host=host, port=port, workers=workers,
        log_level="info", server_header=False,
    )  # fmt: skip

"""A real `handoff serve` for tests: uvicorn on a free 127.0.0.1 port, talked to over HTTP with httpx.

`serve_in_thread(app)` runs an ASGI application (web.create_app) in a thread of the test process;
`serve_process(db_url)` runs the `handoff serve` command as a subprocess, its output captured. Both stop
by themselves when the `with` block ends. `populate(db_url)` makes the database the web tests share:
users of every role, the test process deployed, API tokens.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from conftest import DATA, ROOT, table_rows

ORDER = DATA / "web_api_order.bpmn"
PASSWORD = "correct horse battery"

# name -> (role, lanes)
PEOPLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "ann": ("admin", ()),
    "olga": ("operator", ("Sales",)),
    "fin": ("operator", ("Finance",)),
    "dora": ("designer", ()),
    "ana": ("analyst", ()),
}


@dataclass
class Site:
    """A running server and the database it serves."""

    url: str
    db_url: str
    tokens: dict[str, str] = field(default_factory=dict)  # name -> API token

    def client(self, name: str | None = None, **kwargs: Any) -> httpx.Client:
        """An HTTP client signed in with NAME's API token (or with no credentials at all)."""
        headers = {"Authorization": f"Bearer {self.tokens[name]}"} if name else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)


def work_rows(db_url: str) -> dict[str, list[tuple]]:
    """Every row of every table, but the sign-in bookkeeping that each request may touch (a token's
    last use, a session's idle clock): to compare a database before and after a refused request."""
    rows = table_rows(db_url)
    rows.pop("api_token", None)
    rows.pop("web_session", None)
    return rows


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn on a free localhost port; yields the base URL."""
    import uvicorn

    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


@contextmanager
def serve_process(db_url: str, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[str, Any]]:
    """`handoff --db DB_URL serve --port P ARGS` as a subprocess; yields (base URL, the process), whose
    output (stdout and stderr together) can be read after the block from `process.output`."""
    with free_socket() as sock:
        port = sock.getsockname()[1]
    environment = dict(os.environ, PYTHONPATH=str(ROOT), **(env or {}))
    log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"handoff-serve-{port}.log", "w+b")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "--db", db_url, "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                break  # it refused to start: the caller reads why
            try:
                httpx.get(url + "/api/openapi.json", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("handoff serve did not start") from None
                time.sleep(0.1)
        yield url, process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.seek(0)
        process.output = log.read().decode("utf-8", "replace")  # type: ignore[attr-defined]
        log.close()
        os.unlink(log.name)


def populate(db_url: str, *, passwords: tuple[str, ...] = ()) -> dict[str, str]:
    """Initialise the database, register PEOPLE, deploy the test process, give NAMES in `passwords`
    the password PASSWORD; returns an API token per person."""
    from engine import Handoff, signin
    from storage import Database

    app = Handoff(Database(db_url))
    try:
        app.init()
        for name, (role, lanes) in PEOPLE.items():
            app.add_user(name, role=role, lanes=lanes, actor="ann")
        app.deploy([ORDER], actor="ann")
        for name in passwords:
            signin.set_password(app, name, PASSWORD, actor="ann")
        return {name: signin.create_token(app, name, expires=None, actor="ann").token for name in PEOPLE}
    finally:
        app.db.dispose()


@contextmanager
def site(db_url: str, *, passwords: tuple[str, ...] = (), **create_options: Any) -> Iterator[Site]:
    """A populated database served by web.create_app in a thread."""
    from web import create_app

    tokens = populate(db_url, passwords=passwords)
    create_options.setdefault("with_pages", False)
    app = create_app(db_url, **create_options)
    with serve_in_thread(app) as url:
        yield Site(url, db_url, tokens)

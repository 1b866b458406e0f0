"""Fixtures: a real database per test, on SQLite and (when a server is given) PostgreSQL.

PostgreSQL comes from HANDOFF_TEST_PG, the URL of a server where tests may create databases
(.ci/run starts one from Debian's packages). Outside CI its tests skip without it; in CI (CI=true)
a missing server fails them, so that a skipped PostgreSQL test never passes for a green run.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "order-to-cash.bpmn"
DATA = Path(__file__).resolve().parent / "data"
CORPUS = ROOT.parent / "shared" / "corpus"
PG_ENV = "HANDOFF_TEST_PG"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def handoff_executable() -> str | None:
    """The `handoff` script installed with the interpreter that runs the tests (beside it in its virtual
    environment's bin/), never another one that comes first on PATH; None when it is not installed."""
    exe = Path(sys.executable).parent / ("handoff.exe" if os.name == "nt" else "handoff")
    return str(exe) if exe.is_file() else None


def handoff_command() -> list[str]:
    """How tests run `handoff` as its own process: the installed script, else this checkout's cli.py."""
    exe = handoff_executable()
    return [exe] if exe else [sys.executable, str(ROOT / "cli.py")]


def _pg_admin_url() -> str | None:
    url = os.environ.get(PG_ENV)
    if url:
        return url
    if IN_CI:
        pytest.fail(f"CI=true but {PG_ENV} is not set: PostgreSQL tests must run in CI")
    return None


def _create_pg_database() -> tuple[str, str]:
    import psycopg

    admin = _pg_admin_url()
    if admin is None:
        pytest.skip(f"no PostgreSQL server ({PG_ENV} unset)")
    name = f"handoff_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = admin.rsplit("/", 1)[0]
    return name, f"{base}/{name}"


def _drop_pg_database(name: str) -> None:
    import psycopg

    admin = _pg_admin_url()
    assert admin is not None
    with psycopg.connect(admin.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL; every storage-touching test runs once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'handoff.db'}"
        return
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database, for tests that only make sense there (or pick their backend)."""
    name, url = _create_pg_database()
    try:
        yield url
    finally:
        _drop_pg_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'handoff.db'}"


@pytest.fixture
def clock():
    from engine import ManualClock

    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def app(db_url: str, clock):
    """A Handoff on a fresh, initialised database with a manual clock."""
    from engine import Handoff
    from storage import Database

    handoff = Handoff(Database(db_url), clock=clock)
    handoff.init()
    yield handoff
    handoff.db.dispose()


def table_rows(db_url: str) -> dict[str, list[tuple]]:
    """Every row of every Handoff table, to compare a database before and after a failed command."""
    from sqlalchemy import create_engine, text

    from storage.models import Base

    url = db_url.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            out = {}
            for table in Base.metadata.sorted_tables:
                rows = conn.execute(text(f"SELECT * FROM {table.name} ORDER BY 1")).all()
                out[table.name] = [tuple(r) for r in rows]
            out["alembic_version"] = [tuple(r) for r in conn.execute(text("SELECT * FROM alembic_version"))]
            return out
    finally:
        engine.dispose()


@contextmanager
def unchecked_deploys() -> Iterator[None]:
    """Deploys in this block skip the deploy-time code check (bpmn/code_check.py), as versions deployed
    before it existed did: what a test deploying so shows is that the run-time sandbox still stops their
    code. (tests/test_model_check.py shows the same code refused at deploy.)"""
    from engine.runtime import sandbox

    original = sandbox.check_compiles
    sandbox.check_compiles = lambda source, mode, *, trusted=False: None  # type: ignore[assignment]
    try:
        yield
    finally:
        sandbox.check_compiles = original  # type: ignore[assignment]


@pytest.fixture
def checked_at_run_time() -> Iterator[None]:
    """The test's deploys skip the deploy-time code check (`unchecked_deploys`)."""
    with unchecked_deploys():
        yield

"""Connections, schema versions and units of work. SQLite (WAL, foreign keys) by default; PostgreSQL by URL."""

from __future__ import annotations

import os
import select
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError

from .driver import driver_execute
from .migration_heads import heads

if TYPE_CHECKING:
    # The ORM is imported when a session is first asked for: a read command (`handoff tasks`, `show`)
    # runs on a Connection (`connection`) and never loads it (issue 17; tests/test_layers.py).
    from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


class StorageError(Exception):
    """A storage problem the user can act on (bad URL, unreachable server, outdated schema)."""


class SchemaOutdated(StorageError):
    pass


class ConcurrentUpdate(StorageError):
    """Another transaction changed the same rows first (optimistic lock or SQLite write conflict)."""


class DatabaseMissing(SchemaOutdated):
    """The SQLite file does not exist: no schema at all (`handoff init` and `demo` create it)."""


def sqlite_file(url: Any) -> Path | None:
    """The file of a SQLite URL; None for other databases and in-memory ones (`sqlite://`, `:memory:`,
    URI filenames), which have no file to keep from being created."""
    if url.get_backend_name() != "sqlite":
        return None
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("uri"):
        return None
    return Path(name)


def create_sqlite_file(path: Path) -> None:
    """Create an empty SQLite file readable and writable by its owner only (0600). SQLite makes the
    file's journal and WAL files with the file's own permissions, so the history in them stays private too;
    it would otherwise create the file with the umask's mode, readable by every local user."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass  # created meanwhile (another `handoff init`): SQLite opens it as it is
    except OSError as exc:
        raise StorageError(f"cannot create database file {path}: {exc.strerror or exc}") from exc


def _sqlite_setup(engine: Engine, path: Path | None) -> None:
    @event.listens_for(engine, "do_connect")
    def _refuse_missing_file(*_args: Any) -> None:
        # sqlite3 would create an empty file for any mistyped --db and the command then fail with "no
        # schema"; only `upgrade` (handoff init, handoff demo) creates the file, first, with mode 0600.
        if path is not None and not path.exists():
            raise DatabaseMissing(
                f"database file {os.path.abspath(path)} does not exist (name another with --db or "
                f"HANDOFF_DB); to create it, run 'handoff init' first"
            )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SQLAlchemy docs,
        # "Serializable isolation / Savepoints / Transactional DDL" for pysqlite).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        # A checkpoint (copying the WAL back into the file, with two fsyncs) every ~40 MB of WAL rather
        # than SQLite's 4 MB: the pages every operation writes again (the tables' last pages, the hot
        # index pages) are copied once per checkpoint, and the fsyncs come 10x less often. A completion's
        # commit took 480 us of wall time at 1,000 pages, 257 us at 10,000 (benchmarks/README.md).
        cursor.execute("PRAGMA wal_autocheckpoint=10000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the write lock up front: a deferred transaction that read before another
        # connection committed can never write afterwards (WAL snapshot), a spurious conflict.
        driver_execute(
            conn, "BEGIN IMMEDIATE" if conn.get_execution_options().get("handoff_write") else "BEGIN", ()
        )


def _ping_when_spoken_to(engine: Engine) -> None:
    """A server connection is pinged at checkout only when the server has sent something while it sat
    in the pool, instead of always (SQLAlchemy's `pool_pre_ping`: a round trip, two autocommit switches
    and ~0.1 ms on every operation, 4% of a start, issue 17).

    An idle connection in the pool is sent nothing unless the server ends it: a shutdown, restart,
    crash or `pg_terminate_backend` sends the client an error and closes the socket (or the kernel
    closes it when the backend dies), so its socket turns readable. Then the connection is pinged, as
    pre-ping would, and a dead one is replaced (DisconnectionError: the pool connects anew). What
    neither can see at no cost, a silent network cut, pre-ping would only see by hanging on it too.
    """

    @event.listens_for(engine, "checkout")
    def _check(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
        if dbapi_connection.closed or getattr(dbapi_connection, "broken", False):
            raise DisconnectionError("the connection was closed")
        try:
            spoken, _, _ = select.select([dbapi_connection.pgconn.socket], [], [], 0)
        except (OSError, ValueError) as exc:  # the socket is gone
            raise DisconnectionError(str(exc)) from exc
        if spoken:
            try:
                engine.dialect.do_ping(dbapi_connection)
            except Exception as exc:  # the driver's error of a dead connection
                raise DisconnectionError(f"the server ended the connection: {exc}") from exc


def _is_write_conflict(exc: DBAPIError) -> bool:
    message = str(exc.orig).lower() if exc.orig is not None else ""
    return any(
        marker in message
        for marker in ("database is locked", "could not serialize", "deadlock detected", "lock not available")
    )


class Database:
    """One database: its engine, its session factory and its schema version."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:  # SQLAlchemy raises ArgumentError, but also ValueError on odd input
            hint = f" (a SQLite file is written sqlite:///{url})" if "://" not in url else ""
            raise StorageError(f"invalid database URL {url!r}{hint}: {exc}") from exc
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.url = parsed
        kwargs: dict[str, Any] = {"echo": echo}
        if parsed.get_backend_name() == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False}
        elif parsed.get_driver_name() != "psycopg":
            kwargs["pool_pre_ping"] = True  # psycopg's connections: `_ping_when_spoken_to`
        try:
            self.engine = create_engine(parsed, **kwargs)
        except Exception as exc:  # a missing driver or malformed URL
            raise StorageError(
                f"cannot use database {parsed.render_as_string(hide_password=True)}: {exc}"
            ) from exc
        self.sqlite_file = sqlite_file(parsed)
        if parsed.get_backend_name() == "sqlite":
            _sqlite_setup(self.engine, self.sqlite_file)
        elif parsed.get_driver_name() == "psycopg":
            _ping_when_spoken_to(self.engine)
        self._factories: tuple[sessionmaker[Session], sessionmaker[Session]] | None = None
        # SQLite has one writer at a time. Threads of one process (the web server's) queue for it here,
        # and each gets it the moment it is free, rather than polling in SQLite's busy handler, which
        # sleeps up to 100 ms between tries. Other processes still meet at SQLite's own lock.
        self._one_writer = threading.RLock() if parsed.get_backend_name() == "sqlite" else None
        # With one writer at a time, the writer's session and connection are kept between units of work
        # (`_write_session`) instead of a new session and a pool checkout and return for each (~40 us of
        # SQLAlchemy's Python on every operation, ~4% of a completion, issue 17).
        self._kept: Session | None = None
        self._kept_busy = False
        self._kept_closer: weakref.finalize[Any, Any] | None = None

    @property
    def dialect(self) -> str:
        return self.url.get_backend_name()

    def display_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def dispose(self) -> None:
        if self._kept_closer is not None:
            self._kept_closer()  # the kept writer's connection back to the pool, before the pool goes
            self._kept = self._kept_closer = None
        self.engine.dispose()

    # --- schema -----------------------------------------------------------------------------------

    def _alembic_config(self) -> Any:
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
        cfg.attributes["engine"] = self.engine
        return cfg

    def head_revision(self) -> str:
        newest = heads()
        if len(newest) == 1:
            return newest[0]
        from alembic.script import ScriptDirectory  # says which branches have not met

        head = ScriptDirectory.from_config(self._alembic_config()).get_current_head()
        assert head is not None
        return head

    def current_revision(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except OperationalError as exc:
            raise StorageError(f"cannot open database {self.display_url()}: {exc.orig}") from exc

    def upgrade(self) -> tuple[str | None, str]:
        """Create or upgrade the schema to the newest revision; returns (before, after)."""
        from alembic import command

        if self.sqlite_file is not None and not self.sqlite_file.exists():
            create_sqlite_file(self.sqlite_file)
        before = self.current_revision()
        command.upgrade(self._alembic_config(), "head")
        return before, self.head_revision()

    def require_current_schema(self) -> None:
        current = self.current_revision()
        if current is None:
            raise SchemaOutdated(
                f"database {self.display_url()} has no Handoff schema yet: run 'handoff init' first"
            )
        if current != self.head_revision():
            raise SchemaOutdated(
                f"database {self.display_url()} schema is at revision {current}, this Handoff needs "
                f"{self.head_revision()}: run 'handoff init' to upgrade it"
            )

    # --- units of work ----------------------------------------------------------------------------

    def _session_factories(self) -> tuple[sessionmaker[Session], sessionmaker[Session]]:
        """(readers', writers') session factories, made on first use: importing the ORM is ~50 ms that
        a read on a Connection does without."""
        if self._factories is None:
            from sqlalchemy.orm import sessionmaker

            self._factories = (
                sessionmaker(self.engine, expire_on_commit=False),
                sessionmaker(self.engine.execution_options(handoff_write=True), expire_on_commit=False),
            )
        return self._factories

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back entirely if it raises."""
        from sqlalchemy.orm.exc import StaleDataError  # loaded with the ORM, by the first write

        if self._one_writer is not None:
            self._one_writer.acquire()
        try:
            session = self._write_session()  # on SQLite it may connect now: a missing file raises here
        except BaseException:
            if self._one_writer is not None:
                self._one_writer.release()
            raise
        try:
            yield session
            session.commit()
        except StaleDataError as exc:
            session.rollback()
            raise ConcurrentUpdate(str(exc)) from exc
        except DBAPIError as exc:
            session.rollback()
            if _is_write_conflict(exc):
                raise ConcurrentUpdate(str(exc.orig)) from exc
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            try:
                session.close()
            finally:  # even if closing fails (a broken connection), the next writer gets its turn
                if session is self._kept:
                    self._kept_busy = False
                if self._one_writer is not None:
                    self._one_writer.release()

    def _write_session(self) -> Session:
        """A session for a unit of work. On SQLite, whose writers take turns (`_one_writer`, held by the
        caller), the kept one on its kept connection, unless a unit of work of this thread has it now."""
        if self._one_writer is None or self._kept_busy:
            return self._session_factories()[1]()
        if self._kept is None:
            from sqlalchemy.orm import Session

            conn = self.engine.execution_options(handoff_write=True).connect()
            # Bound to a Connection, the session begins and commits a transaction on it for each unit of
            # work and leaves it open at close. The finalizer returns it to the pool if this Database is
            # dropped without dispose() (else the collector would find a connection never checked in).
            self._kept = Session(bind=conn, expire_on_commit=False)
            self._kept_closer = weakref.finalize(self, conn.close)
        self._kept_busy = True
        self._kept.info.clear()  # what the last unit of work kept there (its connection, a batch buffer)
        return self._kept

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session for queries and reports."""
        session = self._session_factories()[0]()
        try:
            yield session
        finally:
            session.rollback()
            session.close()

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A read-only connection for Core queries (storage/reads.py): what `handoff tasks` and `show`
        read on, without the ORM's session; its transaction is rolled back when the block ends."""
        with self.engine.connect() as conn:
            yield conn

"""Queries and writes over Handoff's tables, each on a session the caller owns (one unit of work)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from .models import Base, DefinitionFile, Event, HumanTask, ProcessDefinition, ProcessInstance

OPEN_TASK_STATES = ("ready", "claimed")

# The hot path of every start: Core statements on the tables, built once. SQLAlchemy then only looks up
# their compiled form; ORM-enabled statements rebuilt on each call cost ~0.2 ms more per start.
_DEFINITION = cast(Table, ProcessDefinition.__table__)
_INSTANCE = cast(Table, ProcessInstance.__table__)
_EVENT = cast(Table, Event.__table__)
_LATEST_REF = (
    select(_DEFINITION.c.id, _DEFINITION.c.version)
    .where(_DEFINITION.c.process_id == bindparam("process_id"))
    .order_by(_DEFINITION.c.version.desc())
    .limit(1)
)
_VERSION_REF = select(_DEFINITION.c.id, _DEFINITION.c.version).where(
    _DEFINITION.c.process_id == bindparam("process_id"), _DEFINITION.c.version == bindparam("version")
)
_INSERT_INSTANCE = insert(_INSTANCE).returning(_INSTANCE.c.id)
_INSERT_EVENTS = insert(_EVENT)
_INSTANCE_COLUMNS = tuple(c.key for c in _INSTANCE.columns if c.key != "id")


class _Prepared:
    """A Core statement compiled once per dialect and run through `exec_driver_sql`.

    For the few statements on the path of every state change: SQLAlchemy's per-execution overhead
    (~60-80 us) costs more than SQLite's own work there. Values still pass through the columns' bind
    processors, so UTC datetimes and JSON are stored exactly as the ORM would store them.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._by_dialect: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Any]]] = {}
        self._result_processors: dict[str, list[tuple[str, Any]]] = {}

    def execute(self, session: Session, params: dict[str, Any]) -> Any:
        conn = session.connection()
        sql, *binding = self._compiled(conn.dialect)
        return conn.exec_driver_sql(sql, self._bind(binding, params))

    @staticmethod
    def _bind(binding: list[Any], params: dict[str, Any]) -> Any:
        """The driver's parameters: values through their bind processors, in position order if any."""
        positions, processors, defaults = binding
        merged = {**defaults, **params} if defaults else params
        values = {k: (processors[k](v) if k in processors else v) for k, v in merged.items()}
        return tuple(values[name] for name in positions) if positions is not None else values

    def _compiled(self, dialect: Any) -> tuple[str, tuple[str, ...] | None, dict[str, Any], dict[str, Any]]:
        prepared = self._by_dialect.get(dialect.name)
        if prepared is None:
            compiled = self.statement.compile(dialect=dialect)
            processors = {
                name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                for name, bind in compiled.binds.items()
            }
            positions = tuple(compiled.positiontup) if compiled.positional else None
            defaults = {k: v for k, v in compiled.params.items() if v is not None}  # e.g. LIMIT's value
            prepared = (
                str(compiled),
                positions,
                {k: v for k, v in processors.items() if v is not None},
                defaults,
            )
            self._by_dialect[dialect.name] = prepared
        return prepared

    def execute_many(self, session: Session, rows: Sequence[dict[str, Any]]) -> None:
        """The statement once per row, as one driver executemany."""
        conn = session.connection()
        sql, positions, processors, defaults = self._compiled(conn.dialect)
        if positions is None or defaults:
            binding = [positions, processors, defaults]
            conn.exec_driver_sql(sql, [self._bind(binding, params) for params in rows])
            return
        # Positional (SQLite): each row straight to its tuple, without _bind's intermediate dict; the
        # bulk writes of a batch bind tens of thousands of rows.
        plan = [(name, processors.get(name)) for name in positions]
        conn.exec_driver_sql(
            sql,
            [tuple(row[name] if p is None else p(row[name]) for name, p in plan) for row in rows],
        )

    def first(self, session: Session, params: dict[str, Any]) -> dict[str, Any] | None:
        """The first row of a SELECT as a dict, its values through the columns' result processors."""
        result = self.execute(session, params)
        row = result.first()
        if row is None:
            return None
        dialect = session.connection().dialect
        processors = self._result_processors.get(dialect.name)
        if processors is None:
            processors = self._result_processors[dialect.name] = [
                (col.key, col.type.dialect_impl(dialect).result_processor(dialect, None))
                for col in self.statement.selected_columns
            ]
        return {
            name: (process(value) if process is not None else value)
            for (name, process), value in zip(processors, row, strict=True)
        }


class WriteBuffer:
    """Rows held back for one bulk write: the write-behind of a long batch of operations.

    While a session has one (`buffer_writes`), new task rows, history events and hook records get
    their ids at once (SQLite: after the table's largest id, safe under the batch's write lock;
    PostgreSQL: reserved from the table's sequence) and reach the database at `flush_writes`, in
    foreign-key order, one executemany per table. Changes to rows born in the buffer change the
    buffered row. Queries of other code through the session do not see buffered rows.
    """

    FLUSH_AT = 20_000

    def __init__(self) -> None:
        self.next_ids: dict[str, list[int]] = {}
        self.last_ids: dict[str, int] = {}  # SQLite: the largest id handed out per table
        self.instances: dict[int, Any] = {}
        self.tasks: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self.records: dict[str, list[dict[str, Any]]] = {}
        self.delay_subjects: set[str] = set()
        # "task:ID" / "instance:ID" of rows born in this buffer: no delay record of theirs can be stored
        # yet except in `delay_subjects`, so looking them up needs no query.
        self.born_subjects: set[str] = set()
        self.size = 0

    def allocate(self, session: Session, table: Table, n: int) -> list[int]:
        pool = self.next_ids.setdefault(table.name, [])
        if len(pool) < n:
            conn = session.connection()
            want = max(n - len(pool), 1000)
            if conn.dialect.name == "postgresql":
                pool += _pg_next_ids(conn, table.name, want)
            else:
                last = self.last_ids.get(table.name)
                if last is None:
                    last = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
                pool += range(last + 1, last + 1 + want)
                self.last_ids[table.name] = last + want
        taken, self.next_ids[table.name] = pool[:n], pool[n:]
        return taken


def buffer_writes(session: Session) -> None:
    """From now on hold this session's new tasks, events and hook records for `flush_writes`."""
    session.info["handoff_buffer"] = WriteBuffer()


def flush_writes(session: Session, *, stop: bool = True) -> set[int]:
    """Write what the session's buffer holds (instances, tasks, then events, then hook records);
    returns the ids of the instances it inserted (with the values their objects have now)."""
    buffer = _buffer(session)
    if buffer is None:
        return set()
    inserted = set(buffer.instances)
    if buffer.instances:
        _INSERT_INSTANCE_WITH_ID.execute_many(
            session,
            [{c: getattr(i, c) for c in ("id", *_INSTANCE_COLUMNS)} for i in buffer.instances.values()],
        )
    if buffer.tasks:
        _INSERT_TASK_WITH_ID.execute_many(session, list(buffer.tasks.values()))
    if buffer.events:
        _INSERT_EVENT_WITH_ID.execute_many(session, buffer.events)
    for name, rows in buffer.records.items():
        _insert_rows(session, _TABLES[name], rows)
    buffer.instances, buffer.tasks, buffer.events, buffer.records, buffer.size = {}, {}, [], {}, 0
    if stop:
        del session.info["handoff_buffer"]
    return inserted


def _buffer(session: Session) -> WriteBuffer | None:
    return session.info.get("handoff_buffer")


def _grown(session: Session, buffer: WriteBuffer, n: int) -> None:
    buffer.size += n
    if buffer.size >= WriteBuffer.FLUSH_AT:
        flush_writes(session, stop=False)


_LATEST_REF_FAST = _Prepared(_LATEST_REF)
_VERSION_REF_FAST = _Prepared(_VERSION_REF)
_INSERT_INSTANCE_FAST = _Prepared(
    insert(_INSTANCE).values({c: bindparam(c) for c in _INSTANCE_COLUMNS}).returning(_INSTANCE.c.id)
)


# --- definitions --------------------------------------------------------------------------------------


def latest_definition(session: Session, process_id: str) -> ProcessDefinition | None:
    return session.scalars(
        select(ProcessDefinition)
        .where(ProcessDefinition.process_id == process_id)
        .order_by(ProcessDefinition.version.desc())
        .limit(1)
    ).first()


def latest_definition_ref(
    session: Session, process_id: str, version: int | None = None
) -> tuple[int, int] | None:
    """(id, version) of the latest (or the given) version of a process: what starting an instance needs."""
    if version is None:
        row = _LATEST_REF_FAST.execute(session, {"process_id": process_id}).first()
    else:
        row = _VERSION_REF_FAST.execute(session, {"process_id": process_id, "version": version}).first()
    return (row[0], row[1]) if row is not None else None


def definition_fields(session: Session, definition_id: int) -> tuple[str, int, dict[str, Any], str, bool]:
    """(process id, version, model, spec, trusted scripts) of one version."""
    row = session.execute(
        select(
            ProcessDefinition.process_id,
            ProcessDefinition.version,
            ProcessDefinition.model,
            ProcessDefinition.spec,
            ProcessDefinition.trusted_scripts,
        ).where(ProcessDefinition.id == definition_id)
    ).one()
    return row[0], row[1], row[2], row[3], bool(row[4])


def add_definition(
    session: Session,
    *,
    process_id: str,
    version: int,
    name: str | None,
    dialect: str,
    checksum: str,
    spec: str,
    model: dict[str, Any],
    deployed_at: datetime,
    deployed_by: str | None,
    files: Iterable[tuple[str, str, str, bytes]],
    trusted_scripts: bool = False,
) -> ProcessDefinition:
    definition = ProcessDefinition(
        process_id=process_id,
        version=version,
        name=name,
        dialect=dialect,
        checksum=checksum,
        spec=spec,
        model=model,
        deployed_at=deployed_at,
        deployed_by=deployed_by,
        trusted_scripts=trusted_scripts,
    )
    session.add(definition)
    session.flush()
    for name_, kind, file_checksum, content in files:
        session.add(
            DefinitionFile(
                definition_id=definition.id, name=name_, kind=kind, checksum=file_checksum, content=content
            )
        )
    return definition


def definitions_summary(session: Session) -> list[dict[str, Any]]:
    """Every process with its latest version and instance counts by status."""
    latest = (
        select(ProcessDefinition.process_id, func.max(ProcessDefinition.version).label("version"))
        .group_by(ProcessDefinition.process_id)
        .subquery()
    )
    rows = session.execute(
        select(ProcessDefinition)
        .join(
            latest,
            (latest.c.process_id == ProcessDefinition.process_id)
            & (latest.c.version == ProcessDefinition.version),
        )
        .order_by(ProcessDefinition.process_id)
    ).scalars()
    counts: dict[str, dict[str, int]] = {}
    for process_id, status, n in session.execute(
        select(ProcessInstance.process_id, ProcessInstance.status, func.count()).group_by(
            ProcessInstance.process_id, ProcessInstance.status
        )
    ):
        counts.setdefault(process_id, {})[status] = n
    return [
        {
            "process": d.process_id,
            "name": d.name,
            "version": d.version,
            "lanes": list((d.model or {}).get("lanes") or []),
            "deployed_at": d.deployed_at,
            "deployed_by": d.deployed_by,
            "trusted_scripts": bool(d.trusted_scripts),
            "instances": counts.get(d.process_id, {}),
        }
        for d in rows
    ]


def definition_files(session: Session, definition_id: int) -> Sequence[DefinitionFile]:
    return session.scalars(select(DefinitionFile).where(DefinitionFile.definition_id == definition_id)).all()


# --- instances ---------------------------------------------------------------------------------------


def get_instance(session: Session, instance_id: int) -> ProcessInstance | None:
    return session.get(ProcessInstance, instance_id)


def list_instances(
    session: Session,
    *,
    process_id: str | None = None,
    status: str | None = None,
    business_key: str | None = None,
    limit: int = 100,
) -> Sequence[tuple[ProcessInstance, int]]:
    query = select(ProcessInstance, ProcessDefinition.version).join(
        ProcessDefinition, ProcessDefinition.id == ProcessInstance.definition_id
    )
    if process_id:
        query = query.where(ProcessInstance.process_id == process_id)
    if status:
        query = query.where(ProcessInstance.status == status)
    if business_key:
        query = query.where(ProcessInstance.business_key == business_key)
    rows = session.execute(query.order_by(ProcessInstance.id.desc()).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def insert_instance(session: Session, instance: ProcessInstance) -> int:
    """INSERT a new instance row with one Core statement (no unit-of-work flush); sets and returns its id.

    The object stays outside the session: callers only read it afterwards.
    """
    instance.version_counter = 1
    buffer = _buffer(session)
    if buffer is not None:
        # Written by `flush_writes` with the values the object has then.
        instance.id = buffer.allocate(session, _INSTANCE, 1)[0]
        buffer.born_subjects.add(f"instance:{instance.id}")
        buffer.instances[instance.id] = instance
        _grown(session, buffer, 1)
        return instance.id
    values = {key: getattr(instance, key) for key in _INSTANCE_COLUMNS}
    instance.id = _INSERT_INSTANCE_FAST.execute(session, values).scalar_one()
    return instance.id


_INSERT_INSTANCE_WITH_ID = _Prepared(
    insert(_INSTANCE).values({c: bindparam(c) for c in ("id", *_INSTANCE_COLUMNS)})
)


_WRITTEN_FIELDS = (
    "status",
    "state",
    "data",
    "error",
    "next_due_at",
    "updated_at",
    "completed_at",
    "attempts",
)
_UPDATE_INSTANCES = (
    update(_INSTANCE)
    .where(_INSTANCE.c.id == bindparam("_id"), _INSTANCE.c.version_counter == bindparam("_version"))
    .values(
        {**{k: bindparam(k) for k in _WRITTEN_FIELDS}, "version_counter": _INSTANCE.c.version_counter + 1}
    )
)


def update_instances(session: Session, instances: Sequence[ProcessInstance]) -> bool:
    """Write many changed instances in one executemany, each only if its version is still the one read.

    Returns False when some row had changed meanwhile (the caller rolls back). The objects must not
    be in the session (their changes are not flushed by the ORM).
    """
    if not instances:
        return True
    rows = [
        {"_id": i.id, "_version": i.version_counter, **{k: getattr(i, k) for k in _WRITTEN_FIELDS}}
        for i in instances
    ]
    result = session.connection().execute(_UPDATE_INSTANCES, rows)
    if result.rowcount >= 0 and result.rowcount != len(rows):  # -1: the driver does not count executemany
        return False
    for instance in instances:
        instance.version_counter += 1
    return True


# --- human tasks -------------------------------------------------------------------------------------


def get_task(session: Session, task_id: int) -> HumanTask | None:
    return session.get(HumanTask, task_id)


def open_tasks_of(session: Session, instance_id: int) -> Sequence[HumanTask]:
    return session.scalars(
        select(HumanTask)
        .where(HumanTask.instance_id == instance_id, HumanTask.state.in_(OPEN_TASK_STATES))
        .order_by(HumanTask.id)
    ).all()


def list_tasks(
    session: Session,
    *,
    lane: str | None = None,
    assignee: str | None = None,
    instance_id: int | None = None,
    include_closed: bool = False,
    limit: int = 200,
    lanes: Sequence[str] | None = None,
) -> Sequence[tuple[HumanTask, str]]:
    """Human tasks with their process id; `lanes` (when not None) keeps only tasks of those lanes."""
    query = select(HumanTask, ProcessInstance.process_id).join(
        ProcessInstance, ProcessInstance.id == HumanTask.instance_id
    )
    if not include_closed:
        query = query.where(HumanTask.state.in_(OPEN_TASK_STATES))
    if lane:
        query = query.where(HumanTask.lane == lane)
    if lanes is not None:
        query = query.where(HumanTask.lane.in_(list(lanes)))
    if assignee:
        query = query.where(HumanTask.assignee == assignee)
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    rows = session.execute(query.order_by(HumanTask.id).limit(limit)).all()
    return [(r[0], r[1]) for r in rows]


def update_task_if(
    session: Session, task: HumanTask, expected_state: str, expected_assignee: str | None, **values: Any
) -> bool:
    """Change a task only if nobody changed it since it was read; False when someone did.

    One prepared UPDATE; on success the loaded row takes the new values as committed ones, so that it
    need not be read again.
    """
    buffered = _buffered_task(session, task)
    if buffered is not None:
        # Born in this buffer: no one else can see the row yet, so the condition is checked here.
        if buffered["state"] != expected_state or buffered["assignee"] != expected_assignee:
            return False
        buffered.update(values)
        _take_values(task, values)
        return True
    key = (tuple(sorted(values)), expected_assignee is None)
    prepared = _TASK_UPDATES.get(key)
    if prepared is None:
        condition = (_TASK.c.id == bindparam("_id")) & (_TASK.c.state == bindparam("_state"))
        if expected_assignee is None:
            condition &= _TASK.c.assignee.is_(None)
        else:
            condition &= _TASK.c.assignee == bindparam("_assignee")
        statement = update(_TASK).where(condition).values({k: bindparam(k) for k in key[0]})
        prepared = _TASK_UPDATES[key] = _Prepared(statement)
    params = dict(values, _id=task.id, _state=expected_state)
    if expected_assignee is not None:
        params["_assignee"] = expected_assignee
    if not prepared.execute(session, params).rowcount:
        return False
    _take_values(task, values)
    return True


def _take_values(task: HumanTask, values: dict[str, Any]) -> None:
    """The loaded row takes what was written as committed values: no flush, no re-read."""
    for name, value in values.items():
        set_committed_value(task, name, value)


_TASK = cast(Table, HumanTask.__table__)
_TASK_UPDATES: dict[tuple[tuple[str, ...], bool], _Prepared] = {}
_TASK_COLUMNS = tuple(c.key for c in _TASK.columns if c.key != "id")
_INSERT_TASK = insert(_TASK).values({c: bindparam(c) for c in _TASK_COLUMNS})
_INSERT_TASK_FAST = _Prepared(_INSERT_TASK.returning(_TASK.c.id))
_INSERT_TASK_SQLITE = _Prepared(_INSERT_TASK)  # SQLite: the cursor's lastrowid, cheaper than RETURNING


def insert_task(session: Session, task: HumanTask) -> int:
    """INSERT a new task row with one prepared statement (no unit-of-work flush); sets and returns its id.

    The object stays outside the session, like `insert_instance`'s.
    """
    values = {key: getattr(task, key) for key in _TASK_COLUMNS}
    buffer = _buffer(session)
    if buffer is not None:
        task.id = buffer.allocate(session, _TASK, 1)[0]
        buffer.born_subjects.add(f"task:{task.id}")
        buffer.tasks[task.id] = dict(values, id=task.id)
        _grown(session, buffer, 1)
        return task.id
    if session.connection().dialect.name == "sqlite":
        task.id = _INSERT_TASK_SQLITE.execute(session, values).lastrowid
    else:
        task.id = _INSERT_TASK_FAST.execute(session, values).scalar_one()
    return task.id


def set_task(session: Session, task: HumanTask, **values: Any) -> None:
    """Change a task row the caller owns in this transaction (no concurrency condition)."""
    buffered = _buffered_task(session, task)
    if buffered is not None:
        buffered.update(values)
    else:
        _set_task_row(session, task, values)
    _take_values(task, values)


def _buffered_task(session: Session, task: HumanTask) -> dict[str, Any] | None:
    buffer = _buffer(session)
    return buffer.tasks.get(task.id) if buffer is not None else None


def _set_task_row(session: Session, task: HumanTask, values: dict[str, Any]) -> None:
    key = tuple(sorted(values))
    prepared = _TASK_SETS.get(key)
    if prepared is None:
        statement = update(_TASK).where(_TASK.c.id == bindparam("_id")).values({k: bindparam(k) for k in key})
        prepared = _TASK_SETS[key] = _Prepared(statement)
    prepared.execute(session, dict(values, _id=task.id))


_TASK_SETS: dict[tuple[str, ...], _Prepared] = {}


def set_task_values(session: Session, rows: list[dict[str, Any]]) -> None:
    """Set columns of task rows by id (each dict: `id` and the values), in the write buffer for rows born
    there; one executemany per set of columns. For record hooks, which see ids, not loaded rows."""
    buffer = _buffer(session)
    by_key: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        buffered = buffer.tasks.get(row["id"]) if buffer is not None else None
        if buffered is not None:
            buffered.update({k: v for k, v in row.items() if k != "id"})
        else:
            by_key.setdefault(tuple(sorted(k for k in row if k != "id")), []).append(row)
    for key, group in by_key.items():
        prepared = _TASK_SETS.get(key)
        if prepared is None:
            statement = (
                update(_TASK).where(_TASK.c.id == bindparam("_id")).values({k: bindparam(k) for k in key})
            )
            prepared = _TASK_SETS[key] = _Prepared(statement)
        params = [{**{k: r[k] for k in key}, "_id": r["id"]} for r in group]
        if len(params) == 1:
            prepared.execute(session, params[0])
        else:
            prepared.execute_many(session, params)


_INSERT_TASK_WITH_ID = _Prepared(insert(_TASK).values({c: bindparam(c) for c in ("id", *_TASK_COLUMNS)}))


# --- history -----------------------------------------------------------------------------------------


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        # Core executemany on the table: one statement whatever the None values (the ORM bulk insert
        # splits the rows into one statement per distinct set of non-None keys).
        session.connection().execute(_INSERT_EVENTS, rows)


def events_of(session: Session, instance_id: int) -> Sequence[Event]:
    return session.scalars(select(Event).where(Event.instance_id == instance_id).order_by(Event.id)).all()


# --- hook records --------------------------------------------------------------------------------------


def add_events_returning_ids(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert history rows in one statement and return their ids, in the rows' order.

    The ids are allocated first (one query) and inserted explicitly: INSERT ... RETURNING of many rows
    in a guaranteed order costs one statement per row on SQLite.
    """
    if not rows:
        return []
    buffer = _buffer(session)
    if buffer is not None:
        ids = buffer.allocate(session, _EVENT, len(rows))
        buffer.events += [dict(row, id=event_id) for row, event_id in zip(rows, ids, strict=True)]
        _grown(session, buffer, len(rows))
        return ids
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        ids = _pg_next_ids(conn, "event", len(rows))
        conn.execute(
            _INSERT_EVENTS, [dict(row, id=event_id) for row, event_id in zip(rows, ids, strict=True)]
        )
        return ids
    # SQLite: one multi-row INSERT; writers hold the write lock (BEGIN IMMEDIATE) and rowids of one
    # statement are consecutive, so the last rowid gives them all. The SQL text is built once per row
    # count and the values go through the columns' own bind processors (UTC datetimes, JSON).
    columns, processors = _sqlite_event_binding(conn.dialect)
    params: list[Any] = []
    for row in rows:
        for name, process in zip(columns, processors, strict=True):
            value = row.get(name)
            params.append(process(value) if process is not None else value)
    last = conn.exec_driver_sql(_sqlite_event_insert(len(rows)), tuple(params)).lastrowid
    return list(range(last - len(rows) + 1, last + 1))


_EVENT_COLUMNS = tuple(c.key for c in _EVENT.columns if c.key != "id")
_INSERT_EVENT_WITH_ID = _Prepared(insert(_EVENT).values({c: bindparam(c) for c in ("id", *_EVENT_COLUMNS)}))


@cache
def _sqlite_event_insert(n: int) -> str:
    one = "(" + ", ".join("?" * len(_EVENT_COLUMNS)) + ")"
    return f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) VALUES " + ", ".join([one] * n)


_BINDINGS: dict[str, tuple[tuple[str, ...], tuple[Any, ...]]] = {}


def _sqlite_event_binding(dialect: Any) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    if dialect.name not in _BINDINGS:
        _BINDINGS[dialect.name] = (
            _EVENT_COLUMNS,
            tuple(
                _EVENT.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in _EVENT_COLUMNS
            ),
        )
    return _BINDINGS[dialect.name]


def _pg_next_ids(conn: Any, table: str, n: int) -> list[int]:
    """Reserve `n` ids from a PostgreSQL table's id sequence (ours, whatever other writers do)."""
    sql = text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, :n)")
    return list(conn.execute(sql, {"n": n}).scalars())


def completed_event(session: Session, instance_id: int, token: str) -> dict[str, Any] | None:
    """The latest `task_completed` event of an activity instance (by its token): the columns of
    `Event` as a dict."""
    return _COMPLETED_EVENT_FAST.first(session, {"instance_id": instance_id, "token": token})


_COMPLETED_EVENT_FAST = _Prepared(
    select(_EVENT)
    .where(
        _EVENT.c.instance_id == bindparam("instance_id"),
        _EVENT.c.token == bindparam("token"),
        _EVENT.c.kind == "task_completed",
    )
    .order_by(_EVENT.c.id.desc())
    .limit(1)
)


def completion_ranks(session: Session, instance_id: int, tokens: Sequence[str]) -> dict[str, int]:
    """token -> id of its latest `task_completed` event: the order in which activities completed."""
    if not tokens:
        return {}
    rows = session.execute(
        select(Event.token, func.max(Event.id))
        .where(
            Event.instance_id == instance_id, Event.kind == "task_completed", Event.token.in_(list(tokens))
        )
        .group_by(Event.token)
    ).all()
    return {token: int(rank) for token, rank in rows if token is not None}


def add_rows(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert hook records: one prepared executemany per distinct set of columns."""
    if not rows:
        return
    table = cast(Table, model.__table__)
    buffer = _buffer(session)
    if buffer is not None:
        buffer.records.setdefault(table.name, []).extend(rows)
        if table.name == "delay":
            buffer.delay_subjects.update(r["subject"] for r in rows)
        _grown(session, buffer, len(rows))
        return
    _insert_rows(session, table, rows)


def _insert_rows(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    columns = tuple(rows[0])
    prepared = _ROW_INSERTS.get((table.name, columns))
    if prepared is None:
        statement = insert(table).values({c: bindparam(c) for c in columns})
        prepared = _ROW_INSERTS[(table.name, columns)] = _Prepared(statement)
    if all(tuple(r) == columns for r in rows):
        prepared.execute_many(session, rows)
    else:
        session.connection().execute(insert(table), rows)


_ROW_INSERTS: dict[tuple[str, tuple[str, ...]], _Prepared] = {}
_TABLES: dict[str, Table] = {
    cast(Table, m.__table__).name: cast(Table, m.__table__) for m in Base.__subclasses__()
}


def delay_subjects(session: Session, subjects: Sequence[str]) -> set[str]:
    from .models import Delay

    if not subjects:
        return set()
    buffer = _buffer(session)
    if buffer is None:
        return set(session.scalars(select(Delay.subject).where(Delay.subject.in_(list(subjects)))))
    held = {s for s in subjects if s in buffer.delay_subjects}
    stored = [s for s in subjects if s not in buffer.born_subjects]
    if stored:
        held |= set(session.scalars(select(Delay.subject).where(Delay.subject.in_(stored))))
    return held


def sla_settings(session: Session) -> dict[tuple[str, str], float]:
    """(scope, lane) -> seconds, for scope 'lane' (per lane) and 'default' (lane '')."""
    from .models import SlaSetting

    return {(r.scope, r.lane): r.seconds for r in session.scalars(select(SlaSetting))}


def set_sla(
    session: Session, scope: str, lane: str, duration: str, seconds: float, at: datetime, by: str | None
) -> None:
    from .models import SlaSetting

    row = session.scalars(
        select(SlaSetting).where(SlaSetting.scope == scope, SlaSetting.lane == lane)
    ).first()
    if row is None:
        session.add(
            SlaSetting(
                scope=scope, lane=lane, duration=duration, seconds=seconds, updated_at=at, updated_by=by
            )
        )
    else:
        row.duration, row.seconds, row.updated_at, row.updated_by = duration, seconds, at, by


def list_sla(session: Session) -> list[Any]:
    from .models import SlaSetting

    return list(session.scalars(select(SlaSetting).order_by(SlaSetting.scope, SlaSetting.lane)))


def open_tasks_with_instances(session: Session) -> list[tuple[HumanTask, ProcessInstance]]:
    rows = session.execute(
        select(HumanTask, ProcessInstance)
        .join(ProcessInstance, ProcessInstance.id == HumanTask.instance_id)
        .where(HumanTask.state.in_(OPEN_TASK_STATES))
        .order_by(HumanTask.id)
    ).all()
    return [(r[0], r[1]) for r in rows]


def open_instances(session: Session) -> list[ProcessInstance]:
    return list(
        session.scalars(
            select(ProcessInstance).where(
                ProcessInstance.status.in_(("running", "waiting", "error", "suspended"))
            )
        )
    )


def records(
    session: Session,
    model: type[Any],
    *,
    time_column: str,
    process_id: str | None = None,
    instance_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    lanes: Sequence[str] = (),
    lane_columns: Sequence[str] = (),
    limit: int = 1000,
) -> list[Any]:
    """Hook records (handoffs, crossings, delays) filtered the way the CLI offers."""
    from sqlalchemy import or_

    query = select(model)
    column = getattr(model, time_column)
    if process_id:
        query = query.where(model.process_id == process_id)
    if instance_id is not None:
        query = query.where(model.instance_id == instance_id)
    if since is not None:
        query = query.where(column >= since)
    if until is not None:
        query = query.where(column < until)
    if lanes and lane_columns:
        query = query.where(or_(*(getattr(model, c).in_(list(lanes)) for c in lane_columns)))
    return list(session.scalars(query.order_by(column, model.id).limit(limit)))

"""SQLAlchemy 2.0 models: Handoff's tables (DESIGN §2). Changes go through Alembic migrations."""

# No `from __future__ import annotations` here: with it every `Mapped[...]` reaches SQLAlchemy as a string
# it must clean up and evaluate, a quarter of the time it takes to map these classes at each start.

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from .utc_datetime import UtcDateTime

# Alembic needs stable constraint names to alter them later, on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id for the big tables.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # none_as_null: a Python None is SQL NULL (not the JSON text "null"), so IS NULL finds it.
    type_annotation_map = {
        dict[str, Any]: JSON(none_as_null=True),
        list[Any]: JSON(none_as_null=True),
        datetime: UtcDateTime(),
    }


class ProcessDefinition(Base):
    """One version of one process: the uploaded files, the serialized spec, and the model Handoff reads."""

    __tablename__ = "process_definition"
    __table_args__ = (UniqueConstraint("process_id", "version", name="uq_process_definition_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    version: Mapped[int]
    name: Mapped[str | None] = mapped_column(String(255))
    dialect: Mapped[str] = mapped_column(String(16))
    checksum: Mapped[str] = mapped_column(String(64))
    spec: Mapped[str] = mapped_column(Text)  # SpiffWorkflow's serialized spec, stored once per version
    model: Mapped[dict[str, Any]]  # bpmn.ProcessModel as JSON: lanes, elements, forms, properties
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str | None] = mapped_column(String(255))
    # Scripts of this version run as full Python, not in the sandbox: an explicit choice at deploy time.
    trusted_scripts: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")


class DefinitionFile(Base):
    """The BPMN/DMN files as uploaded, kept with each version so a diagram can be shown or re-parsed."""

    __tablename__ = "definition_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    name: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(8))
    checksum: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ProcessInstance(Base):
    __tablename__ = "process_instance"
    __table_args__ = (
        Index("ix_process_instance_status_due", "status", "next_due_at"),
        # The report's window: instances of a process started in [since, until).
        Index("ix_process_instance_process_created", "process_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(255), index=True)
    business_key: Mapped[str | None] = mapped_column(String(255), index=True)
    status: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(Text)  # the workflow serialized without its spec
    data: Mapped[dict[str, Any]]  # a JSON snapshot of the workflow data, for people and queries
    error: Mapped[dict[str, Any] | None]  # the incident: task, line, message
    next_due_at: Mapped[datetime | None]
    version_counter: Mapped[int] = mapped_column(Integer, nullable=False)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    started_by: Mapped[str | None] = mapped_column(String(255))
    # A worker's claim on the instance's due work (DESIGN §6): taken with SKIP LOCKED, void after expiry.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # Automatic attempts made since the instance last failed (the retry policy counts them).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Called process -> the definition id its call activities run, fixed when the instance started
    # (a call activity runs the latest deployed version unless pinned; NULL: none resolved late).
    called: Mapped[dict[str, Any] | None]

    # Optimistic locking: a concurrent writer's UPDATE matches no row and raises StaleDataError.
    __mapper_args__ = {"version_id_col": version_counter}


class HumanTask(Base):
    __tablename__ = "human_task"
    __table_args__ = (
        Index("ix_human_task_open", "state", "lane"),
        Index("ix_human_task_instance", "instance_id", "state"),
        # The report's (storage/analytics.py): partial (WHERE wait_seconds IS NOT NULL, as migration 0009
        # creates them on both databases), so a task enters them only once it is completed; each is
        # covering, so a figure is an index scan and a percentile an index walk, never a sort. The WHERE
        # is not repeated here as sqlite_where/postgresql_where: checking `postgresql_where` makes
        # SQLAlchemy import its whole PostgreSQL dialect (~20 ms of every command's start, SQLite URLs
        # included), and Alembic's migrations, not these models, create the tables and indexes.
        Index("ix_human_task_lane_wait", "lane", "wait_seconds", "processing_seconds", "instance_id"),
        Index("ix_human_task_lane_processing", "lane", "processing_seconds", "instance_id"),
        Index("ix_human_task_element_wait", "element_id", "lane", "name", "wait_seconds", "instance_id"),
        Index("ix_human_task_element_instance", "element_id", "instance_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(32))
    lane: Mapped[str | None] = mapped_column(String(255))
    form: Mapped[list[Any]]
    state: Mapped[str] = mapped_column(String(16))  # ready, claimed, completed, cancelled
    assignee: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None] = mapped_column(String(255))
    due_at: Mapped[
        datetime | None
    ]  # the model's due date (or `sla` property) from ready; see docs/assignment.md
    data: Mapped[dict[str, Any] | None]  # the form data it was completed with
    # Set when the task completes (engine/kernel/task_times.py), NULL before and for cancelled tasks:
    # ready -> claimed (or -> completed if never claimed), and claimed -> completed (0 if never claimed).
    wait_seconds: Mapped[float | None] = mapped_column(Float)
    processing_seconds: Mapped[float | None] = mapped_column(Float)
    # From the model when the task became ready (engine/assignment.py). Candidates are kept as
    # ",bob,carl," so that one LIKE finds a name on both databases without a join on the hot path.
    candidate_users: Mapped[str | None] = mapped_column(Text)
    candidate_groups: Mapped[str | None] = mapped_column(Text)
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[int | None] = mapped_column(Integer)


class Event(Base):
    """Append-only history, denormalised so that it reads the same after any later change."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_instance", "instance_id", "id"),
        Index("ix_event_process_at", "process_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    version: Mapped[int]
    task_id: Mapped[int | None]  # the human task's id, where there is one
    element_id: Mapped[str | None] = mapped_column(String(255))
    element_name: Mapped[str | None] = mapped_column(String(255))
    element_type: Mapped[str | None] = mapped_column(String(32))
    lane: Mapped[str | None] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]
    data: Mapped[dict[str, Any] | None]
    # The activity instance (SpiffWorkflow's task id) and its causal predecessor's (DESIGN §3): what
    # handoffs, crossings and ping-pong are traced along, across operations.
    token: Mapped[str | None] = mapped_column(String(36))
    cause: Mapped[str | None] = mapped_column(String(36))


class HandoffRecord(Base):
    """Work passing from one person to another (DESIGN §3)."""

    __tablename__ = "handoff"
    __table_args__ = (
        Index("ix_handoff_instance", "instance_id"),
        Index("ix_handoff_process_at", "process_id", "to_at"),
        # The report's lane matrix and actor pairs: covering, so percentiles are index walks.
        Index("ix_handoff_lanes_latency", "from_lane", "to_lane", "latency_seconds", "instance_id"),
        Index("ix_handoff_actors_latency", "from_actor", "to_actor", "latency_seconds", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    from_event_id: Mapped[int] = mapped_column(BigInteger)
    to_event_id: Mapped[int] = mapped_column(BigInteger)
    from_task_id: Mapped[int | None]
    to_task_id: Mapped[int | None]
    from_element: Mapped[str] = mapped_column(String(255))
    from_name: Mapped[str | None] = mapped_column(String(255))
    to_element: Mapped[str] = mapped_column(String(255))
    to_name: Mapped[str | None] = mapped_column(String(255))
    from_actor: Mapped[str | None] = mapped_column(String(255))
    to_actor: Mapped[str | None] = mapped_column(String(255))
    from_lane: Mapped[str | None] = mapped_column(String(255))
    to_lane: Mapped[str | None] = mapped_column(String(255))
    from_at: Mapped[datetime]  # A completed
    to_at: Mapped[datetime]  # B claimed, or completed if never claimed
    latency_seconds: Mapped[float]


class BoundaryCrossing(Base):
    """An activity whose lane differs from its causal predecessor's (DESIGN §3)."""

    __tablename__ = "boundary_crossing"
    __table_args__ = (
        Index("ix_boundary_crossing_instance", "instance_id"),
        Index("ix_boundary_crossing_process_at", "process_id", "at"),
        Index("ix_boundary_crossing_lanes", "from_lane", "to_lane", "ping_pong", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    from_event_id: Mapped[int] = mapped_column(BigInteger)
    to_event_id: Mapped[int] = mapped_column(BigInteger)
    from_element: Mapped[str] = mapped_column(String(255))
    from_name: Mapped[str | None] = mapped_column(String(255))
    to_element: Mapped[str] = mapped_column(String(255))
    to_name: Mapped[str | None] = mapped_column(String(255))
    from_lane: Mapped[str | None] = mapped_column(String(255))
    to_lane: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime]
    ping_pong: Mapped[bool]


class Delay(Base):
    """A human task that waited, or an instance that ran, longer than its threshold (DESIGN §3)."""

    __tablename__ = "delay"
    __table_args__ = (
        UniqueConstraint("subject", name="uq_delay_subject"),
        Index("ix_delay_process_detected", "process_id", "detected_at"),
        # Deleting an instance (cleanup) checks and deletes its delays: by this index, not a table scan.
        Index("ix_delay_instance", "instance_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(64))  # task:ID or instance:ID: one record each
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"))
    process_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(16))  # task_wait or cycle_time
    task_id: Mapped[int | None]
    element: Mapped[str | None] = mapped_column(String(255))
    name: Mapped[str | None] = mapped_column(String(255))
    lane: Mapped[str | None] = mapped_column(String(255))
    started_at: Mapped[datetime]
    waited_seconds: Mapped[float]
    threshold_seconds: Mapped[float]
    threshold_source: Mapped[str] = mapped_column(String(16))  # bpmn, lane, default
    still_open: Mapped[bool]
    detected_at: Mapped[datetime]


class SlaSetting(Base):
    """Lane and global SLA defaults, beside the BPMN `sla` property."""

    __tablename__ = "sla_setting"
    __table_args__ = (UniqueConstraint("scope", "lane", name="uq_sla_setting_scope_lane"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))  # lane or default
    lane: Mapped[str] = mapped_column(String(255))  # "" for the default
    duration: Mapped[str] = mapped_column(String(64))
    seconds: Mapped[float]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None] = mapped_column(String(255))


class User(Base):
    """A person Handoff knows, with one role. Until the first one is added, Handoff runs in single-user
    mode (no checks at all); see docs/users.md. `app_user`: `user` is reserved in PostgreSQL."""

    __tablename__ = "app_user"
    __table_args__ = (UniqueConstraint("name", name="uq_app_user_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))  # designer, operator, analyst or admin
    tz: Mapped[str | None] = mapped_column(String(64))  # IANA zone their times are shown in (docs/users.md)
    email: Mapped[str | None] = mapped_column(String(254))  # where notifications go (docs/notifications.md)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None] = mapped_column(String(255))


class UserLane(Base):
    """Membership: a lane (the group of people who do its work, DESIGN §2) that a user works in."""

    __tablename__ = "user_lane"
    __table_args__ = (Index("ix_user_lane_lane", "lane"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    lane: Mapped[str] = mapped_column(String(255), primary_key=True)


class AuditEntry(Base):
    """An administrative action that belongs to no instance (a user added, changed or removed): who,
    when, what. The instance history stays in `event`."""

    __tablename__ = "audit"
    __table_args__ = (Index("ix_audit_at", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))  # user_added, user_changed, user_removed
    subject: Mapped[str] = mapped_column(String(255))  # the user's name
    data: Mapped[dict[str, Any] | None]


class Subscription(Base):
    """What a waiting instance waits for from outside: a message (by name and correlation key) or a
    signal (by name). Rewritten with every state change, so that delivery is an index lookup."""

    __tablename__ = "subscription"
    __table_args__ = (Index("ix_subscription_kind_name", "kind", "name", "correlation"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # message or signal
    name: Mapped[str] = mapped_column(String(255))
    correlation: Mapped[str | None] = mapped_column(String(255))
    element_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime]


class TimerSchedule(Base):
    """A timer start event of the latest deployed version of a process: when it next starts an instance.
    Workers claim due rows like due instances (lease, SKIP LOCKED)."""

    __tablename__ = "timer_schedule"
    __table_args__ = (
        UniqueConstraint("process_id", "element_id", name="uq_timer_schedule_process_element"),
        Index("ix_timer_schedule_due", "next_due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    process_id: Mapped[str] = mapped_column(String(255))
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"))
    element_id: Mapped[str] = mapped_column(String(255))
    expression: Mapped[str] = mapped_column(String(255))
    next_due_at: Mapped[datetime | None]
    fired: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]


class EventStart(Base):
    """A message or signal start event of a deployed process version: which process a message or a
    signal starts, found by an index lookup instead of reading every deployed spec."""

    __tablename__ = "event_start"
    __table_args__ = (Index("ix_event_start_kind_name", "kind", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("process_definition.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(8))  # message or signal
    name: Mapped[str] = mapped_column(String(255))
    element_id: Mapped[str] = mapped_column(String(255))


# --- sign-in (web door, DESIGN §8; docs/security.md) ------------------------------------------------
# Secrets are never stored: a password as its Argon2id hash, a token or session id as its SHA-256
# (both are long random strings, so a fast hash is enough and a stolen table opens nothing).


class Password(Base):
    """A user's password, as an Argon2id hash (argon2-cffi's encoded form: algorithm, costs, salt)."""

    __tablename__ = "user_password"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    hash: Mapped[str] = mapped_column(String(255))
    set_at: Mapped[datetime]
    set_by: Mapped[str | None] = mapped_column(String(255))


class ApiToken(Base):
    """An API token (`Authorization: Bearer`): shown once when made, then only its digest is kept."""

    __tablename__ = "api_token"
    __table_args__ = (UniqueConstraint("digest", name="uq_api_token_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))  # SHA-256 of the token, hex
    hint: Mapped[str] = mapped_column(String(16))  # the token's first characters, to recognise it
    created_at: Mapped[datetime]
    created_by: Mapped[str | None] = mapped_column(String(255))
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None] = mapped_column(String(255))
    last_used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie holds the session id, the table its digest, so that every
    `handoff serve` process shares the session and sign-out ends it everywhere (DESIGN §6)."""

    __tablename__ = "web_session"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the session id, hex
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))  # the synchronizer token of this session's forms
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]  # idle expiry counts from here (refreshed at most once a minute)
    expires_at: Mapped[datetime]  # absolute expiry
    address: Mapped[str | None] = mapped_column(String(64))


class SigninFailure(Base):
    """A failed sign-in, counted per name and per address to slow and then refuse guessing; rows older
    than the counting window are pruned as new ones arrive."""

    __tablename__ = "signin_failure"
    __table_args__ = (
        Index("ix_signin_failure_name_at", "name", "at"),
        Index("ix_signin_failure_address_at", "address", "at"),
        Index("ix_signin_failure_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    name: Mapped[str] = mapped_column(String(255))
    address: Mapped[str] = mapped_column(String(64))

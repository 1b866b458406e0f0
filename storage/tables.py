"""Handoff's tables (DESIGN §2), defined once as SQLAlchemy Core `Table` objects on one MetaData.

The ORM classes of storage/models*.py are mapped onto these tables; the read commands (`handoff tasks`,
`handoff show`: storage/reads.py) query them as they are, without importing the ORM (issue 17: the ORM's
import, the mapping of its classes and its per-process statement compile cost a read ~0.1 s). Alembic's
migrations, not this module, create and change the tables; `alembic check` compares them with this
metadata (tests/test_migrations*.py). Changes go through a migration.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Double,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from .utc_datetime import UtcDateTime

# Alembic needs stable constraint names to alter them later, on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit id for the big tables.
BIG_ID = BigInteger().with_variant(Integer(), "sqlite")

process_definition = Table(
    "process_definition",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", String(255), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("name", String(255)),
    Column("dialect", String(16), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("spec", Text, nullable=False),  # SpiffWorkflow's serialized spec, stored once per version
    Column("model", JSON(none_as_null=True), nullable=False),  # bpmn.ProcessModel: lanes, elements, forms
    Column("deployed_at", UtcDateTime(), nullable=False),
    Column("deployed_by", String(255)),
    # Scripts of this version run as full Python, not in the sandbox: an explicit choice at deploy time.
    Column("trusted_scripts", Boolean, nullable=False, default=False, server_default="0"),
    UniqueConstraint("process_id", "version", name="uq_process_definition_version"),
)

definition_file = Table(
    "definition_file",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("definition_id", Integer, ForeignKey("process_definition.id"), nullable=False, index=True),
    Column("name", String(1024), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("content", LargeBinary, nullable=False),
)

process_instance = Table(
    "process_instance",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("definition_id", Integer, ForeignKey("process_definition.id"), nullable=False, index=True),
    Column("process_id", String(255), nullable=False, index=True),
    Column("business_key", String(255), index=True),
    Column("status", String(16), nullable=False),
    Column("state", Text, nullable=False),  # the workflow serialized without its spec
    Column("data", JSON(none_as_null=True), nullable=False),
    Column("error", JSON(none_as_null=True)),
    Column("next_due_at", UtcDateTime()),
    # Optimistic locking (the mapper's version_id_col): a concurrent writer's UPDATE matches no row.
    Column("version_counter", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("completed_at", UtcDateTime()),
    Column("started_by", String(255)),
    # A worker's claim on the instance's due work (DESIGN §6): taken with SKIP LOCKED, void after expiry.
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    # Automatic attempts made since the instance last failed (the retry policy counts them).
    Column("attempts", Integer, nullable=False, default=0, server_default="0"),
    # Called process -> the definition id its call activities run, fixed when the instance started.
    Column("called", JSON(none_as_null=True)),
    Index("ix_process_instance_process_created", "process_id", "created_at"),
    Index("ix_process_instance_status_due", "status", "next_due_at"),
)

human_task = Table(
    "human_task",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False),
    Column("spiff_task_id", String(36), nullable=False),
    Column("element_id", String(255), nullable=False),
    Column("name", String(255)),
    Column("type", String(32), nullable=False),
    Column("lane", String(255)),
    Column("form", JSON(none_as_null=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("assignee", String(255)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("claimed_at", UtcDateTime()),
    Column("completed_at", UtcDateTime()),
    Column("completed_by", String(255)),
    Column("due_at", UtcDateTime()),
    Column("data", JSON(none_as_null=True)),
    # Set when the task completes (engine/kernel/task_times.py), NULL before and for cancelled tasks.
    Column("wait_seconds", Float),
    Column("processing_seconds", Float),
    # From the model when the task became ready. Candidates are kept as ",bob,carl," so that one LIKE
    # finds a name on both databases without a join on the hot path.
    Column("candidate_users", Text),
    Column("candidate_groups", Text),
    Column("follow_up_at", UtcDateTime()),
    Column("priority", Integer),
    # The report's (storage/analytics.py) are partial (WHERE wait_seconds IS NOT NULL, as migration 0009
    # creates them on both databases) and covering, so a figure is an index scan, never a sort. The WHERE
    # is not repeated here as sqlite_where/postgresql_where: checking `postgresql_where` makes SQLAlchemy
    # import its whole PostgreSQL dialect (~20 ms of every command's start, SQLite URLs included).
    Index("ix_human_task_element_instance", "element_id", "instance_id"),
    Index("ix_human_task_element_wait", "element_id", "lane", "name", "wait_seconds", "instance_id"),
    Index("ix_human_task_instance", "instance_id", "state"),
    Index("ix_human_task_lane_processing", "lane", "processing_seconds", "instance_id"),
    Index("ix_human_task_lane_wait", "lane", "wait_seconds", "processing_seconds", "instance_id"),
    Index("ix_human_task_open", "state", "lane"),
)

event = Table(
    "event",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False),
    Column("process_id", String(255), nullable=False),
    Column("version", Integer, nullable=False),
    Column("task_id", Integer),
    Column("element_id", String(255)),
    Column("element_name", String(255)),
    Column("element_type", String(32)),
    Column("lane", String(255)),
    Column("kind", String(32), nullable=False),
    Column("actor", String(255)),
    Column("at", UtcDateTime(), nullable=False),
    Column("data", JSON(none_as_null=True)),
    # The activity instance (SpiffWorkflow's task id) and its causal predecessor's (DESIGN §3): what
    # handoffs, crossings and ping-pong are traced along, across operations.
    Column("token", String(36)),
    Column("cause", String(36)),
    Index("ix_event_instance", "instance_id", "id"),
    Index("ix_event_process_at", "process_id", "at"),
)

handoff = Table(
    "handoff",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False),
    Column("process_id", String(255), nullable=False),
    Column("from_event_id", BigInteger, nullable=False),
    Column("to_event_id", BigInteger, nullable=False),
    Column("from_task_id", Integer),
    Column("to_task_id", Integer),
    Column("from_element", String(255), nullable=False),
    Column("from_name", String(255)),
    Column("to_element", String(255), nullable=False),
    Column("to_name", String(255)),
    Column("from_actor", String(255)),
    Column("to_actor", String(255)),
    Column("from_lane", String(255)),
    Column("to_lane", String(255)),
    Column("from_at", UtcDateTime(), nullable=False),
    Column("to_at", UtcDateTime(), nullable=False),
    Column("latency_seconds", Double, nullable=False),
    Index("ix_handoff_actors_latency", "from_actor", "to_actor", "latency_seconds", "instance_id"),
    Index("ix_handoff_instance", "instance_id"),
    Index("ix_handoff_lanes_latency", "from_lane", "to_lane", "latency_seconds", "instance_id"),
    Index("ix_handoff_process_at", "process_id", "to_at"),
)

boundary_crossing = Table(
    "boundary_crossing",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False),
    Column("process_id", String(255), nullable=False),
    Column("from_event_id", BigInteger, nullable=False),
    Column("to_event_id", BigInteger, nullable=False),
    Column("from_element", String(255), nullable=False),
    Column("from_name", String(255)),
    Column("to_element", String(255), nullable=False),
    Column("to_name", String(255)),
    Column("from_lane", String(255)),
    Column("to_lane", String(255)),
    Column("at", UtcDateTime(), nullable=False),
    Column("ping_pong", Boolean, nullable=False),
    Index("ix_boundary_crossing_instance", "instance_id"),
    Index("ix_boundary_crossing_lanes", "from_lane", "to_lane", "ping_pong", "instance_id"),
    Index("ix_boundary_crossing_process_at", "process_id", "at"),
)

delay = Table(
    "delay",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("subject", String(64), nullable=False),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False),
    Column("process_id", String(255), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("task_id", Integer),
    Column("element", String(255)),
    Column("name", String(255)),
    Column("lane", String(255)),
    Column("started_at", UtcDateTime(), nullable=False),
    Column("waited_seconds", Double, nullable=False),
    Column("threshold_seconds", Double, nullable=False),
    Column("threshold_source", String(16), nullable=False),
    Column("still_open", Boolean, nullable=False),
    Column("detected_at", UtcDateTime(), nullable=False),
    UniqueConstraint("subject", name="uq_delay_subject"),
    Index("ix_delay_instance", "instance_id"),
    Index("ix_delay_process_detected", "process_id", "detected_at"),
)

sla_setting = Table(
    "sla_setting",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("scope", String(16), nullable=False),
    Column("lane", String(255), nullable=False),
    Column("duration", String(64), nullable=False),
    Column("seconds", Double, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("updated_by", String(255)),
    UniqueConstraint("scope", "lane", name="uq_sla_setting_scope_lane"),
)

# `app_user`: `user` is reserved in PostgreSQL.
app_user = Table(
    "app_user",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("tz", String(64)),
    Column("email", String(254)),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(255)),
    Column("updated_at", UtcDateTime()),
    Column("updated_by", String(255)),
    UniqueConstraint("name", name="uq_app_user_name"),
)

user_lane = Table(
    "user_lane",
    metadata,
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("lane", String(255), primary_key=True),
    Index("ix_user_lane_lane", "lane"),
)

audit = Table(
    "audit",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("actor", String(255)),
    Column("action", String(32), nullable=False),
    Column("subject", String(255), nullable=False),
    Column("data", JSON(none_as_null=True)),
    Index("ix_audit_at", "at"),
)

subscription = Table(
    "subscription",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("instance_id", Integer, ForeignKey("process_instance.id"), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("correlation", String(255)),
    Column("element_id", String(255)),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_subscription_kind_name", "kind", "name", "correlation"),
)

timer_schedule = Table(
    "timer_schedule",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("process_id", String(255), nullable=False),
    Column("definition_id", Integer, ForeignKey("process_definition.id"), nullable=False),
    Column("element_id", String(255), nullable=False),
    Column("expression", String(255), nullable=False),
    Column("next_due_at", UtcDateTime()),
    Column("fired", Integer, nullable=False, default=0, server_default="0"),
    Column("lease_owner", String(64)),
    Column("lease_expires_at", UtcDateTime()),
    UniqueConstraint("process_id", "element_id", name="uq_timer_schedule_process_element"),
    Index("ix_timer_schedule_due", "next_due_at"),
)

event_start = Table(
    "event_start",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("definition_id", Integer, ForeignKey("process_definition.id"), nullable=False, index=True),
    Column("process_id", String(255), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("name", String(255), nullable=False),
    Column("element_id", String(255), nullable=False),
    Index("ix_event_start_kind_name", "kind", "name"),
)

user_password = Table(
    "user_password",
    metadata,
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True),
    Column("hash", String(255), nullable=False),
    Column("set_at", UtcDateTime(), nullable=False),
    Column("set_by", String(255)),
)

api_token = Table(
    "api_token",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("digest", String(64), nullable=False),
    Column("hint", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(255)),
    Column("expires_at", UtcDateTime()),
    Column("revoked_at", UtcDateTime()),
    Column("revoked_by", String(255)),
    Column("last_used_at", UtcDateTime()),
    UniqueConstraint("digest", name="uq_api_token_digest"),
)

web_session = Table(
    "web_session",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("app_user.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("seen_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Column("address", String(64)),
)

signin_failure = Table(
    "signin_failure",
    metadata,
    Column("id", BIG_ID, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("name", String(255), nullable=False),
    Column("address", String(64), nullable=False),
    Index("ix_signin_failure_address_at", "address", "at"),
    Index("ix_signin_failure_at", "at"),
    Index("ix_signin_failure_name_at", "name", "at"),
)

notify_setting = Table(
    "notify_setting",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(1024), nullable=False),
)

notify_digest = Table(
    "notify_digest",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("recipient", String(254), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_notify_digest_recipient", "recipient", "id"),
)

instance_variable = Table(
    "instance_variable",
    metadata,
    Column("instance_id", Integer, ForeignKey("process_instance.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("num_value", Float),
    Column("text_value", String(255)),
    Index("ix_instance_variable_number", "name", "num_value", "instance_id"),
    Index("ix_instance_variable_text", "name", "text_value", "instance_id"),
)

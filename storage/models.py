"""The ORM classes, mapped onto the Core tables of storage/tables.py (the schema's one definition).

The operator path (starting instances, completing tasks) and the other writes work through these; the
read commands query the tables without them (storage/reads.py). The `Mapped[...]` annotations are for
type checkers and attribute access: the columns, their types and the indexes are the tables'.
"""

# No `from __future__ import annotations` here: with it every `Mapped[...]` reaches SQLAlchemy as a string
# it must clean up and evaluate at each start.

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped

from . import tables
from .utc_datetime import UtcDateTime  # noqa: F401 - the migrations of 0001-0011 name it from here


class Base(DeclarativeBase):
    metadata = tables.metadata


class ProcessDefinition(Base):
    """One version of one process: the uploaded files, the serialized spec, and the model Handoff reads."""

    __table__ = tables.process_definition

    id: Mapped[int]
    process_id: Mapped[str]
    version: Mapped[int]
    name: Mapped[str | None]
    dialect: Mapped[str]
    checksum: Mapped[str]
    spec: Mapped[str]  # SpiffWorkflow's serialized spec, stored once per version
    model: Mapped[dict[str, Any]]  # bpmn.ProcessModel as JSON: lanes, elements, forms, properties
    deployed_at: Mapped[datetime]
    deployed_by: Mapped[str | None]
    # Scripts of this version run as full Python, not in the sandbox: an explicit choice at deploy time.
    trusted_scripts: Mapped[bool]


class DefinitionFile(Base):
    """The BPMN/DMN files as uploaded, kept with each version so a diagram can be shown or re-parsed."""

    __table__ = tables.definition_file

    id: Mapped[int]
    definition_id: Mapped[int]
    name: Mapped[str]
    kind: Mapped[str]
    checksum: Mapped[str]
    content: Mapped[bytes]


class ProcessInstance(Base):
    __table__ = tables.process_instance

    id: Mapped[int]
    definition_id: Mapped[int]
    process_id: Mapped[str]
    business_key: Mapped[str | None]
    status: Mapped[str]
    state: Mapped[str]  # the workflow serialized without its spec
    data: Mapped[dict[str, Any]]  # a JSON snapshot of the workflow data, for people and queries
    error: Mapped[dict[str, Any] | None]  # the incident: task, line, message
    next_due_at: Mapped[datetime | None]
    version_counter: Mapped[int]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    completed_at: Mapped[datetime | None]
    started_by: Mapped[str | None]
    # A worker's claim on the instance's due work (DESIGN §6): taken with SKIP LOCKED, void after expiry.
    lease_owner: Mapped[str | None]
    lease_expires_at: Mapped[datetime | None]
    # Automatic attempts made since the instance last failed (the retry policy counts them).
    attempts: Mapped[int]
    # Called process -> the definition id its call activities run, fixed when the instance started
    # (a call activity runs the latest deployed version unless pinned; NULL: none resolved late).
    called: Mapped[dict[str, Any] | None]

    # Optimistic locking: a concurrent writer's UPDATE matches no row and raises StaleDataError.
    __mapper_args__ = {"version_id_col": tables.process_instance.c.version_counter}


class HumanTask(Base):
    __table__ = tables.human_task

    id: Mapped[int]
    instance_id: Mapped[int]
    spiff_task_id: Mapped[str]
    element_id: Mapped[str]
    name: Mapped[str | None]
    type: Mapped[str]
    lane: Mapped[str | None]
    form: Mapped[list[Any]]
    state: Mapped[str]  # ready, claimed, completed, cancelled
    assignee: Mapped[str | None]
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by: Mapped[str | None]
    due_at: Mapped[datetime | None]  # the model's due date (or `sla` property) from ready
    data: Mapped[dict[str, Any] | None]  # the form data it was completed with
    # Set when the task completes (engine/kernel/task_times.py), NULL before and for cancelled tasks:
    # ready -> claimed (or -> completed if never claimed), and claimed -> completed (0 if never claimed).
    wait_seconds: Mapped[float | None]
    processing_seconds: Mapped[float | None]
    # From the model when the task became ready (engine/assignment.py). Candidates are kept as
    # ",bob,carl," so that one LIKE finds a name on both databases without a join on the hot path.
    candidate_users: Mapped[str | None]
    candidate_groups: Mapped[str | None]
    follow_up_at: Mapped[datetime | None]
    priority: Mapped[int | None]


class Event(Base):
    """Append-only history, denormalised so that it reads the same after any later change."""

    __table__ = tables.event

    id: Mapped[int]
    instance_id: Mapped[int]
    process_id: Mapped[str]
    version: Mapped[int]
    task_id: Mapped[int | None]  # the human task's id, where there is one
    element_id: Mapped[str | None]
    element_name: Mapped[str | None]
    element_type: Mapped[str | None]
    lane: Mapped[str | None]
    kind: Mapped[str]
    actor: Mapped[str | None]
    at: Mapped[datetime]
    data: Mapped[dict[str, Any] | None]
    # The activity instance (SpiffWorkflow's task id) and its causal predecessor's (DESIGN §3): what
    # handoffs, crossings and ping-pong are traced along, across operations.
    token: Mapped[str | None]
    cause: Mapped[str | None]


class HandoffRecord(Base):
    """Work passing from one person to another (DESIGN §3)."""

    __table__ = tables.handoff

    id: Mapped[int]
    instance_id: Mapped[int]
    process_id: Mapped[str]
    from_event_id: Mapped[int]
    to_event_id: Mapped[int]
    from_task_id: Mapped[int | None]
    to_task_id: Mapped[int | None]
    from_element: Mapped[str]
    from_name: Mapped[str | None]
    to_element: Mapped[str]
    to_name: Mapped[str | None]
    from_actor: Mapped[str | None]
    to_actor: Mapped[str | None]
    from_lane: Mapped[str | None]
    to_lane: Mapped[str | None]
    from_at: Mapped[datetime]  # A completed
    to_at: Mapped[datetime]  # B claimed, or completed if never claimed
    latency_seconds: Mapped[float]


class BoundaryCrossing(Base):
    """An activity whose lane differs from its causal predecessor's (DESIGN §3)."""

    __table__ = tables.boundary_crossing

    id: Mapped[int]
    instance_id: Mapped[int]
    process_id: Mapped[str]
    from_event_id: Mapped[int]
    to_event_id: Mapped[int]
    from_element: Mapped[str]
    from_name: Mapped[str | None]
    to_element: Mapped[str]
    to_name: Mapped[str | None]
    from_lane: Mapped[str | None]
    to_lane: Mapped[str | None]
    at: Mapped[datetime]
    ping_pong: Mapped[bool]


class Delay(Base):
    """A human task that waited, or an instance that ran, longer than its threshold (DESIGN §3)."""

    __table__ = tables.delay

    id: Mapped[int]
    subject: Mapped[str]  # task:ID or instance:ID: one record each
    instance_id: Mapped[int]
    process_id: Mapped[str]
    kind: Mapped[str]  # task_wait or cycle_time
    task_id: Mapped[int | None]
    element: Mapped[str | None]
    name: Mapped[str | None]
    lane: Mapped[str | None]
    started_at: Mapped[datetime]
    waited_seconds: Mapped[float]
    threshold_seconds: Mapped[float]
    threshold_source: Mapped[str]  # bpmn, lane, default
    still_open: Mapped[bool]
    detected_at: Mapped[datetime]


class SlaSetting(Base):
    """Lane and global SLA defaults, beside the BPMN `sla` property."""

    __table__ = tables.sla_setting

    id: Mapped[int]
    scope: Mapped[str]  # lane or default
    lane: Mapped[str]  # "" for the default
    duration: Mapped[str]
    seconds: Mapped[float]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str | None]


class User(Base):
    """A person Handoff knows, with one role. Until the first one is added, Handoff runs in single-user
    mode (no checks at all); see docs/users.md. `app_user`: `user` is reserved in PostgreSQL."""

    __table__ = tables.app_user

    id: Mapped[int]
    name: Mapped[str]
    role: Mapped[str]  # designer, operator, analyst or admin
    tz: Mapped[str | None]  # IANA zone their times are shown in (docs/users.md)
    email: Mapped[str | None]  # where notifications go (docs/notifications.md)
    created_at: Mapped[datetime]
    created_by: Mapped[str | None]
    updated_at: Mapped[datetime | None]
    updated_by: Mapped[str | None]


class UserLane(Base):
    """Membership: a lane (the group of people who do its work, DESIGN §2) that a user works in."""

    __table__ = tables.user_lane

    user_id: Mapped[int]
    lane: Mapped[str]


class AuditEntry(Base):
    """An administrative action that belongs to no instance (a user added, changed or removed): who,
    when, what. The instance history stays in `event`."""

    __table__ = tables.audit

    id: Mapped[int]
    at: Mapped[datetime]
    actor: Mapped[str | None]
    action: Mapped[str]  # user_added, user_changed, user_removed
    subject: Mapped[str]  # the user's name
    data: Mapped[dict[str, Any] | None]


class Subscription(Base):
    """What a waiting instance waits for from outside: a message (by name and correlation key) or a
    signal (by name). Rewritten with every state change, so that delivery is an index lookup."""

    __table__ = tables.subscription

    id: Mapped[int]
    instance_id: Mapped[int]
    kind: Mapped[str]  # message or signal
    name: Mapped[str]
    correlation: Mapped[str | None]
    element_id: Mapped[str | None]
    created_at: Mapped[datetime]


class TimerSchedule(Base):
    """A timer start event of the latest deployed version of a process: when it next starts an instance.
    Workers claim due rows like due instances (lease, SKIP LOCKED)."""

    __table__ = tables.timer_schedule

    id: Mapped[int]
    process_id: Mapped[str]
    definition_id: Mapped[int]
    element_id: Mapped[str]
    expression: Mapped[str]
    next_due_at: Mapped[datetime | None]
    fired: Mapped[int]
    lease_owner: Mapped[str | None]
    lease_expires_at: Mapped[datetime | None]


class EventStart(Base):
    """A message or signal start event of a deployed process version: which process a message or a
    signal starts, found by an index lookup instead of reading every deployed spec."""

    __table__ = tables.event_start

    id: Mapped[int]
    definition_id: Mapped[int]
    process_id: Mapped[str]
    kind: Mapped[str]  # message or signal
    name: Mapped[str]
    element_id: Mapped[str]


# --- sign-in (web door, DESIGN §8; docs/security.md) ------------------------------------------------
# Secrets are never stored: a password as its Argon2id hash, a token or session id as its SHA-256
# (both are long random strings, so a fast hash is enough and a stolen table opens nothing).


class Password(Base):
    """A user's password, as an Argon2id hash (argon2-cffi's encoded form: algorithm, costs, salt)."""

    __table__ = tables.user_password

    user_id: Mapped[int]
    hash: Mapped[str]
    set_at: Mapped[datetime]
    set_by: Mapped[str | None]


class ApiToken(Base):
    """An API token (`Authorization: Bearer`): shown once when made, then only its digest is kept."""

    __table__ = tables.api_token

    id: Mapped[int]
    user_id: Mapped[int]
    digest: Mapped[str]  # SHA-256 of the token, hex
    hint: Mapped[str]  # the token's first characters, to recognise it
    created_at: Mapped[datetime]
    created_by: Mapped[str | None]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    revoked_by: Mapped[str | None]
    last_used_at: Mapped[datetime | None]


class WebSession(Base):
    """A signed-in browser: the cookie holds the session id, the table its digest, so that every
    `handoff serve` process shares the session and sign-out ends it everywhere (DESIGN §6)."""

    __table__ = tables.web_session

    digest: Mapped[str]  # SHA-256 of the session id, hex
    user_id: Mapped[int]
    csrf: Mapped[str]  # the synchronizer token of this session's forms
    created_at: Mapped[datetime]
    seen_at: Mapped[datetime]  # idle expiry counts from here (refreshed at most once a minute)
    expires_at: Mapped[datetime]  # absolute expiry
    address: Mapped[str | None]


class SigninFailure(Base):
    """A failed sign-in, counted per name and per address to slow and then refuse guessing; rows older
    than the counting window are pruned as new ones arrive."""

    __table__ = tables.signin_failure

    id: Mapped[int]
    at: Mapped[datetime]
    name: Mapped[str]
    address: Mapped[str]

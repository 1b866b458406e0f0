"""report numbers: a human task's waiting and processing seconds on its row, and the report's indexes

The CPO report read waiting and processing times as julianday() over ISO text, computed per query, and
sorted for every percentile. Now they are stored when the task completes (engine/report_numbers.py), and
covering indexes let each figure be an index scan and each percentile an index walk (docs/report.md).
Existing completed tasks are backfilled here, to the microsecond like the recorder.

Revision ID: 0009_report_numbers
Revises: 0007
Create Date: 2026-12-04 19:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_report_numbers"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COMPLETED = sa.text("wait_seconds IS NOT NULL")
_TASK_INDEXES = (
    ("ix_human_task_lane_wait", ["lane", "wait_seconds", "processing_seconds", "instance_id"]),
    ("ix_human_task_lane_processing", ["lane", "processing_seconds", "instance_id"]),
    ("ix_human_task_element_wait", ["element_id", "lane", "name", "wait_seconds", "instance_id"]),
    ("ix_human_task_element_instance", ["element_id", "instance_id"]),
)
_OTHER_INDEXES = (
    ("ix_handoff_lanes_latency", "handoff", ["from_lane", "to_lane", "latency_seconds", "instance_id"]),
    ("ix_handoff_actors_latency", "handoff", ["from_actor", "to_actor", "latency_seconds", "instance_id"]),
    ("ix_boundary_crossing_lanes", "boundary_crossing", ["from_lane", "to_lane", "ping_pong", "instance_id"]),
)


def _seconds(dialect: str, start: str, end: str) -> str:
    """SQL for the seconds from `start` to `end`, to the microsecond."""
    if dialect == "postgresql":
        return f"EXTRACT(EPOCH FROM ({end} - {start}))"
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds from strftime, the fraction from the text.
    return (
        f"ROUND((CAST(strftime('%s', {end}) AS INTEGER) - CAST(strftime('%s', {start}) AS INTEGER))"
        f" + (CAST(substr({end}, 20) AS REAL) - CAST(substr({start}, 20) AS REAL)), 6)"
    )


def upgrade() -> None:
    op.add_column("human_task", sa.Column("wait_seconds", sa.Float(), nullable=True))
    op.add_column("human_task", sa.Column("processing_seconds", sa.Float(), nullable=True))
    dialect = op.get_bind().dialect.name
    taken = "COALESCE(claimed_at, completed_at)"
    op.execute(
        f"UPDATE human_task SET wait_seconds = {_seconds(dialect, 'created_at', taken)},"
        f" processing_seconds = {_seconds(dialect, taken, 'completed_at')}"
        " WHERE state = 'completed' AND completed_at IS NOT NULL"
    )
    for name, columns in _TASK_INDEXES:
        op.create_index(
            name, "human_task", columns, unique=False, sqlite_where=_COMPLETED, postgresql_where=_COMPLETED
        )
    for name, table, columns in _OTHER_INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(_OTHER_INDEXES):
        op.drop_index(name, table_name=table)
    for name, _ in reversed(_TASK_INDEXES):
        op.drop_index(name, table_name="human_task")
    with op.batch_alter_table("human_task", schema=None) as batch_op:
        batch_op.drop_column("processing_seconds")
        batch_op.drop_column("wait_seconds")

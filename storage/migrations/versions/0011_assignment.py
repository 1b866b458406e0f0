"""assignment: a human task's candidates, follow-up date and priority from the model; the instance
variable table for search by data; a user's time zone and e-mail address, the mail settings and digest
(issue 15)

Revision ID: 0011_assignment
Revises: 0010_signin_and_report
Create Date: 2026-12-04 22:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.models import UtcDateTime

revision: str = "0011_assignment"
down_revision: str | Sequence[str] | None = "0010_signin_and_report"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.add_column(sa.Column("candidate_users", sa.Text(), nullable=True))
        batch.add_column(sa.Column("candidate_groups", sa.Text(), nullable=True))
        batch.add_column(sa.Column("follow_up_at", UtcDateTime(), nullable=True))
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=True))
    with op.batch_alter_table("app_user") as batch:
        batch.add_column(sa.Column("tz", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
    op.create_table(
        "notify_setting",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=1024), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_notify_setting"),
    )
    op.create_table(
        "notify_digest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_notify_digest"),
    )
    op.create_index("ix_notify_digest_recipient", "notify_digest", ["recipient", "id"])
    op.create_table(
        "instance_variable",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("num_value", sa.Float(), nullable=True),
        sa.Column("text_value", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instance.id"],
            name="fk_instance_variable_instance_id_process_instance",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("instance_id", "name", name="pk_instance_variable"),
    )
    op.create_index("ix_instance_variable_number", "instance_variable", ["name", "num_value", "instance_id"])
    op.create_index("ix_instance_variable_text", "instance_variable", ["name", "text_value", "instance_id"])
    # Instances that exist already become searchable too (their data snapshot, as the engine writes it).
    _backfill()


def _backfill() -> None:
    from storage.repository.variables import variable_rows

    bind = op.get_bind()
    instance = sa.table("process_instance", sa.column("id", sa.Integer()), sa.column("data", sa.JSON()))
    variable = sa.table(
        "instance_variable",
        sa.column("instance_id", sa.Integer()),
        sa.column("name", sa.String()),
        sa.column("num_value", sa.Float()),
        sa.column("text_value", sa.String()),
    )
    rows: list[dict[str, object]] = []
    for instance_id, data in bind.execute(sa.select(instance.c.id, instance.c.data)):
        rows.extend(variable_rows(instance_id, data if isinstance(data, dict) else {}))
        if len(rows) >= 10_000:
            bind.execute(variable.insert(), rows)
            rows = []
    if rows:
        bind.execute(variable.insert(), rows)


def downgrade() -> None:
    op.drop_index("ix_instance_variable_text", table_name="instance_variable")
    op.drop_index("ix_instance_variable_number", table_name="instance_variable")
    op.drop_table("instance_variable")
    op.drop_index("ix_notify_digest_recipient", table_name="notify_digest")
    op.drop_table("notify_digest")
    op.drop_table("notify_setting")
    with op.batch_alter_table("app_user") as batch:
        batch.drop_column("email")
        batch.drop_column("tz")
    with op.batch_alter_table("human_task") as batch:
        batch.drop_column("priority")
        batch.drop_column("follow_up_at")
        batch.drop_column("candidate_groups")
        batch.drop_column("candidate_users")

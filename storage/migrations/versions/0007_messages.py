"""message and signal start events of deployed versions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_start",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("process_id", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("element_id", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["process_definition.id"],
            name=op.f("fk_event_start_definition_id_process_definition"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_start")),
    )
    with op.batch_alter_table("event_start", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_event_start_definition_id"), ["definition_id"], unique=False)
        batch_op.create_index("ix_event_start_kind_name", ["kind", "name"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_start", schema=None) as batch_op:
        batch_op.drop_index("ix_event_start_kind_name")
        batch_op.drop_index(batch_op.f("ix_event_start_definition_id"))
    op.drop_table("event_start")

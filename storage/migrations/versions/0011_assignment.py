"""assignment: a human task's candidates, follow-up date and priority from the model (issue 15)

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


def downgrade() -> None:
    with op.batch_alter_table("human_task") as batch:
        batch.drop_column("priority")
        batch.drop_column("follow_up_at")
        batch.drop_column("candidate_groups")
        batch.drop_column("candidate_users")

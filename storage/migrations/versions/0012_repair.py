"""repair: an index on delay.instance_id

Deleting instances (handoff cleanup, issue 16) deletes their delay records and checks the foreign key
from delay to each deleted instance: without an index on delay.instance_id each is a scan of the whole
delay table, and a cleanup of N instances takes time in N squared. Every other table holding an
instance's rows has one already.

Revision ID: 0012_repair
Revises: 0011_assignment
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_repair"
down_revision: str | Sequence[str] | None = "0011_assignment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("delay", schema=None) as batch_op:
        batch_op.create_index("ix_delay_instance", ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delay", schema=None) as batch_op:
        batch_op.drop_index("ix_delay_instance")

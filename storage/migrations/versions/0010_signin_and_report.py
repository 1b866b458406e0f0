"""one history again: sign-in (0008_signin) and the report's numbers (0009_report_numbers), made on two
branches from 0007, meet here; nothing to change

Revision ID: 0010_signin_and_report
Revises: 0008_signin, 0009_report_numbers
Create Date: 2026-12-04 21:50:00.000000
"""

from collections.abc import Sequence

revision: str = "0010_signin_and_report"
down_revision: str | Sequence[str] | None = ("0008_signin", "0009_report_numbers")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass

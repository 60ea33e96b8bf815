"""usage_daily (email, date) index covers model and total_tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 14:58:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_usage_daily_email_date", table_name="usage_daily")
    op.create_index(
        "ix_usage_daily_email_date", "usage_daily", ["email", "date"], postgresql_include=["model", "total_tokens"]
    )


def downgrade() -> None:
    op.drop_index("ix_usage_daily_email_date", table_name="usage_daily")
    op.create_index("ix_usage_daily_email_date", "usage_daily", ["email", "date"])

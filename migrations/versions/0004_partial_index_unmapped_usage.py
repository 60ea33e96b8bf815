"""partial index over the unmapped rows of usage_user_daily

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:02:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_usage_user_daily_unmapped",
        "usage_user_daily",
        ["email", "date"],
        postgresql_where=sa.text("email LIKE 'unmapped:%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_usage_user_daily_unmapped", table_name="usage_user_daily")

"""distinct mapped people per Monday-start week and tool

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_tool_weekly_users",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "tool", name=op.f("pk_usage_tool_weekly_users")),
    )
    # Fill from the existing rollup so an upgraded database is consistent at once.
    op.execute(
        "INSERT INTO usage_tool_weekly_users (week, tool, users) "
        "SELECT date_trunc('week', date)::date, tool, COUNT(DISTINCT email) FROM usage_user_daily "
        "WHERE email NOT LIKE 'unmapped:%' GROUP BY 1, tool"
    )


def downgrade() -> None:
    op.drop_table("usage_tool_weekly_users")

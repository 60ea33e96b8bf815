"""weekly per-person rollups for the whole weeks of a range: (week, email, tool) sums and (week, email) active days

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_user_weekly",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False),
        sa.Column("thinking_records", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("week", "email", "tool", name=op.f("pk_usage_user_weekly")),
    )
    op.create_table(
        "usage_person_weekly",
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("week", "email", name=op.f("pk_usage_person_weekly")),
    )
    # Fill both from the existing rollup so an upgraded database is consistent at once.
    op.execute(
        "INSERT INTO usage_user_weekly (week, email, tool, input_tokens, output_tokens, cache_read_tokens, "
        "total_tokens, cost, thinking_records, first_date) "
        "SELECT date_trunc('week', date)::date, email, tool, SUM(input_tokens), SUM(output_tokens), "
        "SUM(cache_read_tokens), SUM(total_tokens), SUM(cost), SUM(thinking_records), MIN(date) "
        "FROM usage_user_daily GROUP BY 1, email, tool"
    )
    op.execute(
        "INSERT INTO usage_person_weekly (week, email, days) "
        "SELECT date_trunc('week', date)::date, email, COUNT(DISTINCT date) FROM usage_user_daily GROUP BY 1, email"
    )


def downgrade() -> None:
    op.drop_table("usage_person_weekly")
    op.drop_table("usage_user_weekly")

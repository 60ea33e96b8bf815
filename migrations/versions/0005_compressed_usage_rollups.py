"""compressed usage rollups: per-(date, tool) totals with mapped figures, per-(email, tool) lifetime span and sums

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 07:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _sums() -> list[sa.Column[object]]:
    return [
        sa.Column("input_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_write_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cache_read_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("output_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False),
        sa.Column("record_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("thinking_records", sa.Integer(), server_default="0", nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "usage_tool_totals_daily",
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        *_sums(),
        sa.Column("mapped_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("mapped_cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False),
        sa.Column("users", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("date", "tool", name=op.f("pk_usage_tool_totals_daily")),
    )
    op.create_table(
        "usage_user_tools",
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("first_date", sa.Date(), nullable=False),
        sa.Column("last_date", sa.Date(), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=6), server_default="0", nullable=False),
        sa.Column("record_count", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("email", "tool", name=op.f("pk_usage_user_tools")),
    )
    op.create_index("ix_usage_user_daily_email_tool_date", "usage_user_daily", ["email", "tool", "date"])
    # Fill both from the existing rollup so an upgraded database is consistent at once.
    op.execute(
        "INSERT INTO usage_tool_totals_daily (date, tool, input_tokens, cache_write_tokens, cache_read_tokens, "
        "output_tokens, total_tokens, cost, record_count, thinking_records, mapped_tokens, mapped_cost, users) "
        "SELECT date, tool, SUM(input_tokens), SUM(cache_write_tokens), SUM(cache_read_tokens), SUM(output_tokens), "
        "SUM(total_tokens), SUM(cost), SUM(record_count), SUM(thinking_records), "
        "COALESCE(SUM(total_tokens) FILTER (WHERE email NOT LIKE 'unmapped:%'), 0), "
        "COALESCE(SUM(cost) FILTER (WHERE email NOT LIKE 'unmapped:%'), 0), "
        "COUNT(*) FILTER (WHERE email NOT LIKE 'unmapped:%') "
        "FROM usage_user_daily GROUP BY date, tool"
    )
    op.execute(
        "INSERT INTO usage_user_tools (email, tool, first_date, last_date, total_tokens, cost, record_count) "
        "SELECT email, tool, MIN(date), MAX(date), SUM(total_tokens), SUM(cost), SUM(record_count) "
        "FROM usage_user_daily GROUP BY email, tool"
    )


def downgrade() -> None:
    op.drop_index("ix_usage_user_daily_email_tool_date", table_name="usage_user_daily")
    op.drop_table("usage_user_tools")
    op.drop_table("usage_tool_totals_daily")

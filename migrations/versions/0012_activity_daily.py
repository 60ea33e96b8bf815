"""activity_daily: what the AI produced per (tool, organization, identity, date), replaced whole on every re-read

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 09:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activity_daily",
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("identity", sa.String(length=320), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("sessions", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lines_added", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("lines_removed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("suggested", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("accepted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("commits", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("pull_requests", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("tool", "organization_id", "identity", "date", name=op.f("pk_activity_daily")),
    )
    op.create_index("ix_activity_daily_email_date", "activity_daily", ["email", "date"])
    op.create_index("ix_activity_daily_date_tool", "activity_daily", ["date", "tool"])


def downgrade() -> None:
    op.drop_index("ix_activity_daily_date_tool", table_name="activity_daily")
    op.drop_index("ix_activity_daily_email_date", table_name="activity_daily")
    op.drop_table("activity_daily")

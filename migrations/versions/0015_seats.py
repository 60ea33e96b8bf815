"""seats: paid licences per tool (Cursor members, Copilot seats) kept with history (ended_at when the vendor drops one)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 10:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "seats",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=64), nullable=False),
        sa.Column("identity", sa.String(length=320), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("plan", sa.String(length=32), nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("price_usd", sa.Numeric(10, 2), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seats")),
    )
    op.create_index(
        "uq_seats_open",
        "seats",
        ["tool", "organization_id", "identity"],
        unique=True,
        postgresql_where=sa.text("ended_at IS NULL"),
    )
    op.create_index("ix_seats_email", "seats", ["email"])
    op.execute(
        "CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON seats "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS bump_data_version ON seats")
    op.drop_index("ix_seats_email", table_name="seats")
    op.drop_index("uq_seats_open", table_name="seats")
    op.drop_table("seats")

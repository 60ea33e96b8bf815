"""otel_points: Claude Code's OpenTelemetry data points as received over OTLP/HTTP, one row per data point

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 10:55:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "otel_points",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("organization_label", sa.String(length=64), nullable=False),
        sa.Column("series_key", sa.String(length=64), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("time_ns", sa.BigInteger(), nullable=False),
        sa.Column("observed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=128), nullable=False),
        sa.Column("cumulative", sa.Boolean(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("delta", sa.Float(), nullable=False),
        sa.Column("identity", sa.String(length=320), nullable=True),
        sa.Column("model", sa.String(length=128), nullable=True),
        sa.Column("kind", sa.String(length=64), nullable=True),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otel_points")),
        sa.UniqueConstraint("organization_label", "series_key", "start_ns", "time_ns", name="uq_otel_points_point"),
    )
    op.create_index("ix_otel_points_date_identity", "otel_points", ["date", "identity"])
    op.create_index("ix_otel_points_observed_at", "otel_points", ["observed_at"])
    op.execute(
        "CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON otel_points "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS bump_data_version ON otel_points")
    op.drop_index("ix_otel_points_observed_at", table_name="otel_points")
    op.drop_index("ix_otel_points_date_identity", table_name="otel_points")
    op.drop_table("otel_points")

"""OTel ingest off the request path: pending cumulative deltas, dirty days, provisional-row indexes

`otel_points.delta` may be NULL: a cumulative point's delta is settled by the rebuild job (provisional.py), under
its lock, once the points before it are stored. `otel_dirty_days` holds one mark per (export, day) the receiver
stored points for, written in the points' transaction and deleted by the rebuild that read it. otel_points loses
its data-version trigger: no cached page reads it (the rebuild's writes to usage rows move the version). The two
partial indexes find provisional (source `otel`) rows by day cheaply, for the pages' provisional marks.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.alter_column("otel_points", "delta", existing_type=sa.Float(), nullable=True)
    op.create_index(
        "ix_otel_points_pending",
        "otel_points",
        ["organization_label", "series_key", "start_ns"],
        postgresql_where=sa.text("delta IS NULL"),
    )
    op.execute("DROP TRIGGER IF EXISTS bump_data_version ON otel_points")
    op.create_table(
        "otel_dirty_days",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("marked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otel_dirty_days")),
    )
    op.create_index(
        "ix_usage_records_otel_date",
        "usage_records",
        ["date", "email"],
        postgresql_where=sa.text("tool_record_id = 'otel'"),
    )
    op.create_index(
        "ix_activity_daily_otel_date",
        "activity_daily",
        ["date", "email"],
        postgresql_where=sa.text("organization_id LIKE 'otel:%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_activity_daily_otel_date", table_name="activity_daily")
    op.drop_index("ix_usage_records_otel_date", table_name="usage_records")
    op.drop_table("otel_dirty_days")
    op.execute(
        "CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON otel_points "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
    )
    op.drop_index("ix_otel_points_pending", table_name="otel_points")
    op.execute("UPDATE otel_points SET delta = value WHERE delta IS NULL")
    op.alter_column("otel_points", "delta", existing_type=sa.Float(), nullable=False)

"""budgets, alerts and alert deliveries (docs/schema.md §12)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:50:00

A budget caps one scope's monthly spend (the whole org, one team or one person; one tool or all tools). An alert is
one crossing of one of its thresholds, or the first at-risk forecast, in one calendar month: unique on (budget,
month, kind), so the evaluation may run any number of times, on any number of workers, and still create it once.
Every attempt to deliver an alert to a channel is one row of `alert_deliveries`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = ("budgets", "alerts", "alert_deliveries")


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.String(length=320), nullable=False),
        sa.Column("tool", sa.String(length=64), nullable=False),
        sa.Column("amount_usd", sa.Numeric(12, 2), nullable=False),
        sa.Column(
            "thresholds",
            postgresql.ARRAY(sa.SmallInteger()),
            server_default=sa.text("'{50,80,100}'"),
            nullable=False,
        ),
        sa.Column("include_seats", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=16)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("scope IN ('org', 'team', 'person')", name=op.f("ck_budgets_scope")),
        sa.CheckConstraint("amount_usd > 0", name=op.f("ck_budgets_amount_positive")),
        sa.CheckConstraint("scope <> 'org' OR scope_id = ''", name=op.f("ck_budgets_org_has_no_scope_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
        sa.UniqueConstraint("scope", "scope_id", "tool", name=op.f("uq_budgets_scope")),
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("budget_id", sa.BigInteger(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("spent_usd", sa.Numeric(14, 2), nullable=False),
        sa.Column("forecast_usd", sa.Numeric(14, 2), nullable=False),
        sa.Column("amount_usd", sa.Numeric(12, 2), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(length=16)), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("extract(day FROM month) = 1", name=op.f("ck_alerts_month_first_day")),
        sa.ForeignKeyConstraint(
            ["budget_id"], ["budgets.id"], name=op.f("fk_alerts_budget_id_budgets"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
        sa.UniqueConstraint("budget_id", "month", "kind", name=op.f("uq_alerts_budget_id")),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("attempt", sa.SmallInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("http_status", sa.SmallInteger(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("status IN ('sent', 'failed')", name=op.f("ck_alert_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name=op.f("fk_alert_deliveries_alert_id_alerts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_deliveries")),
    )
    op.create_index("ix_alert_deliveries_alert", "alert_deliveries", ["alert_id", "channel"])
    op.create_index("ix_alert_deliveries_channel_at", "alert_deliveries", ["channel", "at"])
    # exactly one successful delivery per (alert, channel), whatever runs it
    op.create_index(
        "uq_alert_deliveries_sent",
        "alert_deliveries",
        ["alert_id", "channel"],
        unique=True,
        postgresql_where=sa.text("status = 'sent'"),
    )
    for table in VERSIONED_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )


def downgrade() -> None:
    for table in VERSIONED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_data_version ON {table}")
    op.drop_index("uq_alert_deliveries_sent", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_channel_at", table_name="alert_deliveries")
    op.drop_index("ix_alert_deliveries_alert", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("budgets")

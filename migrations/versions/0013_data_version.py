"""data version: one row every writer of page data moves, in the writer's own transaction

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 09:55:00

A statement-level BEFORE trigger on each table that pages read bumps `data_version.version` once per writing
transaction (the row remembers the transaction that bumped it last), for INSERT, UPDATE, DELETE and TRUNCATE alike.
The page cache keys its entries on (epoch, version): a reader that sees the new version sees the new data, because
both commit together. `epoch` is random per database, so a dropped and re-created database never meets the entries
of the old one in a shared Redis.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VERSIONED_TABLES = (
    "usage_records",
    "usage_daily",
    "usage_tool_daily",
    "usage_user_daily",
    "usage_tool_totals_daily",
    "usage_user_tools",
    "usage_tool_weekly_users",
    "usage_user_monthly",
    "usage_person_monthly",
    "usage_user_weekly",
    "usage_person_weekly",
    "identity_mappings",
    "activity_daily",
    "repositories",
    "commits",
    "commit_daily",
    "commit_author_daily",
    "commit_authors",
    "commit_attributions",
)
"""Every table a cached page reads (tests/integration/test_data_version.py checks each table is here or exempt)."""

BUMP_FUNCTION = """
CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- once per transaction: later statements of the same writer find the row already theirs
  UPDATE data_version SET version = version + 1, bumped_by = pg_current_xact_id()::text::bigint
  WHERE id = 1 AND bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "data_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("epoch", sa.Uuid(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("version", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("bumped_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("id = 1", name=op.f("ck_data_version_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_version")),
    )
    op.execute("INSERT INTO data_version (id) VALUES (1)")
    op.execute(BUMP_FUNCTION)
    for table in VERSIONED_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )


def downgrade() -> None:
    for table in VERSIONED_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_data_version ON {table}")
    op.execute("DROP FUNCTION bump_data_version()")
    op.drop_table("data_version")

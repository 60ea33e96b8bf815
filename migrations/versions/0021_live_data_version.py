"""live data version: writes of live telemetry move their own counter, not the data version

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 13:20:00

A transaction that only re-derives provisional (OpenTelemetry) rows says so with `SET LOCAL abacus.live_write = 'on'`;
the data-version trigger then moves `data_version.live_version` instead of `version`. The page cache keys its entries
on `version` exactly and on `live_version` as each process last sampled it (at most `LIVE_REFRESH_SECONDS` old): a
sync, import or mapping change shows on the next request as before, while live telemetry arriving every few seconds
no longer throws away every cached page (docs/operations.md §13).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BUMP_FUNCTION = """
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- once per transaction: later statements of the same writer find the row already theirs
  IF current_setting('abacus.live_write', true) = 'on' THEN
    UPDATE data_version SET live_version = live_version + 1, live_bumped_by = pg_current_xact_id()::text::bigint
    WHERE id = 1 AND live_bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  ELSE
    UPDATE data_version SET version = version + 1, bumped_by = pg_current_xact_id()::text::bigint
    WHERE id = 1 AND bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  END IF;
  RETURN NULL;
END
$$
"""

PREVIOUS_FUNCTION = """
CREATE OR REPLACE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE data_version SET version = version + 1, bumped_by = pg_current_xact_id()::text::bigint
  WHERE id = 1 AND bumped_by IS DISTINCT FROM pg_current_xact_id()::text::bigint;
  RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.add_column(
        "data_version", sa.Column("live_version", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
    )
    op.add_column("data_version", sa.Column("live_bumped_by", sa.BigInteger(), nullable=True))
    op.execute(BUMP_FUNCTION)


def downgrade() -> None:
    op.execute(PREVIOUS_FUNCTION)
    op.drop_column("data_version", "live_bumped_by")
    op.drop_column("data_version", "live_version")

"""drop two usage_records indexes that other indexes already serve, so every ingested row updates four, not six

`ix_usage_records_date` (date) is a prefix of the dedupe key's unique index (date, identity, tool, …), which serves
the same range scans; `ix_usage_records_tool_date` (tool, date) serves nothing the dedupe index does not: the rollup
refresh reads whole (date, tool) slices, found by date and filtered on tool within the day.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 08:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index("ix_usage_records_tool_date", table_name="usage_records")
    op.drop_index("ix_usage_records_date", table_name="usage_records")


def downgrade() -> None:
    op.create_index("ix_usage_records_date", "usage_records", ["date"], unique=False)
    op.create_index("ix_usage_records_tool_date", "usage_records", ["tool", "date"], unique=False)

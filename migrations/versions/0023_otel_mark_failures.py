"""otel_dirty_days remembers failed rebuilds: a (day, person) whose provisional rows cannot be written is held back
(retried with a growing pause) instead of failing every later rebuild, and the status page names it

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 22:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("otel_dirty_days", sa.Column("attempts", sa.Integer(), server_default="0", nullable=False))
    op.add_column("otel_dirty_days", sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("otel_dirty_days", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("otel_dirty_days", "error")
    op.drop_column("otel_dirty_days", "failed_at")
    op.drop_column("otel_dirty_days", "attempts")

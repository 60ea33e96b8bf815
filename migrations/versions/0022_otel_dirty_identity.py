"""otel_dirty_days.identity: a mark names the OTel identity whose points arrived, so the rebuild rewrites that
person's provisional rows of the day instead of everyone's (NULL: the whole day)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("otel_dirty_days", sa.Column("identity", sa.String(length=320), nullable=True))


def downgrade() -> None:
    op.drop_column("otel_dirty_days", "identity")

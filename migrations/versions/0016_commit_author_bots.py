"""commit_authors.is_bot: whether a GitHub author's commits are bot commits (the lifetime level carries the flag)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 10:25:00

`commits.is_bot` is the effective flag (the sync's rule — `[bot]` login, account type Bot, noreply bot address — or an
admin's word, docs/schema.md §3.1). The lifetime author level gets `bool_or` of it, so the mapping assistant and the
status page tell bots (dependabot, the Copilot coding agent, whose login has no `[bot]`) from people without reading
raw commits.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("commit_authors", sa.Column("is_bot", sa.Boolean(), server_default=sa.text("false"), nullable=False))
    op.execute(
        "UPDATE commit_authors a SET is_bot = true "
        "WHERE EXISTS (SELECT 1 FROM commits c JOIN repositories r ON r.id = c.repo_id AND r.source = 'github' "
        "WHERE c.author_id = a.author_id AND c.is_bot)"
    )


def downgrade() -> None:
    op.drop_column("commit_authors", "is_bot")

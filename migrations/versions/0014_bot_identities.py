"""bot identities: identities an admin marked as a bot (or un-marked), GitHub's noreply bot addresses as bots

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 10:15:00

`bot_identities (source, external_id)` holds the admin's word on one identity: `is_bot` true ("ignore as bot") or
false ("not a bot", overriding the default rule). The default rule needs no row: a GitHub `[bot]` login, an account
of type Bot, or a `…[bot]@users.noreply.github.com` address. `commits.is_bot` is the effective flag for a commit
(kept in step by the sync and by the Mappings page); bot commits that no rule attributes to an AI tool leave the
commit rollups (they are neither human commits nor part of any AI-share denominator), so both levels are recomputed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOREPLY_BOT = r"'\[bot\]@users\.noreply\.github\.com$'"
COMMIT_DAY = "(c.committed_at AT TIME ZONE 'UTC')::date"
COUNTED = "NOT (c.is_bot AND c.ai_tool IS NULL)"


def _rebuild(counted: str) -> None:
    op.execute("DELETE FROM commit_daily")
    op.execute(
        "INSERT INTO commit_daily (day, repo_id, ai_tool, commits, additions, deletions, without_stats, first_at, "
        f"last_at) SELECT {COMMIT_DAY}, c.repo_id, COALESCE(c.ai_tool, ''), COUNT(*), "
        "COALESCE(SUM(c.additions), 0), COALESCE(SUM(c.deletions), 0), "
        "COUNT(*) FILTER (WHERE c.additions IS NULL OR c.deletions IS NULL), MIN(c.committed_at), "
        f"MAX(c.committed_at) FROM commits c WHERE {counted} GROUP BY 1, 2, 3"
    )
    op.execute("DELETE FROM commit_author_daily")
    op.execute(
        "INSERT INTO commit_author_daily (day, repo_id, author, commits, ai_commits, last_at) "
        f"SELECT {COMMIT_DAY}, c.repo_id, COALESCE(c.author_email, 'github:' || c.author_id, ''), COUNT(*), "
        f"COUNT(c.ai_tool), MAX(c.committed_at) FROM commits c WHERE {counted} GROUP BY 1, 2, 3"
    )


def upgrade() -> None:
    op.create_table(
        "bot_identities",
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("external_id", sa.String(320), nullable=False),
        sa.Column("is_bot", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("source", "external_id", name=op.f("pk_bot_identities")),
    )
    op.execute(
        "CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON bot_identities "
        "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
    )
    op.execute(f"UPDATE commits SET is_bot = true WHERE NOT is_bot AND author_raw_email ~ {NOREPLY_BOT}")
    _rebuild(COUNTED)


def downgrade() -> None:
    _rebuild("TRUE")
    op.drop_table("bot_identities")

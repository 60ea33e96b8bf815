"""commit rollups: (day, repo, primary tool) sums, (day, repo, author) counts, and the lifetime per GitHub author

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 08:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DAY = "(c.committed_at AT TIME ZONE 'UTC')::date"


def upgrade() -> None:
    op.create_table(
        "commit_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("repo_id", sa.BigInteger(), nullable=False),
        sa.Column("ai_tool", sa.String(length=64), nullable=False),
        sa.Column("commits", sa.Integer(), nullable=False),
        sa.Column("additions", sa.BigInteger(), nullable=False),
        sa.Column("deletions", sa.BigInteger(), nullable=False),
        sa.Column("without_stats", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"], ["repositories.id"], name=op.f("fk_commit_daily_repo_id_repositories"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("day", "repo_id", "ai_tool", name=op.f("pk_commit_daily")),
    )
    op.create_index("ix_commit_daily_repo_day", "commit_daily", ["repo_id", "day"])
    op.create_table(
        "commit_author_daily",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("repo_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("commits", sa.Integer(), nullable=False),
        sa.Column("ai_commits", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["repo_id"],
            ["repositories.id"],
            name=op.f("fk_commit_author_daily_repo_id_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("day", "repo_id", "author", name=op.f("pk_commit_author_daily")),
    )
    op.create_index(
        "ix_commit_author_daily_repo_day",
        "commit_author_daily",
        ["repo_id", "day"],
        postgresql_include=["author", "commits", "ai_commits", "last_at"],
    )
    op.create_table(
        "commit_authors",
        sa.Column("author_id", sa.String(length=64), nullable=False),
        sa.Column("commits", sa.BigInteger(), nullable=False),
        sa.Column("sample_email", sa.String(length=255), nullable=True),
        sa.Column("login", sa.String(length=255), nullable=True),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_commit_authors")),
    )
    op.create_index("ix_commit_authors_commits", "commit_authors", ["commits", "author_id"])
    # Fill every level from the stored commits so an upgraded database is consistent at once.
    op.execute(
        "INSERT INTO commit_daily (day, repo_id, ai_tool, commits, additions, deletions, without_stats, first_at, "
        f"last_at) SELECT {DAY}, c.repo_id, COALESCE(c.ai_tool, ''), COUNT(*), COALESCE(SUM(c.additions), 0), "
        "COALESCE(SUM(c.deletions), 0), COUNT(*) FILTER (WHERE c.additions IS NULL OR c.deletions IS NULL), "
        "MIN(c.committed_at), MAX(c.committed_at) FROM commits c GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO commit_author_daily (day, repo_id, author, commits, ai_commits, last_at) "
        f"SELECT {DAY}, c.repo_id, COALESCE(c.author_email, 'github:' || c.author_id, ''), COUNT(*), "
        "COUNT(c.ai_tool), MAX(c.committed_at) FROM commits c GROUP BY 1, 2, 3"
    )
    op.execute(
        "INSERT INTO commit_authors (author_id, commits, sample_email, login, first_at, last_at) "
        "SELECT c.author_id, COUNT(*), MIN(c.author_raw_email), MIN(c.author_login), MIN(c.committed_at), "
        "MAX(c.committed_at) FROM commits c JOIN repositories r ON r.id = c.repo_id AND r.source = 'github' "
        "WHERE c.author_id IS NOT NULL GROUP BY c.author_id"
    )


def downgrade() -> None:
    op.drop_table("commit_authors")
    op.drop_table("commit_author_daily")
    op.drop_table("commit_daily")

"""teams and team members: GitHub org teams, CSV imports and admin edits merged (docs/schema.md, Teams)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 10:40:00

`source` says where a row came from: `github` (the hourly org-team sync owns it and may change or drop it),
`import` (abacus teams import) or `manual` (an admin on /teams or `abacus teams add`). A sync touches only its own
rows, so manual edits win. An admin removing a synced row leaves a tombstone (`removed_at`, source `manual`) so the
next sync does not bring it back. GitHub members whose login maps to no email are kept in `team_unmapped_members`
and listed on /teams until a mapping appears.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEAM_TABLES = ("teams", "team_members", "team_unmapped_members")


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("source IN ('github', 'import', 'manual')", name=op.f("ck_teams_source")),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_teams")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_slug", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("github_login", sa.String(length=100), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("role IN ('lead', 'member')", name=op.f("ck_team_members_role")),
        sa.CheckConstraint("source IN ('github', 'import', 'manual')", name=op.f("ck_team_members_source")),
        sa.ForeignKeyConstraint(
            ["team_slug"], ["teams.slug"], name=op.f("fk_team_members_team_slug_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_slug", "email", name=op.f("pk_team_members")),
    )
    op.create_index("ix_team_members_email", "team_members", ["email"])
    op.create_table(
        "team_unmapped_members",
        sa.Column("team_slug", sa.String(length=100), nullable=False),
        sa.Column("login", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("role IN ('lead', 'member')", name=op.f("ck_team_unmapped_members_role")),
        sa.ForeignKeyConstraint(
            ["team_slug"], ["teams.slug"], name=op.f("fk_team_unmapped_members_team_slug_teams"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("team_slug", "login", name=op.f("pk_team_unmapped_members")),
    )
    for table in TEAM_TABLES:
        op.execute(
            f"CREATE TRIGGER bump_data_version BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_data_version()"
        )


def downgrade() -> None:
    for table in TEAM_TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS bump_data_version ON {table}")
    op.drop_table("team_unmapped_members")
    op.drop_index("ix_team_members_email", table_name="team_members")
    op.drop_table("team_members")
    op.drop_table("teams")

"""The whole schema (docs/schema.md) as SQLAlchemy 2 models — the one home of every table."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

USAGE_KEY = ("date", "identity", "tool", "raw_model", "tool_record_id", "timestamp_ms", "organization_id")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _now() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


class UsageRecord(Base):
    """One provider record of tokens and cost; the dedupe key makes every ingest an idempotent upsert."""

    __tablename__ = "usage_records"
    __table_args__ = (
        UniqueConstraint(*USAGE_KEY, name="uq_usage_records_dedupe", postgresql_nulls_not_distinct=True),
        Index("ix_usage_records_email_date", "email", "date"),
        Index("ix_usage_records_identity", "identity"),
        Index("ix_usage_records_otel_date", "date", "email", postgresql_where=text("tool_record_id = 'otel'")),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    date: Mapped[date] = mapped_column(Date, nullable=False)
    identity: Mapped[str] = mapped_column(String(320), nullable=False)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    raw_model: Mapped[str | None] = mapped_column(String(128))
    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 6), nullable=False, server_default="0")
    tool_record_id: Mapped[str | None] = mapped_column(String(255))
    timestamp_ms: Mapped[int | None] = mapped_column(BigInteger)
    organization_id: Mapped[str | None] = mapped_column(String(64))
    customer_type: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class RollupSums:
    """The sums every rollup level keeps (exact SQL sums of usage_records for its key)."""

    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cache_write_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, server_default="0")
    record_count: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    thinking_records: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class UsageDaily(RollupSums, Base):
    """Rollup the pages read: exact sums of usage_records per (date, email, tool, model)."""

    __tablename__ = "usage_daily"
    __table_args__ = (
        # covering: a person's favourite model is read from the index alone
        Index("ix_usage_daily_email_date", "email", "date", postgresql_include=["model", "total_tokens"]),
        Index("ix_usage_daily_tool_date", "tool", "date"),
    )

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)


class UsageToolDaily(RollupSums, Base):
    """Second-level rollup without people: per (date, tool, model) — totals, charts and model breakdowns."""

    __tablename__ = "usage_tool_daily"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(128), primary_key=True)


class UsageUserDaily(RollupSums, Base):
    """Second-level rollup without models: per (date, email, tool) — people counts, team pivot, lifetime."""

    __tablename__ = "usage_user_daily"
    __table_args__ = (
        Index("ix_usage_user_daily_email_date", "email", "date"),
        Index("ix_usage_user_daily_tool_date", "tool", "date"),
        # "does this person use this tool in the range": one probe per (email, tool) of usage_user_tools
        Index("ix_usage_user_daily_email_tool_date", "email", "tool", "date"),
        # the few rows that belong to no person: status and mappings pages list them
        Index("ix_usage_user_daily_unmapped", "email", "date", postgresql_where=text("email LIKE 'unmapped:%'")),
    )

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)


class UsageToolTotalsDaily(RollupSums, Base):
    """Third-level rollup per (date, tool): the cards' and charts' sums, with the mapped part and the number of mapped
    people (rows of usage_user_daily with a person's email) of the day — a few rows a day, whatever the headcount."""

    __tablename__ = "usage_tool_totals_daily"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    mapped_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    mapped_cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, server_default="0")
    users: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")


class UsageUserTool(Base):
    """Lifetime span and sums per (email, tool): first and last day with a usage_user_daily row, all-time tokens, cost
    and records. Distinct people of a range are the pairs whose span starts or ends in it, plus those spanning it
    with a row inside (one index probe each); known emails and unmapped identities are a few thousand rows here."""

    __tablename__ = "usage_user_tools"

    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    first_date: Mapped[date] = mapped_column(Date, nullable=False)
    last_date: Mapped[date] = mapped_column(Date, nullable=False)
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, server_default="0")
    record_count: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class UsageToolWeeklyUsers(Base):
    """Distinct mapped people per Monday-start week and tool (weeks with at least one): the weekly people chart of
    long ranges reads whole weeks here and only its partial first and last weeks from usage_user_daily."""

    __tablename__ = "usage_tool_weekly_users"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    users: Mapped[int] = mapped_column(Integer, nullable=False)


class PersonPeriodSums:
    """What the per-person period levels (monthly, weekly) keep per (period, email, tool): the sums the people
    queries read and the first day of the period with usage."""

    input_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    output_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cache_read_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    total_tokens: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    cost: Mapped[Decimal] = mapped_column(Numeric(18, 6), nullable=False, server_default="0")
    thinking_records: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    first_date: Mapped[date] = mapped_column(Date, nullable=False)


class UsageUserMonthly(PersonPeriodSums, Base):
    """Per (calendar month, email, tool) sums of usage_user_daily, with the first day of the month with usage: long
    ranges read their whole months here and only the days at either end from usage_user_daily."""

    __tablename__ = "usage_user_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)


class UsagePersonMonthly(Base):
    """Days with usage (any tool) per (calendar month, email): active days of whole months without the tool fan-out."""

    __tablename__ = "usage_person_monthly"

    month: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, nullable=False)


class UsageUserWeekly(PersonPeriodSums, Base):
    """Per (Monday-start week, email, tool) sums of usage_user_daily, with the first day of the week with usage: the
    whole weeks of a range outside its whole months."""

    __tablename__ = "usage_user_weekly"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), primary_key=True)


class UsagePersonWeekly(Base):
    """Days with usage (any tool) per (Monday-start week, email)."""

    __tablename__ = "usage_person_weekly"

    week: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, nullable=False)


class IdentityMapping(Base):
    __tablename__ = "identity_mappings"
    __table_args__ = (Index("ix_identity_mappings_email", "email"),)

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    display_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    updated_by: Mapped[str | None] = mapped_column(String(255))


class BotIdentity(Base):
    """An admin's word on whether an identity is a bot: `is_bot` true ("ignore as bot") or false ("not a bot",
    overriding the default rule of `domain/identities.is_default_bot`)."""

    __tablename__ = "bot_identities"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(320), primary_key=True)
    is_bot: Mapped[bool] = mapped_column(Boolean, nullable=False)
    updated_by: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = _now()


class ActivityDaily(Base):
    """What the AI produced (docs/providers.md §8): one vendor daily aggregate per (tool, organization, identity, date),
    replaced whole for the days a sync re-reads, in the transaction that advances its sync state."""

    __tablename__ = "activity_daily"
    __table_args__ = (
        Index("ix_activity_daily_email_date", "email", "date"),
        Index("ix_activity_daily_date_tool", "date", "tool"),
        Index("ix_activity_daily_otel_date", "date", "email", postgresql_where=text("organization_id LIKE 'otel:%'")),
    )

    tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    organization_id: Mapped[str] = mapped_column(String(64), primary_key=True, server_default="")
    identity: Mapped[str] = mapped_column(String(320), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    sessions: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    lines_added: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    lines_removed: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    suggested: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    accepted: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    requests: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    commits: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    pull_requests: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")
    active: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    details: Mapped[dict[str, object] | None] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _now()


class Seat(Base):
    """A paid licence of one identity for one tool (Cursor member, Copilot seat): one open row per (tool,
    organization, identity); a seat the vendor no longer lists gets `ended_at`, so history stays true."""

    __tablename__ = "seats"
    __table_args__ = (
        Index(
            "uq_seats_open",
            "tool",
            "organization_id",
            "identity",
            unique=True,
            postgresql_where=text("ended_at IS NULL"),
        ),
        Index("ix_seats_email", "email"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    organization_id: Mapped[str] = mapped_column(String(64), nullable=False)
    identity: Mapped[str] = mapped_column(String(320), nullable=False)
    email: Mapped[str] = mapped_column(String(255), nullable=False)
    plan: Mapped[str | None] = mapped_column(String(32))
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_activity_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    price_usd: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False)
    seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, object] | None] = mapped_column(JSONB)


class Team(Base):
    """A team of people: from a GitHub org team (`source` github, owned by the hourly sync), a CSV import or an
    admin's edit; `removed_at` is an admin's removal of a synced team, kept so the next sync does not revive it."""

    __tablename__ = "teams"
    __table_args__ = (CheckConstraint("source IN ('github', 'import', 'manual')", name="source"),)

    slug: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TeamMember(Base):
    """One person (by email) in one team, as `lead` or `member`; a person may be in several teams. Rows of source
    `github` belong to the sync; `import` and `manual` rows are never changed by it (manual edits win)."""

    __tablename__ = "team_members"
    __table_args__ = (
        CheckConstraint("role IN ('lead', 'member')", name="role"),
        CheckConstraint("source IN ('github', 'import', 'manual')", name="source"),
        Index("ix_team_members_email", "email"),
    )

    team_slug: Mapped[str] = mapped_column(ForeignKey("teams.slug", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(255), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    source: Mapped[str] = mapped_column(String(16), nullable=False)
    github_login: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = _now()
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class TeamUnmappedMember(Base):
    """A GitHub team member whose login maps to no email yet: listed on /teams, resolved by a later sync."""

    __tablename__ = "team_unmapped_members"
    __table_args__ = (CheckConstraint("role IN ('lead', 'member')", name="role"),)

    team_slug: Mapped[str] = mapped_column(ForeignKey("teams.slug", ondelete="CASCADE"), primary_key=True)
    login: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    seen_at: Mapped[datetime] = _now()


class SyncState(Base):
    __tablename__ = "sync_state"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_sync_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_cursor: Mapped[str | None] = mapped_column(Text)
    last_synced_hour_end: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    backfill_oldest_date: Mapped[date | None] = mapped_column(Date)
    backfill_complete: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    records_last_run: Mapped[int | None] = mapped_column(Integer)


class Repository(Base):
    __tablename__ = "repositories"
    __table_args__ = (UniqueConstraint("source", "full_name", name="uq_repositories_source_full_name"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), nullable=False, server_default="github")
    full_name: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = _now()


class Commit(Base):
    __tablename__ = "commits"
    __table_args__ = (
        UniqueConstraint("repo_id", "commit_id", name="uq_commits_repo_sha"),
        Index("ix_commits_author_email", "author_email"),
        Index("ix_commits_author_id", "author_id"),
        Index("ix_commits_committed_at", "committed_at"),
        Index("ix_commits_repo_committed_at", "repo_id", "committed_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), nullable=False)
    commit_id: Mapped[str] = mapped_column(String(64), nullable=False)
    author_email: Mapped[str | None] = mapped_column(String(255))
    author_id: Mapped[str | None] = mapped_column(String(64))
    committed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    message: Mapped[str | None] = mapped_column(Text)
    author_login: Mapped[str | None] = mapped_column(String(255))
    author_raw_email: Mapped[str | None] = mapped_column(String(255))
    is_bot: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    ai_tool: Mapped[str | None] = mapped_column(String(64))
    ai_model: Mapped[str | None] = mapped_column(String(128))
    additions: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = _now()


class CommitDaily(Base):
    """Commits per (UTC day, repository, primary tool; '' = human): counts and line sums (docs/schema.md §6.1)."""

    __tablename__ = "commit_daily"
    __table_args__ = (Index("ix_commit_daily_repo_day", "repo_id", "day"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    repo_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    ai_tool: Mapped[str] = mapped_column(String(64), primary_key=True)
    commits: Mapped[int] = mapped_column(Integer, nullable=False)
    additions: Mapped[int] = mapped_column(BigInteger, nullable=False)
    deletions: Mapped[int] = mapped_column(BigInteger, nullable=False)
    without_stats: Mapped[int] = mapped_column(Integer, nullable=False)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CommitAuthorDaily(Base):
    """Commits per (UTC day, repository, author key: email, else `github:<id>`, else '')."""

    __tablename__ = "commit_author_daily"
    __table_args__ = (
        Index(
            "ix_commit_author_daily_repo_day",
            "repo_id",
            "day",
            postgresql_include=["author", "commits", "ai_commits", "last_at"],
        ),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    repo_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("repositories.id", ondelete="CASCADE"), primary_key=True
    )
    author: Mapped[str] = mapped_column(String(320), primary_key=True)
    commits: Mapped[int] = mapped_column(Integer, nullable=False)
    ai_commits: Mapped[int] = mapped_column(Integer, nullable=False)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CommitAuthor(Base):
    """Lifetime commits per GitHub author id over `github` repositories (M-UNMAPPED-GH)."""

    __tablename__ = "commit_authors"
    __table_args__ = (Index("ix_commit_authors_commits", "commits", "author_id"),)

    author_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    commits: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sample_email: Mapped[str | None] = mapped_column(String(255))
    login: Mapped[str | None] = mapped_column(String(255))
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    is_bot: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default="false")
    """bool_or of `commits.is_bot`: this author's commits are a bot's."""


class CommitAttribution(Base):
    __tablename__ = "commit_attributions"
    __table_args__ = (UniqueConstraint("commit_id", "ai_tool", name="uq_commit_attributions_commit_tool"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    commit_id: Mapped[int] = mapped_column(ForeignKey("commits.id", ondelete="CASCADE"), nullable=False)
    ai_tool: Mapped[str] = mapped_column(String(64), nullable=False)
    ai_model: Mapped[str | None] = mapped_column(String(128))
    confidence: Mapped[str] = mapped_column(String(32), nullable=False, server_default="detected")
    source: Mapped[str] = mapped_column(String(32), nullable=False)
    created_at: Mapped[datetime] = _now()


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"

    delivery_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    event: Mapped[str] = mapped_column(String(64), nullable=False)
    received_at: Mapped[datetime] = _now()
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(32), nullable=False, server_default="received")
    error: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """One admin change: who did what to which target, with the state before and after (services/audit.py)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_at", text("at DESC"), text("id DESC")),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = _now()
    actor: Mapped[str] = mapped_column(String(320), nullable=False)
    action: Mapped[str] = mapped_column(String(64), nullable=False)
    target: Mapped[str] = mapped_column(String(512), nullable=False)
    before: Mapped[object | None] = mapped_column(JSONB)
    after: Mapped[object | None] = mapped_column(JSONB)
    request_id: Mapped[str | None] = mapped_column(String(64))


class Budget(Base):
    """A monthly spending cap of one scope (org, a team or a person) for one tool or `all` (docs/metrics.md §12)."""

    __tablename__ = "budgets"
    __table_args__ = (
        CheckConstraint("scope IN ('org', 'team', 'person')", name="scope"),
        CheckConstraint("amount_usd > 0", name="amount_positive"),
        CheckConstraint("scope <> 'org' OR scope_id = ''", name="org_has_no_scope_id"),
        UniqueConstraint("scope", "scope_id", "tool", name="uq_budgets_scope"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), nullable=False)
    scope_id: Mapped[str] = mapped_column(String(320), nullable=False)
    """'' for org, a team slug, or a person's email."""
    tool: Mapped[str] = mapped_column(String(64), nullable=False)
    """A tool key, or `all`."""
    amount_usd: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    thresholds: Mapped[list[int]] = mapped_column(
        ARRAY(SmallInteger), nullable=False, server_default=text("'{50,80,100}'")
    )
    include_seats: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("false"))
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(16)), nullable=False, server_default=text("'{}'"))
    created_by: Mapped[str] = mapped_column(String(320), nullable=False)
    updated_by: Mapped[str] = mapped_column(String(320), nullable=False)
    created_at: Mapped[datetime] = _now()
    updated_at: Mapped[datetime] = _now()


class Alert(Base):
    """One threshold crossing (or the first at-risk forecast) of a budget in one month: created once, ever."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("extract(day FROM month) = 1", name="month_first_day"),
        UniqueConstraint("budget_id", "month", "kind", name="uq_alerts_budget_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    budget_id: Mapped[int] = mapped_column(ForeignKey("budgets.id", ondelete="CASCADE"), nullable=False)
    month: Mapped[date] = mapped_column(Date, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    spent_usd: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    forecast_usd: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    amount_usd: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(16)), nullable=False, server_default=text("'{}'"))
    """The budget's channels when the alert fired: where it is delivered."""
    created_at: Mapped[datetime] = _now()


class AlertDelivery(Base):
    """One attempt to deliver an alert to one channel; at most one `sent` row per (alert, channel)."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        CheckConstraint("status IN ('sent', 'failed')", name="status"),
        Index("ix_alert_deliveries_alert", "alert_id", "channel"),
        Index("ix_alert_deliveries_channel_at", "channel", "at"),
        Index(
            "uq_alert_deliveries_sent",
            "alert_id",
            "channel",
            unique=True,
            postgresql_where=text("status = 'sent'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    attempt: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    http_status: Mapped[int | None] = mapped_column(SmallInteger)
    error: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = _now()


class OtelPoint(Base):
    """One OpenTelemetry data point as received over OTLP/HTTP (docs/schema.md), unique per (organisation label,
    series, start, time) so a repeated export changes nothing. `delta` is what the point adds: its value for delta
    temporality, the increase since the previous point of the same (series, start) for cumulative (a drop is a
    restart: the value itself); NULL for a cumulative point until the rebuild job settles it (provisional.py)."""

    __tablename__ = "otel_points"
    __table_args__ = (
        UniqueConstraint("organization_label", "series_key", "start_ns", "time_ns", name="uq_otel_points_point"),
        Index("ix_otel_points_date_identity", "date", "identity"),
        Index("ix_otel_points_observed_at", "observed_at"),
        Index(
            "ix_otel_points_pending",
            "organization_label",
            "series_key",
            "start_ns",
            postgresql_where=text("delta IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    organization_label: Mapped[str] = mapped_column(String(64), nullable=False)
    series_key: Mapped[str] = mapped_column(String(64), nullable=False)
    start_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    time_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    observed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    date: Mapped[date] = mapped_column(Date, nullable=False)
    metric: Mapped[str] = mapped_column(String(128), nullable=False)
    cumulative: Mapped[bool] = mapped_column(Boolean, nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    delta: Mapped[float | None] = mapped_column(Float)
    identity: Mapped[str | None] = mapped_column(String(320))
    model: Mapped[str | None] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(64))
    attributes: Mapped[dict[str, object]] = mapped_column(JSONB, nullable=False)
    received_at: Mapped[datetime] = _now()


class OtelDirtyDay(Base):
    """A (day, OTel identity) whose provisional rows are stale: one mark per (export, day, identity), written with the
    points, deleted by the rebuild that read it (provisional.py), so a point is never left out of its day if a worker
    dies. A NULL identity marks the whole day."""

    __tablename__ = "otel_dirty_days"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    date: Mapped[date] = mapped_column(Date, nullable=False)
    identity: Mapped[str | None] = mapped_column(String(320))
    marked_at: Mapped[datetime] = _now()
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default="0")
    """Rebuilds of this (day, identity) that failed; > 0 holds the mark back for a growing pause (provisional.py)."""
    failed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class DataVersion(Base):
    """The single row every writer of page data moves in its own transaction (statement triggers of migration
    0013), so the page cache (queries/cache.py) never serves figures older than the committed data."""

    __tablename__ = "data_version"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    epoch: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False, server_default=text("gen_random_uuid()"))
    """Random per database: a database dropped and made again never reads the old one's cache entries."""
    version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    bumped_by: Mapped[int | None] = mapped_column(BigInteger)
    """The transaction that moved `version` last (it moves once per writing transaction)."""
    live_version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default=text("0"))
    """Moved instead of `version` by a transaction marked as re-deriving live telemetry only (migration 0021)."""
    live_bumped_by: Mapped[int | None] = mapped_column(BigInteger)

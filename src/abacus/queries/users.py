"""One person's usage (docs/metrics.md §4.2 "User detail", M-USER-COMMITS, M-PERCENTILE): the user page and its JSON.

Every statement aggregates in SQL over a rollup: `usage_user_daily` (per date, email, tool) where no model is needed,
`usage_daily` for the model breakdowns; the raw-usage list pages through the person's `usage_records` rows. Emails are
compared lower-cased.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange, percentile, round_half_up
from abacus.domain.tools import CLAUDE_CODE, CURSOR
from abacus.domain.usage import rate_percent
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.cache import cached
from abacus.queries.usage import ModelToolRow

MODELS_SHOWN = 9
RAW_PAGE_SIZE = 50
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


# --- who: full email or local part -----------------------------------------------------------------------------

LOCAL_PART_SQL = text(r"""
WITH RECURSIVE usage_emails(email) AS (  -- one row per (email, tool) with usage
  SELECT email FROM usage_user_tools
), author_emails(email) AS (
  (SELECT author_email FROM commits WHERE author_email IS NOT NULL ORDER BY author_email LIMIT 1)
  UNION ALL
  SELECT (SELECT c.author_email FROM commits c WHERE c.author_email > a.email ORDER BY c.author_email LIMIT 1)
  FROM author_emails a WHERE a.email IS NOT NULL
)
SELECT email FROM (
  SELECT email FROM usage_emails
  UNION SELECT email FROM author_emails
  UNION SELECT email FROM identity_mappings
  UNION SELECT email FROM seats
) known
WHERE email IS NOT NULL AND email NOT LIKE 'unmapped:%' AND split_part(email, '@', 1) = :local
ORDER BY email COLLATE "C"
""")


async def emails_with_local_part(db: AsyncSession, local: str) -> list[str]:
    """Known emails (usage, commit authors, mappings, seats) whose part before `@` is `local` (lower-cased)."""
    rows = await db.execute(LOCAL_PART_SQL, {"local": local.lower()})
    return [r.email for r in rows]


# --- header: lifetime (not range-bound) --------------------------------------------------------------------------


@dataclass(frozen=True)
class UserLifetime:
    """M-USER-LIFE, M-USER-FAV-TOOL and the record day; `known` = the email appears in usage, commits, mappings,
    seats or activity (someone known only through Copilot has a page too)."""

    known: bool
    tokens: int
    cost: Decimal
    since: date | None
    last_seen: date | None
    favorite_tool: str | None
    record_day: date | None
    record_tokens: int


LIFETIME_SQL = text("""
WITH mine AS (SELECT date, tool, total_tokens, cost FROM usage_user_daily WHERE email = :email),
per_day AS (SELECT date, SUM(total_tokens) AS tokens FROM mine GROUP BY date ORDER BY tokens DESC, date ASC LIMIT 1),
per_tool AS (SELECT tool FROM mine GROUP BY tool ORDER BY SUM(total_tokens) DESC, tool COLLATE "C" ASC LIMIT 1)
SELECT
  EXISTS (SELECT 1 FROM mine)
    OR EXISTS (SELECT 1 FROM commits WHERE author_email = :email)
    OR EXISTS (SELECT 1 FROM identity_mappings WHERE email = :email)
    OR EXISTS (SELECT 1 FROM seats WHERE email = :email)
    OR EXISTS (SELECT 1 FROM activity_daily WHERE email = :email) AS known,
  (SELECT COALESCE(SUM(total_tokens), 0) FROM mine) AS tokens,
  (SELECT COALESCE(SUM(cost), 0) FROM mine) AS cost,
  (SELECT MIN(date) FROM mine) AS since,
  (SELECT MAX(date) FROM mine) AS last_seen,
  (SELECT tool FROM per_tool) AS favorite_tool,
  (SELECT date FROM per_day) AS record_day,
  (SELECT COALESCE(tokens, 0) FROM per_day) AS record_tokens
""")


async def user_lifetime(db: AsyncSession, email: str) -> UserLifetime:
    """All-time figures of one person (one statement); `known` is False for an email nobody has seen."""
    row = (await db.execute(LIFETIME_SQL, {"email": email})).one()
    return UserLifetime(
        known=bool(row.known),
        tokens=int(row.tokens),
        cost=Decimal(row.cost),
        since=row.since,
        last_seen=row.last_seen,
        favorite_tool=row.favorite_tool,
        record_day=row.record_day,
        record_tokens=int(row.record_tokens or 0),
    )


# --- the one user lookup: a path segment → the person ------------------------------------------------------------


@dataclass(frozen=True)
class UserMatch:
    """Who a `/users/{email}` segment names. `email` is the full lower-cased address (the one given, or the single
    known email with the given local part), None when the local part names nobody or several people (`candidates`
    then lists them); `lifetime` is that person's all-time figures (None without an email)."""

    email: str | None
    candidates: list[str]
    lifetime: UserLifetime | None = None

    @property
    def known(self) -> bool:
        """The email appears in usage, commits or mappings (else the page and JSON answer 404)."""
        return self.lifetime is not None and self.lifetime.known


@cached
async def find_user(db: AsyncSession, segment: str, viewer: Viewer = EVERYONE) -> UserMatch:
    """The person a user page or `/api/v1/users/{email}` segment names: a full email (any case, trimmed), or a bare
    local part that exactly one known email has. People `viewer` may not see are not found (docs/security.md §6)."""
    who = segment.strip().lower()
    if "@" not in who:
        found = await emails_with_local_part(db, who) if who else []
        candidates = [email for email in found if viewer.sees(email)]
        if len(candidates) != 1:
            return UserMatch(None, candidates)
        who = candidates[0]
        return UserMatch(who, candidates, await user_lifetime(db, who))
    if not viewer.sees(who):
        return UserMatch(None, [])
    return UserMatch(who, [], await user_lifetime(db, who))


# --- overview: range-bound ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UserSummary:
    tokens: int
    cost: Decimal
    claude_code_tokens: int
    cursor_tokens: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    first_active: date | None
    last_active: date | None
    days_active: int
    previous_tokens: int
    previous_cost: Decimal

    @property
    def avg_per_day(self) -> int:
        """Tokens per *active* day: round(Σ tok / max(days active, 1))."""
        return round_half_up(Fraction(self.tokens, max(self.days_active, 1)))

    @property
    def cost_per_day(self) -> Decimal:
        """Σ cost / max(days active, 1), unrounded (formatted as "$X.XX/day avg")."""
        return self.cost / max(self.days_active, 1)


SUMMARY_SQL = text("""
SELECT
  COALESCE(SUM(total_tokens) FILTER (WHERE date >= :start), 0) AS tokens,
  COALESCE(SUM(cost) FILTER (WHERE date >= :start), 0) AS cost,
  COALESCE(SUM(total_tokens) FILTER (WHERE date >= :start AND tool = :claude_code), 0) AS claude_code_tokens,
  COALESCE(SUM(total_tokens) FILTER (WHERE date >= :start AND tool = :cursor), 0) AS cursor_tokens,
  COALESCE(SUM(input_tokens) FILTER (WHERE date >= :start), 0) AS input_tokens,
  COALESCE(SUM(output_tokens) FILTER (WHERE date >= :start), 0) AS output_tokens,
  COALESCE(SUM(cache_read_tokens) FILTER (WHERE date >= :start), 0) AS cache_read_tokens,
  MIN(date) FILTER (WHERE date >= :start) AS first_active,
  MAX(date) FILTER (WHERE date >= :start) AS last_active,
  COUNT(DISTINCT date) FILTER (WHERE date >= :start) AS days_active,
  COALESCE(SUM(total_tokens) FILTER (WHERE date < :start), 0) AS previous_tokens,
  COALESCE(SUM(cost) FILTER (WHERE date < :start), 0) AS previous_cost
FROM usage_user_daily
WHERE email = :email AND date BETWEEN :previous_start AND :end
""")


async def user_summary(db: AsyncSession, email: str, rng: DateRange) -> UserSummary:
    """The range's sums for one person plus the previous period's tokens and cost (one statement)."""
    row = (
        await db.execute(
            SUMMARY_SQL,
            {
                "email": email,
                "start": rng.start,
                "end": rng.end,
                "previous_start": rng.previous().start,
                "claude_code": CLAUDE_CODE,
                "cursor": CURSOR,
            },
        )
    ).one()
    return UserSummary(
        tokens=int(row.tokens),
        cost=Decimal(row.cost),
        claude_code_tokens=int(row.claude_code_tokens),
        cursor_tokens=int(row.cursor_tokens),
        input_tokens=int(row.input_tokens),
        output_tokens=int(row.output_tokens),
        cache_read_tokens=int(row.cache_read_tokens),
        first_active=row.first_active,
        last_active=row.last_active,
        days_active=int(row.days_active),
        previous_tokens=int(row.previous_tokens),
        previous_cost=Decimal(row.previous_cost),
    )


MODELS_SQL = text("""
SELECT model, tool, SUM(total_tokens) AS tokens, SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens, SUM(cost) AS cost
FROM usage_daily
WHERE email = :email AND date BETWEEN :start AND :end
GROUP BY model, tool
ORDER BY tokens DESC, model COLLATE "C" ASC, tool COLLATE "C" ASC
""")


async def user_models(db: AsyncSession, email: str, rng: DateRange) -> list[ModelToolRow]:
    """M-MODEL-TOOL for one person: every (model, tool) pair in the range, tokens desc."""
    rows = await db.execute(MODELS_SQL, {"email": email, "start": rng.start, "end": rng.end})
    return [
        ModelToolRow(r.model, r.tool, int(r.tokens), int(r.input_tokens), int(r.output_tokens), Decimal(r.cost))
        for r in rows
    ]


@dataclass(frozen=True)
class ToolUsage:
    tool: str
    tokens: int
    cost: Decimal
    share: Fraction
    """Share of the person's tokens in percent (0 when they have none)."""


def tool_usage(models: Sequence[ModelToolRow]) -> list[ToolUsage]:
    """Per tool tokens and cost (the model rows summed by tool), tokens desc then tool key."""
    tokens: dict[str, int] = {}
    cost: dict[str, Decimal] = {}
    for m in models:
        tokens[m.tool] = tokens.get(m.tool, 0) + m.tokens
        cost[m.tool] = cost.get(m.tool, Decimal(0)) + m.cost
    total = sum(tokens.values())
    return [
        ToolUsage(tool, tokens[tool], cost[tool], Fraction(tokens[tool] * 100, total) if total else Fraction(0))
        for tool in sorted(tokens, key=lambda t: (-tokens[t], t))
    ]


@dataclass(frozen=True)
class DailyUsage:
    day: date
    tools: dict[str, int]
    input_tokens: int
    output_tokens: int
    cost: Decimal

    @property
    def tokens(self) -> int:
        return sum(self.tools.values())


DAILY_SQL = text("""
SELECT date, tool, SUM(total_tokens) AS tokens, SUM(input_tokens) AS input_tokens,
       SUM(output_tokens) AS output_tokens, SUM(cost) AS cost
FROM usage_user_daily
WHERE email = :email AND date BETWEEN :start AND :end
GROUP BY date, tool
""")


async def user_daily(db: AsyncSession, email: str, rng: DateRange) -> list[DailyUsage]:
    """One point per day of the range (zero-filled), tokens per tool, input/output tokens and cost."""
    rows = (await db.execute(DAILY_SQL, {"email": email, "start": rng.start, "end": rng.end})).all()
    by_day: dict[date, list[Any]] = {}
    for r in rows:
        by_day.setdefault(r.date, []).append(r)
    series = []
    for day in rng.iter_days():
        found = by_day.get(day, [])
        series.append(
            DailyUsage(
                day=day,
                tools={r.tool: int(r.tokens) for r in found},
                input_tokens=sum(int(r.input_tokens) for r in found),
                output_tokens=sum(int(r.output_tokens) for r in found),
                cost=sum((Decimal(r.cost) for r in found), Decimal(0)),
            )
        )
    return series


def weekly_pattern(series: Sequence[DailyUsage]) -> list[tuple[str, int]]:
    """Tokens per UTC weekday over the series, Sun…Sat."""
    totals = [0] * 7
    for point in series:
        totals[(point.day.weekday() + 1) % 7] += point.tokens
    return list(zip(WEEKDAYS, totals, strict=True))


@dataclass(frozen=True)
class CommitToolCount:
    tool: str
    commits: int
    additions: int
    deletions: int


@dataclass(frozen=True)
class UserCommits:
    """M-USER-COMMITS: the person's commits (author_email) in the range's UTC commit window."""

    total: int
    ai: int
    tools: list[CommitToolCount]

    @property
    def rate(self) -> int:
        return rate_percent(self.ai, self.total)


COMMITS_SQL = text("""
SELECT ai_tool, COUNT(*) AS commits, COALESCE(SUM(additions), 0) AS additions,
       COALESCE(SUM(deletions), 0) AS deletions
FROM commits
WHERE author_email = :email AND committed_at >= :lower AND committed_at < :upper
GROUP BY ai_tool
ORDER BY commits DESC, ai_tool COLLATE "C" ASC
""")


async def user_commits(db: AsyncSession, email: str, rng: DateRange) -> UserCommits:
    lower, upper = rng.commit_bounds()
    rows = (await db.execute(COMMITS_SQL, {"email": email, "lower": lower, "upper": upper})).all()
    tools = [
        CommitToolCount(r.ai_tool, int(r.commits), int(r.additions), int(r.deletions))
        for r in rows
        if r.ai_tool is not None
    ]
    return UserCommits(total=sum(int(r.commits) for r in rows), ai=sum(t.commits for t in tools), tools=tools)


@dataclass(frozen=True)
class UserOverview:
    summary: UserSummary
    models: list[ModelToolRow]
    tools: list[ToolUsage]
    daily: list[DailyUsage]
    commits: UserCommits


@cached
async def user_overview(db: AsyncSession, email: str, rng: DateRange) -> UserOverview:
    """Everything the Overview tab shows for the range (four aggregate statements)."""
    summary = await user_summary(db, email, rng)
    models = await user_models(db, email, rng)
    daily = await user_daily(db, email, rng)
    commits = await user_commits(db, email, rng)
    return UserOverview(summary=summary, models=models, tools=tool_usage(models), daily=daily, commits=commits)


# --- raw usage ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawRecord:
    id: int
    date: date
    tool: str
    model: str
    total_tokens: int
    cost: Decimal


@dataclass(frozen=True)
class RawUsageFilters:
    """Tools and models present for the person in the range (the filter selects' options)."""

    tools: list[str]
    models: list[str]


@dataclass(frozen=True)
class RawUsagePage:
    records: list[RawRecord]
    total_count: int


FILTERS_SQL = text("""
SELECT DISTINCT tool, model FROM usage_daily WHERE email = :email AND date BETWEEN :start AND :end
""")


@cached
async def raw_usage_filters(db: AsyncSession, email: str, rng: DateRange) -> RawUsageFilters:
    rows = (await db.execute(FILTERS_SQL, {"email": email, "start": rng.start, "end": rng.end})).all()
    return RawUsageFilters(tools=sorted({r.tool for r in rows}), models=sorted({r.model for r in rows}))


RAW_COLUMNS = (
    "id, date, tool, model, input_tokens + cache_write_tokens + cache_read_tokens + output_tokens AS tokens, cost"
)


def _raw_where(tool: str | None, model: str | None) -> str:
    clauses = ["email = :email", "date BETWEEN :start AND :end"]
    if tool is not None:
        clauses.append("tool = :tool")
    if model is not None:
        clauses.append("model = :model")
    return " WHERE " + " AND ".join(clauses)


@cached
async def raw_usage(
    db: AsyncSession,
    email: str,
    rng: DateRange,
    *,
    tool: str | None = None,
    model: str | None = None,
    limit: int = RAW_PAGE_SIZE,
    offset: int = 0,
) -> RawUsagePage:
    """The person's usage rows in the range (exact tool/model filters), date desc then id desc, one slice, and
    how many rows match the filters."""
    params: dict[str, Any] = {"email": email, "start": rng.start, "end": rng.end}
    if tool is not None:
        params["tool"] = tool
    if model is not None:
        params["model"] = model
    where = _raw_where(tool, model)
    total = int((await db.execute(text("SELECT COUNT(*) FROM usage_records" + where), params)).scalar_one())
    records: list[RawRecord] = []
    if total > offset:
        statement = f"SELECT {RAW_COLUMNS} FROM usage_records{where} ORDER BY date DESC, id DESC"
        rows = await db.execute(
            text(statement + " LIMIT :limit OFFSET :offset"), {**params, "limit": limit, "offset": offset}
        )
        records = [RawRecord(int(r.id), r.date, r.tool, r.model, int(r.tokens), Decimal(r.cost)) for r in rows]
    return RawUsagePage(records=records, total_count=total)


# --- percentile (JSON only) -------------------------------------------------------------------------------------

SCORES_SQL = text("""
SELECT email, SUM(total_tokens) AS tokens, COUNT(DISTINCT date) AS days
FROM usage_user_daily
WHERE date BETWEEN :start AND :end AND email NOT LIKE 'unmapped:%'
GROUP BY email
HAVING COUNT(DISTINCT date) >= 2
""")


@cached
async def user_percentile(db: AsyncSession, email: str, rng: DateRange) -> int:
    """M-PERCENTILE: the person's rank by tokens per active day among mapped users with ≥ 2 active days."""
    rows = (await db.execute(SCORES_SQL, {"start": rng.start, "end": rng.end})).all()
    scores = {r.email: Fraction(int(r.tokens), int(r.days)) for r in rows}
    return percentile(scores, email)

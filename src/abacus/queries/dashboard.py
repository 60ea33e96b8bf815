"""Read side of the Overview dashboard: the range's usage figures plus the commits card (docs/metrics.md §1–§6)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import borrowed_session, concurrently
from abacus.domain.periods import DateRange, Delta, rate_delta
from abacus.domain.usage import rate_percent
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.cache import cached
from abacus.queries.usage import (
    DailyUsage,
    HiddenPeople,
    ModelBreakdown,
    TopUser,
    UsageTotals,
    daily_usage_by_tool,
    hidden_usage,
    model_breakdown,
    top_users,
    usage_totals,
)


@dataclass(frozen=True)
class CommitSummary:
    """M-COMMITS, M-AI-COMMITS, M-AI-RATE of a range, the previous period's, and AI commits per primary tool."""

    total: int = 0
    ai: int = 0
    prev_total: int = 0
    prev_ai: int = 0
    tools: list[tuple[str, int]] = field(default_factory=list)
    """(tool, AI commits) commits desc, ties by tool key."""

    @property
    def rate(self) -> int:
        """M-AI-RATE."""
        return rate_percent(self.ai, self.total)

    @property
    def rate_delta(self) -> Delta | None:
        """Change of the AI rate in percentage points; None under 1 pp or with no previous commits."""
        return rate_delta(self.ai, self.total, self.prev_ai, self.prev_total)

    def tool_share(self, commits: int) -> int:
        """M-COMMIT-TOOLS share: tool commits / AI commits, integer %."""
        return rate_percent(commits, self.ai)


COMMIT_SUMMARY_SQL = text("""
SELECT
  NULLIF(ai_tool, '') AS ai_tool,
  GROUPING(ai_tool) AS is_total,
  COALESCE(SUM(commits) FILTER (WHERE day >= :lo), 0) AS total,
  COALESCE(SUM(commits) FILTER (WHERE day >= :lo AND ai_tool <> ''), 0) AS ai,
  COALESCE(SUM(commits) FILTER (WHERE day < :lo), 0) AS prev_total,
  COALESCE(SUM(commits) FILTER (WHERE day < :lo AND ai_tool <> ''), 0) AS prev_ai
FROM commit_daily
WHERE day >= :prev_lo AND day < :hi
GROUP BY GROUPING SETS ((ai_tool), ())
""")
"""From the (day, repository, tool) commit rollup: `day >= S AND day < E + 1` is the UTC commit window."""

TEAM_COMMIT_SUMMARY_SQL = text("""
WITH c AS (  -- the team's members' commits, counted as the commit rollups count them (a bot's only when AI)
  SELECT (committed_at AT TIME ZONE 'UTC')::date AS day, COALESCE(ai_tool, '') AS ai_tool
  FROM commits
  WHERE NOT (is_bot AND ai_tool IS NULL)
    AND committed_at >= CAST(:prev_lo AS date) AT TIME ZONE 'UTC'
    AND committed_at < CAST(:hi AS date) AT TIME ZONE 'UTC'
    AND author_email IN (
        SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL)
)
SELECT
  NULLIF(ai_tool, '') AS ai_tool,
  GROUPING(ai_tool) AS is_total,
  COUNT(*) FILTER (WHERE day >= :lo) AS total,
  COUNT(*) FILTER (WHERE day >= :lo AND ai_tool <> '') AS ai,
  COUNT(*) FILTER (WHERE day < :lo) AS prev_total,
  COUNT(*) FILTER (WHERE day < :lo AND ai_tool <> '') AS prev_ai
FROM c
GROUP BY GROUPING SETS ((ai_tool), ())
""")
"""COMMIT_SUMMARY_SQL over one team's members (docs/pages.md §1.3): commits whose author email is a member's."""


async def commit_summary(db: AsyncSession, rng: DateRange, team_slug: str | None = None) -> CommitSummary:
    """Commit counts of the range (UTC half-open window) and of the previous period, one statement; with
    `team_slug`, the commits of that team's members only."""
    params = {"lo": rng.start, "hi": rng.end + timedelta(days=1), "prev_lo": rng.previous().start}
    if team_slug is None:
        rows = (await db.execute(COMMIT_SUMMARY_SQL, params)).all()
    else:
        rows = (await db.execute(TEAM_COMMIT_SUMMARY_SQL, {**params, "team_slug": team_slug})).all()
    summary = CommitSummary()
    tools: list[tuple[str, int]] = []
    for row in rows:
        if row.is_total:
            summary = CommitSummary(
                total=int(row.total), ai=int(row.ai), prev_total=int(row.prev_total), prev_ai=int(row.prev_ai)
            )
        elif row.ai_tool is not None and row.total:
            tools.append((row.ai_tool, int(row.total)))
    tools.sort(key=lambda item: (-item[1], item[0]))
    return CommitSummary(summary.total, summary.ai, summary.prev_total, summary.prev_ai, tools)


@dataclass(frozen=True)
class DashboardData:
    totals: UsageTotals
    daily: DailyUsage
    models: ModelBreakdown
    users: list[TopUser]
    commits: CommitSummary
    others: HiddenPeople | None = None
    """The people with usage the viewer may not see, as one row under the top users (docs/security.md §6)."""


@cached
async def dashboard_data(
    sessionmaker: async_sessionmaker[AsyncSession],
    rng: DateRange,
    team_slug: str | None = None,
    viewer: Viewer = EVERYONE,
) -> DashboardData:
    """Everything sections 2–7 of the dashboard show for `rng`: five aggregate statements, run concurrently;
    `team_slug` restricts each to that team's members; the top users are those `viewer` may see, the others one row."""
    team = team_slug
    totals, daily, models, users, commits = await concurrently(
        sessionmaker,
        lambda db: usage_totals(db, rng, team),
        lambda db: daily_usage_by_tool(db, rng, team),
        lambda db: model_breakdown(db, rng, team),
        lambda db: top_users(db, rng, 10, team, viewer),
        lambda db: commit_summary(db, rng, team),
    )
    async with borrowed_session(sessionmaker) as db:
        others = await hidden_usage(db, rng, viewer, team)
    return DashboardData(totals=totals, daily=daily, models=models, users=users, commits=commits, others=others)

"""Lifetime (not range-bound) figures: the dashboard strip and System Stats (docs/metrics.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.queries.cache import cached


@dataclass(frozen=True)
class Lifetime:
    tokens: int
    cost: Decimal
    users: int
    since: date | None
    commits: int
    ai_commits: int
    repos: int


LIFETIME_SQL = text("""
SELECT
  (SELECT COALESCE(SUM(total_tokens), 0) FROM usage_tool_totals_daily) AS tokens,
  (SELECT COALESCE(SUM(cost), 0) FROM usage_tool_totals_daily) AS cost,
  (SELECT COUNT(DISTINCT email) FROM usage_user_tools WHERE email NOT LIKE 'unmapped:%') AS users,
  (SELECT MIN(date) FROM usage_tool_totals_daily) AS since,
  commit_counts.commits,
  commit_counts.ai_commits,
  (SELECT COUNT(*) FROM repositories) AS repos
FROM (SELECT COALESCE(SUM(commits), 0) AS commits,
             COALESCE(SUM(commits) FILTER (WHERE ai_tool <> ''), 0) AS ai_commits
      FROM commit_daily) AS commit_counts  -- the (day, repository, tool) commit rollup: one small scan for both
""")


@cached
async def lifetime_stats(db: AsyncSession) -> Lifetime:
    """M-LIFE-* figures from the (date, tool) rollup, the (email, tool) spans and the commit rollup, one round trip."""
    row = (await db.execute(LIFETIME_SQL)).one()
    return Lifetime(
        int(row.tokens),
        Decimal(row.cost),
        int(row.users),
        row.since,
        int(row.commits),
        int(row.ai_commits),
        int(row.repos),
    )

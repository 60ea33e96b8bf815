"""Lifetime (not range-bound) figures: the dashboard strip and System Stats (metrics.md §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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
WITH people AS (  -- one hash-aggregated pass over the rollup: sums and distinct people together
  SELECT email, SUM(total_tokens) AS tokens, SUM(cost) AS cost, MIN(date) AS since
  FROM usage_daily GROUP BY email
)
SELECT
  (SELECT COALESCE(SUM(tokens), 0) FROM people) AS tokens,
  (SELECT COALESCE(SUM(cost), 0) FROM people) AS cost,
  (SELECT COUNT(*) FROM people WHERE email NOT LIKE 'unmapped:%') AS users,
  (SELECT MIN(date) FROM usage_daily) AS since,
  (SELECT COUNT(*) FROM commits) AS commits,
  (SELECT COUNT(*) FROM commits WHERE ai_tool IS NOT NULL) AS ai_commits,
  (SELECT COUNT(*) FROM repositories) AS repos
""")


async def lifetime_stats(db: AsyncSession) -> Lifetime:
    """M-LIFE-* figures from the rollup and commits, one round trip."""
    row = (await db.execute(LIFETIME_SQL)).one()
    return Lifetime(int(row.tokens), Decimal(row.cost), int(row.users), row.since, int(row.commits),
                    int(row.ai_commits), int(row.repos))

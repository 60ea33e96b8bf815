"""Activity read side (docs/providers.md §8): what the AI produced per tool, per day, per person, summed over
`activity_daily` with indexed range scans (by date and tool, or by email and date)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from fractions import Fraction

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.activity import acceptance_rate
from abacus.domain.periods import DateRange
from abacus.queries.cache import cached


@dataclass(frozen=True)
class ToolActivity:
    """One tool's activity over a range (M-ACCEPT for the rate; `active_people` distinct emails with an active day)."""

    tool: str
    sessions: int
    lines_added: int
    lines_removed: int
    suggested: int
    accepted: int
    requests: int
    commits: int
    pull_requests: int
    active_people: int
    active_days: int  # distinct (email, date) pairs with activity

    @property
    def acceptance_rate(self) -> Fraction | None:
        return acceptance_rate(self.accepted, self.suggested)


@dataclass(frozen=True)
class DailyActivity:
    date: date
    tool: str
    lines_added: int
    suggested: int
    accepted: int

    @property
    def acceptance_rate(self) -> Fraction | None:
        return acceptance_rate(self.accepted, self.suggested)


_FILTER = """
WHERE date BETWEEN :start AND :end
  AND (CAST(:tool AS text) IS NULL OR tool = :tool)
  AND (CAST(:email AS text) IS NULL OR email = :email)
  AND (CAST(:team_slug AS text) IS NULL OR email IN (
       SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
"""

BY_TOOL = text(f"""
SELECT tool, SUM(sessions) AS sessions, SUM(lines_added) AS lines_added, SUM(lines_removed) AS lines_removed,
       SUM(suggested) AS suggested, SUM(accepted) AS accepted, SUM(requests) AS requests, SUM(commits) AS commits,
       SUM(pull_requests) AS pull_requests,
       COUNT(DISTINCT email) FILTER (WHERE active) AS active_people,
       COUNT(DISTINCT (email, date)) FILTER (WHERE active) AS active_days
FROM activity_daily {_FILTER}
GROUP BY tool ORDER BY tool
""")

DAILY = text(f"""
SELECT date, tool, SUM(lines_added) AS lines_added, SUM(suggested) AS suggested, SUM(accepted) AS accepted
FROM activity_daily {_FILTER}
GROUP BY date, tool ORDER BY date, tool
""")


def _params(rng: DateRange, tool: str | None, email: str | None, team_slug: str | None) -> dict[str, object]:
    return {"start": rng.start, "end": rng.end, "tool": tool, "email": email, "team_slug": team_slug}


@cached
async def activity_by_tool(
    db: AsyncSession,
    rng: DateRange,
    team_slug: str | None = None,
    *,
    tool: str | None = None,
    email: str | None = None,
) -> list[ToolActivity]:
    """Per tool: the sums of the range's activity rows (optionally one tool, one person, one team's members), tools
    with rows only."""
    rows = await db.execute(BY_TOOL, _params(rng, tool, email, team_slug))
    return [
        ToolActivity(
            tool=r.tool,
            sessions=int(r.sessions),
            lines_added=int(r.lines_added),
            lines_removed=int(r.lines_removed),
            suggested=int(r.suggested),
            accepted=int(r.accepted),
            requests=int(r.requests),
            commits=int(r.commits),
            pull_requests=int(r.pull_requests),
            active_people=int(r.active_people),
            active_days=int(r.active_days),
        )
        for r in rows
    ]


@cached
async def daily_activity(
    db: AsyncSession,
    rng: DateRange,
    team_slug: str | None = None,
    *,
    tool: str | None = None,
    email: str | None = None,
) -> list[DailyActivity]:
    """Per (day, tool) with rows: lines added, suggested, accepted (days without rows are absent; optionally one
    team's members only)."""
    rows = await db.execute(DAILY, _params(rng, tool, email, team_slug))
    return [DailyActivity(r.date, r.tool, int(r.lines_added), int(r.suggested), int(r.accepted)) for r in rows]


@dataclass(frozen=True)
class UnmappedCopilotUser:
    """A Copilot user whose GitHub id no mapping names yet: shown on the Mappings page under source `github`."""

    user_id: str
    login: str
    active_days: int
    seats: int


UNMAPPED_COPILOT = text("""
WITH people AS (
  SELECT details->>'user_id' AS user_id, substr(identity, 9) AS login, COUNT(*) FILTER (WHERE active) AS days,
         0 AS seats
  FROM activity_daily
  WHERE organization_id LIKE 'copilot:%' AND email LIKE 'unmapped:%' AND details ? 'user_id'
  GROUP BY 1, 2
  UNION ALL
  SELECT details->>'user_id', substr(identity, 9), 0, COUNT(*)
  FROM seats
  WHERE organization_id LIKE 'copilot:%' AND email LIKE 'unmapped:%' AND ended_at IS NULL AND details ? 'user_id'
  GROUP BY 1, 2
)
SELECT user_id, MIN(login) AS login, SUM(days) AS days, SUM(seats) AS seats
FROM people WHERE user_id IS NOT NULL GROUP BY user_id ORDER BY SUM(days) DESC, MIN(login)
""")


async def unmapped_copilot_users(db: AsyncSession) -> list[UnmappedCopilotUser]:
    """Copilot logins (activity or an open seat) whose GitHub user id has no mapping, most active days first."""
    return [
        UnmappedCopilotUser(r.user_id, r.login, int(r.days), int(r.seats)) for r in await db.execute(UNMAPPED_COPILOT)
    ]

"""GET /api/v1/activity — what the AI produced (docs/metrics.md §10): totals per tool and a daily series.

Range as on every page (`range`/`days` or `start`/`end`, default 30 days); optional `tool` (a tool key) and `email`
(one person). Bad values → 400 `{"error", "parameter"}`. `acceptance_rate` is accepted / suggested (M-ACCEPT), null
when nothing was suggested.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.tools import KNOWN_TOOLS
from abacus.domain.visibility import Viewer
from abacus.queries.activity import activity_by_tool, daily_activity
from abacus.web.errors import BadParameter
from abacus.web.params import TeamFilter, one_of

TAGS = ["activity"]


@dataclass
class ToolActivityJSON:
    tool: str
    sessions: int
    lines_added: int
    lines_removed: int
    suggested: int
    accepted: int
    acceptance_rate: float | None
    requests: int
    commits: int
    pull_requests: int
    active_people: int
    active_days: int


@dataclass
class DailyActivityJSON:
    date: date
    tool: str
    lines_added: int
    suggested: int
    accepted: int
    acceptance_rate: float | None


@dataclass
class ActivityJSON:
    start: date
    end: date
    tools: list[ToolActivityJSON]
    daily: list[DailyActivityJSON]


def _email(raw: str | None) -> str | None:
    if raw is None or raw == "":
        return None
    email = raw.strip().lower()
    if email.count("@") != 1 or len(email) > 255:
        raise BadParameter("email", f"{raw[:60]!r} is not an email address")
    return email


@get("/api/v1/activity", name="api_activity", tags=TAGS, summary="What the AI produced, per tool and day")
async def api_activity(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
    tool: str | None = None,
    email: str | None = None,
) -> ActivityJSON:
    """M-LINES, M-ACCEPT, M-ACTIVE-DAYS and the vendor-reported sessions, requests, commits and pull requests
    (`team=<slug>`: that team's members' activity only; `email` of a person hidden from the signed-in person: 404
    like an unknown one, docs/security.md §6)."""
    chosen = one_of("tool", tool, KNOWN_TOOLS, "") or None
    person, team = _email(email), team_filter.slug
    if person is not None and not viewer.sees(person):
        raise NotFoundException("User not found")
    tools = await activity_by_tool(db, rng, team, tool=chosen, email=person)
    daily = await daily_activity(db, rng, team, tool=chosen, email=person)
    return ActivityJSON(
        start=rng.start,
        end=rng.end,
        tools=[
            ToolActivityJSON(
                tool=t.tool,
                sessions=t.sessions,
                lines_added=t.lines_added,
                lines_removed=t.lines_removed,
                suggested=t.suggested,
                accepted=t.accepted,
                acceptance_rate=float(t.acceptance_rate) if t.acceptance_rate is not None else None,
                requests=t.requests,
                commits=t.commits,
                pull_requests=t.pull_requests,
                active_people=t.active_people,
                active_days=t.active_days,
            )
            for t in tools
        ],
        daily=[
            DailyActivityJSON(
                d.date,
                d.tool,
                d.lines_added,
                d.suggested,
                d.accepted,
                float(d.acceptance_rate) if d.acceptance_rate is not None else None,
            )
            for d in daily
        ],
    )

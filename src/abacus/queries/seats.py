"""Seats read side (docs/metrics.md §11): every seat held in a range with its last activity, idle state and cost,
and the per-tool summary the /seats page, the Overview's idle-spend card and /api/v1/seats show."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.seats import idle_days, is_idle, last_active, seat_cost
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.cache import cached


@dataclass(frozen=True)
class SeatLine:
    """One seat held at some point of the range (M-SEAT-LAST-ACTIVE, M-IDLE-SEAT, M-SEAT-COST)."""

    tool: str
    identity: str
    email: str
    plan: str | None
    since: date
    ended: date | None
    last_active: date | None
    idle_days: int
    idle: bool
    monthly_price: Decimal
    cost: Decimal  # seat cost over the range


@dataclass(frozen=True)
class ToolSeats:
    tool: str
    seats: int  # held at the end of the range
    active_7d: int
    active_30d: int
    idle: int
    idle_monthly_usd: Decimal
    seat_cost_usd: Decimal
    idle_spend_usd: Decimal  # M-IDLE-SPEND: seat cost of idle seats over the range
    usage_cost_usd: Decimal
    active_people: int
    cost_per_active_user_usd: Decimal | None
    holders: int = 0  # distinct people holding a seat of the tool at some point of the range
    active_holders: int = 0  # of those, the ones active with the tool in the range

    @property
    def adoption(self) -> Decimal | None:
        """M-ADOPTION: seat holders active in the range ÷ seat holders; None without seats."""
        return Decimal(self.active_holders) / self.holders if self.holders else None


@dataclass(frozen=True)
class HiddenSeats:
    """The seats of people the viewer may not see, as one "Others (N people)" row (docs/security.md §6)."""

    people: int
    seats: int
    monthly_price: Decimal
    cost: Decimal


@dataclass(frozen=True)
class SeatsView:
    rng: DateRange
    tools: list[ToolSeats]
    """Per tool over every seat (org-wide figures, hidden people included)."""
    seats: list[SeatLine]
    """The seats of the people the viewer may see."""
    others: HiddenSeats | None = None

    @property
    def idle_spend(self) -> Decimal:
        return sum((t.idle_spend_usd for t in self.tools), Decimal(0))

    @property
    def idle_monthly(self) -> Decimal:
        return sum((t.idle_monthly_usd for t in self.tools), Decimal(0))


SEATS = text("""
SELECT s.tool, s.identity, s.email, s.plan, (s.since AT TIME ZONE 'UTC')::date AS since,
       (s.ended_at AT TIME ZONE 'UTC')::date AS ended, (s.last_activity_at AT TIME ZONE 'UTC')::date AS vendor_last,
       s.price_usd,
       (SELECT MAX(a.date) FROM activity_daily a
         WHERE a.email = s.email AND a.tool = s.tool AND a.active AND a.date <= :end) AS activity_last,
       (SELECT MAX(u.date) FROM usage_user_daily u WHERE u.email = s.email AND u.tool = s.tool AND u.date <= :end)
         AS usage_last
FROM seats s
WHERE (s.since AT TIME ZONE 'UTC')::date <= :end
  AND (s.ended_at IS NULL OR (s.ended_at AT TIME ZONE 'UTC')::date >= :start)
  AND (CAST(:tool AS text) IS NULL OR s.tool = :tool)
  AND (CAST(:email AS text) IS NULL OR s.email = :email)
  AND (CAST(:team_slug AS text) IS NULL OR s.email IN (
       SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
ORDER BY s.tool, s.email, s.since
""")

ACTIVE_PEOPLE = text("""
SELECT tool, COUNT(DISTINCT email) AS people FROM (
  SELECT tool, email FROM activity_daily WHERE active AND date BETWEEN :start AND :end
  UNION SELECT tool, email FROM usage_user_daily WHERE date BETWEEN :start AND :end
) people WHERE (email NOT LIKE 'unmapped:%' OR tool = 'github_copilot')
  AND (CAST(:team_slug AS text) IS NULL OR email IN (
       SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
GROUP BY tool
""")

ACTIVE_HOLDERS = text("""
SELECT s.tool, COUNT(DISTINCT s.email) AS people
FROM seats s
WHERE (s.since AT TIME ZONE 'UTC')::date <= :end
  AND (s.ended_at IS NULL OR (s.ended_at AT TIME ZONE 'UTC')::date >= :start)
  AND (CAST(:tool AS text) IS NULL OR s.tool = :tool)
  AND (CAST(:email AS text) IS NULL OR s.email = :email)
  AND (CAST(:team_slug AS text) IS NULL OR s.email IN (
       SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL))
  AND (EXISTS (SELECT 1 FROM activity_daily a
               WHERE a.email = s.email AND a.tool = s.tool AND a.active AND a.date BETWEEN :start AND :end)
       OR EXISTS (SELECT 1 FROM usage_user_daily u
                  WHERE u.email = s.email AND u.tool = s.tool AND u.date BETWEEN :start AND :end))
GROUP BY s.tool
""")

USAGE_COST = text(
    "SELECT tool, SUM(cost) AS cost FROM usage_tool_daily WHERE date BETWEEN :start AND :end GROUP BY tool"
)
TEAM_USAGE_COST = text("""
SELECT tool, SUM(cost) AS cost FROM usage_user_daily
WHERE date BETWEEN :start AND :end
  AND email IN (SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL)
GROUP BY tool
""")
"""A team's usage cost per tool: its members' rows only (docs/pages.md §1.3)."""


@cached
async def seats_view(
    db: AsyncSession,
    rng: DateRange,
    *,
    idle_after_days: int,
    tool: str | None = None,
    email: str | None = None,
    team_slug: str | None = None,
    viewer: Viewer = EVERYONE,
) -> SeatsView:
    """Every seat held in the range (the last day of the range is "today" for idleness) and the per-tool figures;
    `team_slug` keeps the seats, people and usage of that team's members only. The per-tool figures count every
    seat; the seat lines are those of people `viewer` may see, the others summed in `others`."""
    params = {"start": rng.start, "end": rng.end, "tool": tool, "email": email, "team_slug": team_slug}
    lines: list[SeatLine] = []
    for r in await db.execute(SEATS, params):
        last = last_active(r.vendor_last, r.activity_last, r.usage_last)
        held_until = r.ended
        lines.append(
            SeatLine(
                tool=r.tool,
                identity=r.identity,
                email=r.email,
                plan=r.plan,
                since=r.since,
                ended=held_until,
                last_active=last,
                idle_days=idle_days(last, r.since, rng.end),
                idle=is_idle(last, r.since, rng.end, idle_after_days),
                monthly_price=Decimal(r.price_usd),
                cost=seat_cost(Decimal(r.price_usd), r.since, held_until, rng.start, rng.end),
            )
        )
    people = {r.tool: int(r.people) for r in await db.execute(ACTIVE_PEOPLE, params)}
    usage_sql = USAGE_COST if team_slug is None else TEAM_USAGE_COST
    usage = {r.tool: Decimal(r.cost) for r in await db.execute(usage_sql, params)}
    active_holders = {r.tool: int(r.people) for r in await db.execute(ACTIVE_HOLDERS, params)}
    tools = []
    for name in sorted({line.tool for line in lines}):
        mine = [line for line in lines if line.tool == name]
        held = [line for line in mine if line.ended is None or line.ended >= rng.end]
        seat_cost_total = sum((line.cost for line in mine), Decimal(0))
        usage_cost = usage.get(name, Decimal(0))
        active = people.get(name, 0)
        tools.append(
            ToolSeats(
                tool=name,
                seats=len(held),
                active_7d=sum(1 for s in held if s.last_active is not None and (rng.end - s.last_active).days < 7),
                active_30d=sum(1 for s in held if s.last_active is not None and (rng.end - s.last_active).days < 30),
                idle=sum(1 for s in held if s.idle),
                idle_monthly_usd=sum((s.monthly_price for s in held if s.idle), Decimal(0)),
                seat_cost_usd=seat_cost_total,
                idle_spend_usd=sum((s.cost for s in mine if s.idle), Decimal(0)),
                usage_cost_usd=usage_cost,
                active_people=active,
                cost_per_active_user_usd=(seat_cost_total + usage_cost) / active if active else None,
                holders=len({line.email for line in mine}),
                active_holders=active_holders.get(name, 0),
            )
        )
    shown = [line for line in lines if viewer.sees(line.email)]
    hidden = [line for line in lines if not viewer.sees(line.email)]
    others = (
        HiddenSeats(
            people=len({line.email for line in hidden}),
            seats=len(hidden),
            monthly_price=sum((line.monthly_price for line in hidden), Decimal(0)),
            cost=sum((line.cost for line in hidden), Decimal(0)),
        )
        if hidden
        else None
    )
    return SeatsView(rng, tools, shown, others)

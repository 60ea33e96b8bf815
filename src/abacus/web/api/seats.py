"""GET /api/v1/seats — seats, idle seats and their cost per tool (docs/metrics.md §11), and every seat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.visibility import Viewer
from abacus.web.params import TeamFilter
from abacus.web.seat_views import seats_for_request

TAGS = ["seats"]


@dataclass
class ToolSeatsJSON:
    tool: str
    seats: int
    active_7d: int
    active_30d: int
    idle: int
    idle_monthly_usd: float
    seat_cost_usd: float
    idle_spend_usd: float
    usage_cost_usd: float
    cost_per_active_user_usd: float | None
    active_people: int
    seat_holders: int
    active_seat_holders: int
    adoption: float | None


@dataclass
class SeatJSON:
    email: str
    identity: str
    tool: str
    plan: str | None
    since: date
    last_active: date | None
    idle_days: int
    monthly_price_usd: float
    idle: bool


@dataclass
class OtherSeatsJSON:
    people: int
    seats: int
    monthly_price_usd: float


@dataclass
class SeatsJSON:
    start: date
    end: date
    tools: list[ToolSeatsJSON]
    seats: list[SeatJSON]
    others: OtherSeatsJSON | None = None
    """The seats of people hidden from the signed-in person (docs/security.md §6), summed; null when none."""


@get("/api/v1/seats", name="api_seats", tags=TAGS, summary="Seats, idle seats and seat cost per tool")
async def api_seats(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
    tool: str | None = None,
) -> SeatsJSON:
    """M-IDLE-SEAT, M-SEAT-COST, M-IDLE-SPEND, M-COST-PER-ACTIVE and M-ADOPTION (a 0–1 share) per tool; every seat
    held in the range (`team=<slug>`: the members' seats, people and usage only)."""
    view = await seats_for_request(request, db, rng, tool, team_filter.slug, viewer)
    return SeatsJSON(
        start=rng.start,
        end=rng.end,
        tools=[
            ToolSeatsJSON(
                tool=t.tool,
                seats=t.seats,
                active_7d=t.active_7d,
                active_30d=t.active_30d,
                idle=t.idle,
                idle_monthly_usd=float(t.idle_monthly_usd),
                seat_cost_usd=float(round(t.seat_cost_usd, 2)),
                idle_spend_usd=float(round(t.idle_spend_usd, 2)),
                usage_cost_usd=float(t.usage_cost_usd),
                cost_per_active_user_usd=float(round(t.cost_per_active_user_usd, 2))
                if t.cost_per_active_user_usd is not None
                else None,
                active_people=t.active_people,
                seat_holders=t.holders,
                active_seat_holders=t.active_holders,
                adoption=float(round(t.adoption, 4)) if t.adoption is not None else None,
            )
            for t in view.tools
        ],
        seats=[
            SeatJSON(
                email=s.email,
                identity=s.identity,
                tool=s.tool,
                plan=s.plan,
                since=s.since,
                last_active=s.last_active,
                idle_days=s.idle_days,
                monthly_price_usd=float(s.monthly_price),
                idle=s.idle,
            )
            for s in view.seats
        ],
        others=None
        if view.others is None
        else OtherSeatsJSON(view.others.people, view.others.seats, float(view.others.monthly_price)),
    )

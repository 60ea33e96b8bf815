"""GET /api/v1/live — today's live figures (docs/metrics.md §13): spend and tokens so far, burn rate per hour over the
last 60 minutes, projected end of day, people active in the last 15 minutes, whether any of it is provisional (from
Claude Code's OpenTelemetry), and the same per person. Optional `email` (one person)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.visibility import Viewer
from abacus.queries.live import live_figures
from abacus.web.params import email_address, now_utc


@dataclass
class LivePersonJSON:
    email: str
    spend_today_usd: float
    tokens_today: int
    burn_rate_usd_per_hour: float
    projected_end_of_day_usd: float
    active_15m: bool


@dataclass
class LiveJSON:
    now: datetime
    spend_today_usd: float
    tokens_today: int
    burn_rate_usd_per_hour: float
    projected_end_of_day_usd: float
    active_people_15m: int
    provisional: bool
    people: list[LivePersonJSON]


@get("/api/v1/live", name="api_live", tags=["live"], summary="Today's live spend, burn rate and active people")
async def api_live(
    request: Request[Any, Any, Any], db: AsyncSession, viewer: NamedDependency[Viewer], email: str | None = None
) -> LiveJSON:
    """M-LIVE-SPEND, M-LIVE-BURN, M-LIVE-EOD and M-LIVE-ACTIVE; `provisional` is true while any of it comes from
    OpenTelemetry rather than the vendors' reports. `people` lists only those the viewer may see; `email` of a person
    hidden from the viewer answers 404 like an unknown one."""
    person = email_address("email", email)
    if person is not None and not viewer.sees(person):
        raise NotFoundException("User not found")
    live = await live_figures(db, now_utc(request), person, viewer)
    return LiveJSON(
        now=live.now,
        spend_today_usd=float(live.spend_today_usd),
        tokens_today=live.tokens_today,
        burn_rate_usd_per_hour=float(live.burn_rate_usd_per_hour),
        projected_end_of_day_usd=float(live.projected_end_of_day_usd),
        active_people_15m=live.active_people_15m,
        provisional=live.provisional,
        people=[
            LivePersonJSON(
                p.email,
                float(p.spend_today_usd),
                p.tokens_today,
                float(p.burn_rate_usd_per_hour),
                float(p.projected_end_of_day_usd),
                p.active_15m,
            )
            for p in live.people
        ],
    )

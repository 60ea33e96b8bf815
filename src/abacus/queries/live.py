"""Today's live figures (docs/metrics.md §13): spend and tokens so far, burn rate, projected end of day and people
active in the last 15 minutes, in total and per person. Spend reads the usage rollup of today (provisional OTel rows
included until the Admin API's day replaces them); burn and activity read the OTel points, the only data with time
within a day. Not cached: the figures move with the clock, not only with the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.domain.live import ACTIVE_WINDOW, BURN_WINDOW, NO_COST, burn_rate_per_hour, projected_end_of_day
from abacus.domain.visibility import EVERYONE, Viewer

PERSON_EMAIL = (
    # an OTel identity's person, as usage rows resolve it: a mapping, else its own email, else unmapped:<identity>
    "COALESCE(m.email, CASE WHEN split_part(p.identity, ':', 2) ~ '^[^@]+@[^@]+\\.[^@]+$' "
    "THEN split_part(p.identity, ':', 2) ELSE 'unmapped:' || p.identity END)"
)
ONE_PERSON = "(CAST(:email AS text) IS NULL OR email = :email)"  # everyone, or only `email` (a person's page)
TODAY_USAGE = text(
    "SELECT email, SUM(cost) AS cost, SUM(total_tokens)::bigint AS tokens FROM usage_user_daily "
    f"WHERE date = :today AND {ONE_PERSON} GROUP BY email"
)
RECENT = (
    # each person's cost in the burn window (rounded to 6 places, as cost is stored) and whether they are active
    f"SELECT {PERSON_EMAIL} AS email, "
    "round(SUM(p.delta) FILTER (WHERE p.metric = :cost_metric AND p.observed_at > :burn_since)::numeric, 6) "
    "AS burn_cost, bool_or(p.observed_at > :active_since) AS active "
    "FROM otel_points p LEFT JOIN identity_mappings m "
    "ON m.source = split_part(p.identity, ':', 1) AND m.external_id = substr(p.identity, length('otel:') + 1) "
    "WHERE p.observed_at > :since AND p.observed_at <= :now AND p.identity IS NOT NULL "
    "GROUP BY 1"
)
RECENT_POINTS = text(f"SELECT email, burn_cost, active FROM ({RECENT}) recent WHERE {ONE_PERSON}")
TOTALS = text(
    # the same sums as adding up every person's figures, without building a row per person
    f"WITH recent AS ({RECENT}) "
    "SELECT COALESCE(SUM(cost), 0) AS cost, COALESCE(SUM(total_tokens), 0)::bigint AS tokens, "
    "(SELECT COALESCE(SUM(burn_cost), 0) FROM recent) AS burn_cost, "
    "(SELECT count(*) FROM recent WHERE active) AS active "
    "FROM usage_user_daily WHERE date = :today"
)
PROVISIONAL_TODAY = text(
    "SELECT EXISTS (SELECT 1 FROM usage_records WHERE date = :today AND tool_record_id = 'otel') "
    "OR EXISTS (SELECT 1 FROM otel_points WHERE observed_at > :since AND observed_at <= :now)"
)


class LivePerson(NamedTuple):  # a tuple, not a dataclass: ~2,000 are built per request at a large company
    email: str
    spend_today_usd: Decimal
    tokens_today: int
    burn_rate_usd_per_hour: Decimal
    projected_end_of_day_usd: Decimal
    active_15m: bool


@dataclass(frozen=True)
class LiveFigures:
    now: datetime
    spend_today_usd: Decimal
    tokens_today: int
    burn_rate_usd_per_hour: Decimal
    projected_end_of_day_usd: Decimal
    active_people_15m: int
    provisional: bool
    people: tuple[LivePerson, ...]


def _params(now: datetime, email: str | None = None) -> dict[str, Any]:
    """The bind parameters of every live query at `now` (each reads those it names): today, the recent points'
    windows, and `email` (None: everyone)."""
    return {
        "today": now.date(),
        "cost_metric": otlp.COST,
        "burn_since": now - BURN_WINDOW,
        "active_since": now - ACTIVE_WINDOW,
        "since": now - max(BURN_WINDOW, ACTIVE_WINDOW),
        "now": now,
        "email": email,
    }


async def live_totals(db: AsyncSession, now: datetime) -> LiveFigures:
    """The org-wide figures at `now` without the list of people (the Overview's Today strip, polled by every open
    Overview): two aggregate queries instead of a row per person."""
    params = _params(now)
    totals = (await db.execute(TOTALS, params)).one()
    spent = Decimal(totals.cost)
    burn = burn_rate_per_hour(Decimal(totals.burn_cost))
    return LiveFigures(
        now=now,
        spend_today_usd=spent,
        tokens_today=int(totals.tokens),
        burn_rate_usd_per_hour=burn,
        projected_end_of_day_usd=projected_end_of_day(spent, burn, now),
        active_people_15m=int(totals.active),
        provisional=bool((await db.execute(PROVISIONAL_TODAY, params)).scalar()),
        people=(),
    )


async def live_figures(
    db: AsyncSession, now: datetime, email: str | None = None, viewer: Viewer = EVERYONE
) -> LiveFigures:
    """The figures at `now` with each person's; with `email`, only that person's, totals included (the person's
    page). Without `email` the totals are org-wide, while `people` lists only those `viewer` may see
    (docs/security.md §6)."""
    params = _params(now, email)
    usage = {e: (cost, tokens) for e, cost, tokens in await db.execute(TODAY_USAGE, params)}
    recent = {r.email: (r.burn_cost or NO_COST, bool(r.active)) for r in await db.execute(RECENT_POINTS, params)}
    people = []
    for who in sorted(set(usage) | set(recent)):
        spent, tokens = usage.get(who, (NO_COST, 0))
        burn_cost, active = recent.get(who, (NO_COST, False))
        burn = burn_rate_per_hour(burn_cost)
        people.append(LivePerson(who, spent, tokens, burn, projected_end_of_day(spent, burn, now), active))
    spent = sum((p.spend_today_usd for p in people), NO_COST)
    burn_total = burn_rate_per_hour(sum((cost for cost, _ in recent.values()), NO_COST))
    # fastest burn first, then most spent, then by email: the list is in email order and a reversed sort is stable
    people.sort(key=lambda p: (p.burn_rate_usd_per_hour, p.spend_today_usd), reverse=True)
    return LiveFigures(
        now=now,
        spend_today_usd=spent,
        tokens_today=sum(p.tokens_today for p in people),
        burn_rate_usd_per_hour=burn_total,
        projected_end_of_day_usd=projected_end_of_day(spent, burn_total, now),
        active_people_15m=sum(1 for p in people if p.active_15m),
        provisional=bool((await db.execute(PROVISIONAL_TODAY, params)).scalar()),
        people=tuple(p for p in people if viewer.sees(p.email)),
    )

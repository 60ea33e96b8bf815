"""Today's live figures (docs/metrics.md §13): spend and tokens so far, burn rate, projected end of day and people
active in the last 15 minutes, in total and per person. Spend reads the usage rollup of today (provisional OTel rows
included until the Admin API's day replaces them); burn and activity read the OTel points, the only data with time
within a day. Not cached: the figures move with the clock, not only with the data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.domain.live import ACTIVE_WINDOW, BURN_WINDOW, burn_rate_per_hour, projected_end_of_day
from abacus.domain.visibility import EVERYONE, Viewer

PERSON_EMAIL = (
    # an OTel identity's person, as usage rows resolve it: a mapping, else its own email, else unmapped:<identity>
    "COALESCE(m.email, CASE WHEN split_part(p.identity, ':', 2) ~ '^[^@]+@[^@]+\\.[^@]+$' "
    "THEN split_part(p.identity, ':', 2) ELSE 'unmapped:' || p.identity END)"
)
TODAY_USAGE = text(
    "SELECT email, SUM(cost) AS cost, SUM(total_tokens)::bigint AS tokens FROM usage_user_daily WHERE date = :today "
    "GROUP BY email"
)
RECENT_POINTS = text(
    f"SELECT {PERSON_EMAIL} AS email, "
    "SUM(p.delta) FILTER (WHERE p.metric = :cost_metric AND p.observed_at > :burn_since) AS burn_cost, "
    "bool_or(p.observed_at > :active_since) AS active "
    "FROM otel_points p LEFT JOIN identity_mappings m "
    "ON m.source = split_part(p.identity, ':', 1) AND m.external_id = substr(p.identity, length('otel:') + 1) "
    "WHERE p.observed_at > :since AND p.observed_at <= :now AND p.identity IS NOT NULL "
    "GROUP BY 1"
)
PROVISIONAL_TODAY = text(
    "SELECT EXISTS (SELECT 1 FROM usage_records WHERE date = :today AND tool_record_id = 'otel') "
    "OR EXISTS (SELECT 1 FROM otel_points WHERE observed_at > :since AND observed_at <= :now)"
)


@dataclass(frozen=True)
class LivePerson:
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


async def live_figures(
    db: AsyncSession, now: datetime, email: str | None = None, viewer: Viewer = EVERYONE
) -> LiveFigures:
    """The figures at `now`; with `email`, only that person's (the person's page). The totals are org-wide; `people`
    lists only those `viewer` may see (docs/security.md §6)."""
    today = now.date()
    since = now - max(BURN_WINDOW, ACTIVE_WINDOW)
    usage = {email: (cost, tokens) for email, cost, tokens in await db.execute(TODAY_USAGE, {"today": today})}
    recent = {
        r.email: (Decimal(str(round(r.burn_cost or 0.0, 6))), bool(r.active))
        for r in await db.execute(
            RECENT_POINTS,
            {
                "cost_metric": otlp.COST,
                "burn_since": now - BURN_WINDOW,
                "active_since": now - ACTIVE_WINDOW,
                "since": since,
                "now": now,
            },
        )
    }
    provisional = bool((await db.execute(PROVISIONAL_TODAY, {"today": today, "since": since, "now": now})).scalar())
    emails = sorted(set(usage) | set(recent))
    if email is not None:
        emails = [e for e in emails if e == email]
    people = []
    for person in emails:
        spent, tokens = usage.get(person, (Decimal(0), 0))
        burn_cost, active = recent.get(person, (Decimal(0), False))
        burn = burn_rate_per_hour(burn_cost)
        people.append(LivePerson(person, spent, tokens, burn, projected_end_of_day(spent, burn, now), active))
    spent = sum((p.spend_today_usd for p in people), Decimal(0))
    burn_total = burn_rate_per_hour(sum((recent.get(p.email, (Decimal(0), False))[0] for p in people), Decimal(0)))
    people.sort(key=lambda p: (-p.burn_rate_usd_per_hour, -p.spend_today_usd, p.email))
    shown = tuple(p for p in people if viewer.sees(p.email))
    return LiveFigures(
        now=now,
        spend_today_usd=spent,
        tokens_today=sum(p.tokens_today for p in people),
        burn_rate_usd_per_hour=burn_total,
        projected_end_of_day_usd=projected_end_of_day(spent, burn_total, now),
        active_people_15m=sum(1 for p in people if p.active_15m),
        provisional=provisional,
        people=shown,
    )

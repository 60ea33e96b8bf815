"""The live view (issue 14 item 4): GET /api/v1/live and the Overview's Today strip over HTTP, from OTel points
stored through the real store (docs/metrics.md §13)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.domain.live import hours_left_today
from abacus.emulators.otel import Sample, ns
from abacus.queries.live import LiveFigures, live_figures, live_totals
from tests.integration.otel_support import store_and_rebuild
from tests.support import run_async


def test_live_api_and_today_strip(signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None) -> None:
    now = datetime.now(UTC)
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC)
    ada = {"user.email": "ada@example.com", "model": "claude-sonnet-4-5-20250929"}
    bo = {"user.email": "bo@example.com", "model": "claude-haiku-4-5-20251001"}
    zed = {"user.email": "zed@example.com", "model": "claude-haiku-4-5-20251001"}
    cy = {"user.email": "cy@example.com", "model": "claude-haiku-4-5-20251001"}
    # (minutes ago, cost, who): burn counts the last 60 min; spend counts what is today
    plan = [(10, 1.20, ada), (40, 0.60, ada), (50, 0.30, bo), (30, 0.10, bo), (75, 0.50, ada), (200, 2.00, bo)]
    plan += [(90, 0.25, zed), (90, 0.25, cy)]  # no burn, the same spend: listed by email
    samples = [
        Sample(otlp.COST, cost, ns(now - timedelta(minutes=ago + 1)), ns(now - timedelta(minutes=ago)), attrs)
        for ago, cost, attrs in plan
    ]
    run_async(store_and_rebuild(database_url, samples))
    today = [(ago, cost, a) for ago, cost, a in plan if now - timedelta(minutes=ago) >= midnight]
    spent = sum(cost for _, cost, _ in today)
    burn = sum(cost for ago, cost, _ in plan if ago < 60)  # 2.20
    active = {a["user.email"] for ago, _, a in plan if ago < 15}

    client = signed_in("ada@example.com")
    live = client.get("/api/v1/live").json()
    assert live["spend_today_usd"] == pytest.approx(spent)
    assert live["burn_rate_usd_per_hour"] == pytest.approx(burn)
    hours = float(hours_left_today(now))
    assert live["projected_end_of_day_usd"] == pytest.approx(spent + burn * hours, abs=0.02)
    assert live["active_people_15m"] == len(active)
    assert live["provisional"] is True
    people = {p["email"]: p for p in live["people"]}
    tied = ["cy@example.com", "zed@example.com"] if now - timedelta(minutes=90) >= midnight else []
    assert list(people) == ["ada@example.com", "bo@example.com", *tied]  # fastest burn, then most spent, then email
    assert people["ada@example.com"]["burn_rate_usd_per_hour"] == pytest.approx(1.80)
    assert people["bo@example.com"]["burn_rate_usd_per_hour"] == pytest.approx(0.40)
    assert people["ada@example.com"]["active_15m"] is True
    assert people["bo@example.com"]["active_15m"] is False
    one = client.get("/api/v1/live", params={"email": "bo@example.com"}).json()
    assert [p["email"] for p in one["people"]] == ["bo@example.com"]
    assert client.get("/api/v1/live", params={"email": "not-an-email"}).status_code == 400

    strip = client.get("/live/today", headers={"HX-Request": "true"}).text
    assert 'hx-trigger="every 30s"' in strip and "data-poll" in strip
    assert f"${burn:,.2f}" in strip and "provisional" in strip
    assert 'hx-get="/live/today"' in client.get("/").text
    assert 'hx-get="/live/today?email=ada%40example.com"' in client.get("/users/ada@example.com").text
    person = client.get("/live/today", params={"email": "ada@example.com"}).text
    assert "$1.80" in person and "email=ada%40example.com" in person


async def _everyone_and_totals(database_url: str, now: datetime) -> tuple[LiveFigures, LiveFigures]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db:
            return await live_figures(db, now), await live_totals(db, now)
    finally:
        await engine.dispose()


def test_the_strips_totals_equal_the_sums_over_everyone(database_url: str, clean_db: None) -> None:
    """The Overview's strip reads aggregates only (live_totals); they must equal adding up every person's figures."""
    now = datetime.now(UTC)
    plan = [(5, 0.123457, "ada"), (20, 0.333333, "ada"), (45, 1.000001, "bo"), (10, 0.2, "cy"), (70, 0.4, "bo")]
    plan += [(12, 0.05, "eve")] * 3  # three points of one person in the window
    samples = [
        Sample(
            otlp.COST,
            cost,
            ns(now - timedelta(minutes=ago + 1)),
            ns(now - timedelta(minutes=ago)),
            {"user.email": f"{who}@example.com", "model": "claude-sonnet-4-5-20250929"},
        )
        for ago, cost, who in plan
    ]
    run_async(store_and_rebuild(database_url, samples))
    everyone, totals = run_async(_everyone_and_totals(database_url, now))
    assert everyone.people and totals.people == ()
    assert totals.burn_rate_usd_per_hour > 0 and totals.active_people_15m == 3
    assert totals == LiveFigures(**{**vars(everyone), "people": ()})


def test_without_telemetry_nothing_is_provisional(signed_in: Callable[..., httpx.Client], clean_db: None) -> None:
    live = signed_in("ada@example.com").get("/api/v1/live").json()
    assert live["burn_rate_usd_per_hour"] == 0
    assert live["provisional"] is False
    assert live["active_people_15m"] == 0

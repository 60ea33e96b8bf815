"""/seats, /api/v1/seats, /export/seats.csv and the Overview's idle-spend card (docs/metrics.md §11) over seeded seats:
the figures equal independent SQL over the raw seats, activity and usage rows (today = 2026-03-10)."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import dom, seed
from tests.integration.pages_support import card_titled

TODAY = seed.TODAY
START = TODAY - timedelta(days=29)  # range=30d

SEATS = [
    # tool, org, identity, email, plan, since, ended, vendor last activity, monthly price
    ("cursor", "cursor:core", "cursor:ada@example.com", "ada@example.com", "owner", "2025-01-01", None, None, 40),
    ("cursor", "cursor:core", "cursor:bob@example.com", "bob@example.com", "member", "2026-02-20", None, None, 40),
    ("cursor", "cursor:core", "cursor:carol@example.com", "carol@example.com", "member", "2025-01-01", "2026-03-01",
     None, 40),
    ("github_copilot", "copilot:acme", "copilot:zed", "unmapped:copilot:zed", "business", "2026-01-01", None,
     "2026-01-15", 19),
    ("github_copilot", "copilot:acme", "copilot:grace", "grace@example.com", "enterprise", "2025-06-01", None,
     "2026-03-09", 39),
]  # fmt: skip


def stamp(day: str | None) -> datetime | None:
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC) if day else None


@pytest.fixture(scope="module")
def seat_rows(seeded_module, database_url):
    async def run() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE seats, activity_daily"))
            for tool, org, identity, email, plan, since, ended, last, price in SEATS:
                await conn.execute(
                    text(
                        "INSERT INTO seats (tool, organization_id, identity, email, plan, since, ended_at, "
                        "last_activity_at, price_usd, seen_at) VALUES (:tool, :org, :identity, :email, :plan, "
                        ":since, :ended, :last, :price, now())"
                    ),
                    dict(tool=tool, org=org, identity=identity, email=email, plan=plan, since=stamp(since),
                         ended=stamp(ended), last=stamp(last), price=price),
                )  # fmt: skip
            # Ada's Cursor activity 3 days ago makes her seat active; Bob never used his
            await conn.execute(
                text(
                    "INSERT INTO activity_daily (tool, organization_id, identity, date, email, lines_added, active) "
                    "VALUES ('cursor', 'cursor:core', 'cursor:ada@example.com', :day, 'ada@example.com', 10, true)"
                ),
                {"day": TODAY - timedelta(days=3)},
            )
        await engine.dispose()

    asyncio.run(run())


EXPECTED_SQL = """
WITH s AS (
  SELECT *, GREATEST(
      (last_activity_at AT TIME ZONE 'UTC')::date,
      (SELECT MAX(date) FROM activity_daily a WHERE a.email = seats.email AND a.tool = seats.tool AND a.active
         AND a.date <= :end),
      (SELECT MAX(date) FROM usage_user_daily u WHERE u.email = seats.email AND u.tool = seats.tool AND u.date <= :end)
    ) AS last_active
  FROM seats
), costed AS (
  SELECT s.*,
    (s.ended_at IS NULL OR (s.ended_at AT TIME ZONE 'UTC')::date >= :end) AS held,
    (s.last_active IS NULL OR s.last_active < (s.since AT TIME ZONE 'UTC')::date OR :end - s.last_active >= 30) AS idle,
    (SELECT COALESCE(SUM(s.price_usd / EXTRACT(DAY FROM date_trunc('month', d) + interval '1 month - 1 day')), 0)
       FROM generate_series(GREATEST((s.since AT TIME ZONE 'UTC')::date, :start),
                            LEAST(COALESCE((s.ended_at AT TIME ZONE 'UTC')::date, :end), :end), interval '1 day') d
    ) AS cost
  FROM s
)
SELECT tool, COUNT(*) FILTER (WHERE held) AS seats, COUNT(*) FILTER (WHERE held AND idle) AS idle,
       COALESCE(SUM(price_usd) FILTER (WHERE held AND idle), 0) AS idle_monthly, SUM(cost) AS seat_cost,
       COALESCE(SUM(cost) FILTER (WHERE idle), 0) AS idle_spend
FROM costed GROUP BY tool ORDER BY tool
"""


def expected(database_url: str) -> dict[str, tuple[int, int, Decimal, Decimal, Decimal]]:
    async def run():
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(EXPECTED_SQL), {"start": START, "end": TODAY})).all()
        await engine.dispose()
        return rows

    return {r.tool: (r.seats, r.idle, Decimal(r.idle_monthly), Decimal(r.seat_cost), Decimal(r.idle_spend)) for r in
            asyncio.run(run())}  # fmt: skip


def cents(value: Decimal | float) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def test_api_seats_equals_sql_over_the_raw_rows(page_client, seat_rows, database_url):
    body = page_client.get("/api/v1/seats", params={"range": "30d"}).json()
    want = expected(database_url)
    got = {
        t["tool"]: (t["seats"], t["idle"], cents(t["idle_monthly_usd"]), cents(t["seat_cost_usd"]),
                    cents(t["idle_spend_usd"]))
        for t in body["tools"]
    }  # fmt: skip
    assert got == {tool: (*w[:2], cents(w[2]), cents(w[3]), cents(w[4])) for tool, w in want.items()}
    assert got["cursor"][:2] == (2, 1)  # Ada in use, Bob idle, Carol's ended seat no longer held
    seats = {s["identity"]: s for s in body["seats"]}
    assert seats["cursor:bob@example.com"]["idle"] and seats["cursor:bob@example.com"]["last_active"] is None
    assert seats["copilot:zed"]["idle_days"] == (TODAY - date(2026, 1, 15)).days
    assert not seats["cursor:ada@example.com"]["idle"]
    assert seats["cursor:ada@example.com"]["last_active"] >= (TODAY - timedelta(days=3)).isoformat()
    assert page_client.get("/api/v1/seats", params={"tool": "nope"}).json()["parameter"] == "tool"


def test_seats_page_answers_idle_spend_in_one_number(page_client, seat_rows, database_url):
    page = dom.parse(page_client.get("/seats", params={"range": "30d"}).text)
    total = sum((w[4] for w in expected(database_url).values()), Decimal(0))
    assert f"${cents(total):,.2f}" in dom.text(page)
    table = card_titled(page, "Every seat")
    assert len(dom.select(table, "tbody tr")) == len(SEATS)
    only_copilot = dom.parse(page_client.get("/seats", params={"range": "30d", "tool": "github_copilot"}).text)
    assert len(dom.select(card_titled(only_copilot, "Every seat"), "tbody tr")) == 2


def test_seats_csv_lists_every_seat(page_client, seat_rows):
    response = page_client.get("/export/seats.csv", params={"range": "30d"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert {r["identity"] for r in rows} == {s[2] for s in SEATS}
    idle = {r["identity"] for r in rows if r["idle"] == "true"}
    assert idle == {"cursor:bob@example.com", "copilot:zed", "cursor:carol@example.com"}  # Carol: ended, unused


def test_overview_shows_the_idle_spend_card(page_client, seat_rows, database_url):
    page = dom.parse(page_client.get("/", params={"range": "30d"}).text)
    card = card_titled(page, "Idle spend (30d)")
    total = sum((w[4] for w in expected(database_url).values()), Decimal(0))
    value = dom.select(card, ".stat-value")[0]
    assert value.get("title") == f"${cents(total):,.2f}"
    assert card.get("href").startswith("/seats")


def test_a_persons_page_lists_their_seats(page_client, seat_rows):
    page = dom.parse(page_client.get("/users/ada%40example.com", params={"range": "30d"}).text)
    rows = [[dom.text(td) for td in dom.select(tr, "td")] for tr in dom.select(card_titled(page, "Seats"), "tbody tr")]
    assert rows == [["Cursor", "owner", "Jan 1, 2025", "Mar 10, 2026", "0", "$40.00"]]

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

from abacus.domain.tools import tool_name
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
    # known only through Copilot: a seat and activity, no usage, commit or mapping
    ("github_copilot", "copilot:acme", "copilot:quinn-gh", "quinn@example.com", "business", "2026-02-01", None,
     None, 19),
]  # fmt: skip
COPILOT_ONLY = "quinn@example.com"


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
            # Quinn's Copilot activity 2 days ago (the only trace of Quinn besides the seat)
            await conn.execute(
                text(
                    "INSERT INTO activity_daily (tool, organization_id, identity, date, email, lines_added, suggested, "
                    "accepted, active) VALUES ('github_copilot', 'copilot:acme', 'copilot:quinn-gh', :day, "
                    "'quinn@example.com', 42, 20, 6, true)"
                ),
                {"day": TODAY - timedelta(days=2)},
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
    (s.last_active IS NULL OR :end - s.last_active >= 30) AS idle,
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
    assert len(dom.select(card_titled(only_copilot, "Every seat"), "tbody tr")) == 3


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


ADOPTION_SQL = """
SELECT tool, COUNT(DISTINCT email) AS holders, COUNT(DISTINCT email) FILTER (WHERE used) AS active FROM (
  SELECT s.tool, s.email,
         s.email IN (SELECT a.email FROM activity_daily a WHERE a.tool = s.tool AND a.active
                       AND a.date BETWEEN :start AND :end
                     UNION ALL
                     SELECT u.email FROM usage_user_daily u WHERE u.tool = s.tool AND u.date BETWEEN :start AND :end)
           AS used
  FROM seats s
  WHERE (s.since AT TIME ZONE 'UTC')::date <= :end
    AND ((s.ended_at AT TIME ZONE 'UTC')::date >= :start OR s.ended_at IS NULL)
) held GROUP BY tool
"""


def adoption_by_sql(database_url: str) -> dict[str, tuple[int, int]]:
    async def run():
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (await conn.execute(text(ADOPTION_SQL), {"start": START, "end": TODAY})).all()
        await engine.dispose()
        return rows

    return {r.tool: (int(r.active), int(r.holders)) for r in asyncio.run(run())}


TOOL_CONTRACT = {"tool", "seats", "active_7d", "active_30d", "idle", "idle_monthly_usd", "seat_cost_usd",
                 "usage_cost_usd", "cost_per_active_user_usd"}  # fmt: skip
SEAT_CONTRACT = {"email", "identity", "tool", "plan", "since", "last_active", "idle_days", "monthly_price_usd", "idle"}


def test_api_seats_has_every_field_of_the_contract_and_adoption(page_client, seat_rows, database_url):
    body = page_client.get("/api/v1/seats", params={"range": "30d"}).json()
    assert set(body) >= {"tools", "seats"}
    for t in body["tools"]:
        assert set(t) >= TOOL_CONTRACT | {"adoption", "seat_holders", "active_seat_holders"}, t
    for s in body["seats"]:
        assert set(s) >= SEAT_CONTRACT, s
    want = adoption_by_sql(database_url)
    got = {t["tool"]: (t["active_seat_holders"], t["seat_holders"]) for t in body["tools"]}
    assert got == want
    copilot = next(t for t in body["tools"] if t["tool"] == "github_copilot")
    assert (copilot["active_seat_holders"], copilot["seat_holders"]) == (1, 3)  # Quinn's activity; Zed, Grace none
    assert copilot["adoption"] == round(1 / 3, 4)
    for t in body["tools"]:
        active, holders = want[t["tool"]]
        assert t["adoption"] == round(active / holders, 4)


def test_seats_page_shows_adoption_per_tool_with_its_definition(page_client, seat_rows, database_url):
    page = dom.parse(page_client.get("/seats", params={"range": "30d"}).text)
    table = card_titled(page, "By tool (30d)")
    assert dom.select(table, 'a.info[href="/definitions#M-ADOPTION"]')
    cells = {dom.text(dom.select(tr, "td")[0]): dom.text(dom.select(tr, "td.adoption")[0])
             for tr in dom.select(table, "tbody tr")}  # fmt: skip
    for tool, (active, holders) in adoption_by_sql(database_url).items():
        label = tool_name(tool)
        assert cells[label].startswith(f"{active / holders * 100:.1f} %"), (tool, cells[label])
        assert f"{active} / {holders}" in cells[label]
    for metric in ("M-IDLE-SPEND", "M-IDLE-SEAT", "M-SEAT-COST", "M-COST-PER-ACTIVE", "M-SEAT-LAST-ACTIVE"):
        assert dom.select(page, f'a.info[href="/definitions#{metric}"]'), metric
    definitions = page_client.get("/definitions").text
    for metric in ("M-ADOPTION", "M-IDLE-SPEND", "M-ACCEPT", "M-COST-1K-LINES", "M-LINES", "M-ACTIVE-DAYS"):
        assert f'id="{metric}"' in definitions, metric


def seat_column(page_client, **params) -> list[str]:
    page = dom.parse(page_client.get("/seats", params={"range": "30d", **params}).text)
    return [dom.select(tr, "td")[0].get("data-identity") or dom.text(dom.select(tr, "td")[0])
            for tr in dom.select(card_titled(page, "Every seat"), "tbody tr")]  # fmt: skip


@pytest.mark.parametrize(
    ("sort", "key"),
    [
        ("email", lambda s: (s[3], s[0])),
        ("idle_days", None),
        ("price", lambda s: (s[8], s[3], s[0])),
        ("since", lambda s: (s[5], s[3], s[0])),
        ("tool", lambda s: (s[0], s[3])),
    ],
)
def test_every_seat_sorts_both_ways_with_aria_sort_on_the_header(page_client, seat_rows, sort, key):
    ascending = dom.parse(page_client.get("/seats", params={"range": "30d", "sort": sort, "dir": "asc"}).text)
    descending = dom.parse(page_client.get("/seats", params={"range": "30d", "sort": sort, "dir": "desc"}).text)

    def people(page):
        return [dom.text(dom.select(tr, "td")[0]) for tr in dom.select(card_titled(page, "Every seat"), "tbody tr")]

    def shown(email: str, identity: str) -> str:
        return identity if email.startswith("unmapped:") else email

    up, down = people(ascending), people(descending)
    assert up == list(reversed(down))
    if key is not None:
        assert [p.split(" ")[0] for p in up] == [shown(s[3], s[2]) for s in sorted(SEATS, key=key)]
    for page, direction in ((ascending, "ascending"), (descending, "descending")):
        headers = dom.select(card_titled(page, "Every seat"), "thead th")
        sorted_headers = [th for th in headers if th.get("aria-sort")]
        assert len(sorted_headers) == 1 and sorted_headers[0].get("aria-sort") == direction
        assert not dom.select(card_titled(page, "Every seat"), "thead a[aria-sort]")
        link = dom.select(sorted_headers[0], "a")[0]
        flipped = "desc" if direction == "ascending" else "asc"
        assert f"dir={flipped}" in link.get("href") and link.get("hx-get") == link.get("href")
    week = dom.parse(page_client.get("/seats", params={"range": "7d", "sort": sort, "dir": "asc"}).text)
    assert all("range=7d" in a.get("href") for a in dom.select(card_titled(week, "Every seat"), "thead a:not(.info)"))
    assert page_client.get("/seats", params={"sort": "nope"}).status_code == 400
    assert page_client.get("/seats", params={"dir": "sideways"}).status_code == 400


def test_every_seat_filters_by_idle_and_search_kept_in_the_url(page_client, seat_rows, database_url):
    def people(**params):
        page = dom.parse(page_client.get("/seats", params={"range": "30d", **params}).text)
        return page, {dom.text(dom.select(tr, "td")[0]).split(" ")[0]
                      for tr in dom.select(card_titled(page, "Every seat"), "tbody tr")}  # fmt: skip

    _, idle = people(idle="1")
    assert idle == {"bob@example.com", "copilot:zed", "carol@example.com"}
    _, found = people(search="QUINN")
    assert found == {COPILOT_ONLY}
    _, by_login = people(search="quinn-gh")  # the vendor identity matches too
    assert by_login == {COPILOT_ONLY}
    page, both = people(idle="1", search="example", tool="cursor", sort="email", dir="asc")
    assert both == {"bob@example.com", "carol@example.com"}
    # the filters stay in the sort links, the tool tabs and the form; the summary is not narrowed by them
    link = dom.select(card_titled(page, "Every seat"), "thead a:not(.info)")[0].get("href")
    assert all(part in link for part in ("idle=1", "search=example", "tool=cursor"))
    tab = next(a for a in dom.select(page, 'nav[aria-label="Tool"] a') if dom.text(a) == "All tools")
    assert "idle=1" in tab.get("href") and "search=example" in tab.get("href") and "tool=" not in tab.get("href")
    form = dom.select(page, 'form[aria-label="Filter seats"]')[0]
    assert form.get("hx-get") == "/seats" and form.get("hx-target") == "#page-body"
    hidden = {i.get("name"): i.get("value") for i in dom.select(form, 'input[type="hidden"]')}
    assert hidden["sort"] == "email" and hidden["dir"] == "asc" and hidden["tool"] == "cursor"
    _, nothing = people(search="nobody-at-all")
    assert nothing == set()
    assert "No seat matches these filters." in page_client.get("/seats", params={"search": "nobody-at-all"}).text
    assert page_client.get("/seats", params={"idle": "yes"}).status_code == 400
    fragment = page_client.get("/seats", params={"idle": "1"}, headers={"HX-Request": "true", "HX-Target": "page-body"})
    assert fragment.status_code == 200 and "<html" not in fragment.text and 'id="page-body"' in fragment.text


def test_a_person_known_only_through_copilot_has_a_page(page_client, seat_rows):
    page = dom.parse(page_client.get("/seats", params={"range": "30d"}).text)
    links = [a.get("href") for a in dom.select(card_titled(page, "Every seat"), "tbody a")]
    assert any(href.startswith("/users/quinn%40example.com") for href in links)
    response = page_client.get("/users/quinn%40example.com", params={"range": "30d"})
    assert response.status_code == 200
    person = dom.parse(response.text)
    seats = [
        [dom.text(td) for td in dom.select(tr, "td")] for tr in dom.select(card_titled(person, "Seats"), "tbody tr")
    ]
    assert seats and seats[0][:2] == [tool_name("github_copilot"), "business"]
    activity = card_titled(person, "What the AI produced (30d)")
    row = [dom.text(td) for td in dom.select(dom.select(activity, "tbody tr")[0], "td")]
    assert row[1] == "42" and row[3] == "6 / 20" and row[4] == "30.0%"
    assert page_client.get("/users/quinn", params={"range": "30d"}).status_code in (200, 301)  # local part finds her
    assert page_client.get("/users/nobody-here%40example.com").status_code == 404


def test_seats_csv_takes_the_tables_filters(page_client, seat_rows):
    page = dom.parse(page_client.get("/seats", params={"range": "30d", "idle": "1", "search": "example"}).text)
    export = next(a.get("href") for a in dom.select(page, "a") if (a.get("href") or "").startswith("/export/seats"))
    assert "idle=1" in export and "search=example" in export
    response = page_client.get(export)
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["email"] for r in rows] == ["bob@example.com", "carol@example.com"]  # idle, matching, by person
    assert page_client.get("/export/seats.csv", params={"idle": "maybe"}).status_code == 400

"""Activity on the pages (docs/metrics.md §10): the Overview's and a person's "What the AI produced" card equal
independent SQL over the raw activity_daily rows."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import dom, seed
from tests.integration.pages_support import card_titled

TODAY = seed.TODAY
ADA = "ada@example.com"

ROWS = [
    # tool, organization, identity, email, days ago, sessions, added, removed, suggested, accepted, requests, commits,
    # pull requests, active
    ("claude_code", "anthropic:acme", "claude_code:ada@example.com", ADA, 1, 3, 120, 30, 50, 40, 0, 2, 1, True),
    ("claude_code", "anthropic:acme", "claude_code:ada@example.com", ADA, 2, 1, 80, 5, 50, 50, 0, 0, 0, True),
    (
        "claude_code",
        "anthropic:acme",
        "claude_code:ci-bot",
        "unmapped:claude_code:ci-bot",
        1,
        1,
        10,
        0,
        4,
        1,
        0,
        0,
        0,
        True,
    ),
    ("cursor", "cursor:core", "cursor:ada@example.com", ADA, 1, 0, 300, 20, 900, 310, 12, 0, 0, True),
    ("cursor", "cursor:core", "cursor:grace@example.com", "grace@example.com", 3, 0, 0, 0, 0, 0, 0, 0, 0, False),
    ("cursor", "cursor:core", "cursor:grace@example.com", "grace@example.com", 2, 0, 40, 1, 100, 30, 5, 0, 0, True),
    # outside a 7-day range
    ("cursor", "cursor:core", "cursor:ada@example.com", ADA, 20, 0, 999, 9, 999, 999, 9, 0, 0, True),
]


@pytest.fixture(scope="module")
def activity_rows(seeded_module, database_url):
    async def run() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text("TRUNCATE activity_daily"))
            for tool, org, identity, email, ago, *counts, active in ROWS:
                await conn.execute(
                    text(
                        "INSERT INTO activity_daily (tool, organization_id, identity, date, email, sessions, "
                        "lines_added, lines_removed, suggested, accepted, requests, commits, pull_requests, active) "
                        "VALUES (:tool, :org, :identity, :date, :email, :s, :la, :lr, :sg, :ac, :rq, :cm, :pr, :active)"
                    ),
                    dict(
                        tool=tool,
                        org=org,
                        identity=identity,
                        date=TODAY - timedelta(days=ago),
                        email=email,
                        s=counts[0],
                        la=counts[1],
                        lr=counts[2],
                        sg=counts[3],
                        ac=counts[4],
                        rq=counts[5],
                        cm=counts[6],
                        pr=counts[7],
                        active=active,
                    ),
                )
        await engine.dispose()

    asyncio.run(run())


def expected_rows(database_url: str, email: str | None) -> list[list[str]]:
    """The card's rows computed with plain SQL over activity_daily (7-day range ending today)."""

    async def run():
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT tool, SUM(lines_added), SUM(lines_removed), SUM(accepted), SUM(suggested), "
                        "SUM(sessions), SUM(requests), SUM(commits), SUM(pull_requests), "
                        "COUNT(*) FILTER (WHERE active) FROM activity_daily WHERE date > :start "
                        "AND (CAST(:email AS text) IS NULL OR email = :email) GROUP BY tool ORDER BY tool"
                    ),
                    {"start": TODAY - timedelta(days=7), "email": email},
                )
            ).all()
        await engine.dispose()
        return rows

    names = {"claude_code": "Claude Code", "cursor": "Cursor"}
    out = []
    for tool, added, removed, accepted, suggested, sessions, requests, commits, prs, days in asyncio.run(run()):
        rate = Fraction(int(accepted) * 1000, int(suggested))
        tenths = int(rate + Fraction(1, 2))
        out.append(
            [
                names[tool],
                f"{int(added):,}",
                f"{int(removed):,}",
                f"{int(accepted):,} / {int(suggested):,}",
                f"{tenths // 10}.{tenths % 10}%",
                f"{int(sessions):,}" if sessions else "—",
                f"{int(requests):,}" if requests else "—",
                f"{int(commits):,} · {int(prs):,}",
                f"{int(days):,}",
            ]
        )
    return out


def card_rows(html: str) -> list[list[str]]:
    card = card_titled(dom.parse(html), "What the AI produced (7d)")
    return [[dom.text(td) for td in dom.select(tr, "td")] for tr in dom.select(card, "tbody tr")]


def test_a_persons_page_shows_their_activity_by_tool(page_client, activity_rows, database_url):
    response = page_client.get("/users/ada%40example.com", params={"range": "7d"})
    assert response.status_code == 200
    rows = card_rows(response.text)
    assert rows == expected_rows(database_url, ADA)
    assert rows[0][:5] == ["Claude Code", "200", "35", "90 / 100", "90.0%"]


def test_the_overview_shows_what_the_ai_produced_for_everyone(page_client, activity_rows, database_url):
    response = page_client.get("/", params={"range": "7d"})
    assert response.status_code == 200
    rows = card_rows(response.text)
    assert rows == expected_rows(database_url, None)
    assert rows[1][-1] == "2"  # Ada's and Grace's active Cursor days; Grace's inactive day does not count


def sql_totals(database_url: str, email: str | None, tool: str | None) -> dict[str, dict[str, object]]:
    async def run():
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        "SELECT tool, SUM(sessions) s, SUM(lines_added) la, SUM(lines_removed) lr, SUM(suggested) sg, "
                        "SUM(accepted) ac, SUM(requests) rq, SUM(commits) cm, SUM(pull_requests) pr, "
                        "COUNT(DISTINCT email) FILTER (WHERE active) people, COUNT(*) FILTER (WHERE active) days "
                        "FROM activity_daily WHERE date > :start AND (CAST(:email AS text) IS NULL OR email = :email) "
                        "AND (CAST(:tool AS text) IS NULL OR tool = :tool) GROUP BY tool"
                    ),
                    {"start": TODAY - timedelta(days=7), "email": email, "tool": tool},
                )
            ).all()
        await engine.dispose()
        return rows

    return {
        r.tool: {
            "sessions": int(r.s),
            "lines_added": int(r.la),
            "lines_removed": int(r.lr),
            "suggested": int(r.sg),
            "accepted": int(r.ac),
            "acceptance_rate": int(r.ac) / int(r.sg) if r.sg else None,
            "requests": int(r.rq),
            "commits": int(r.cm),
            "pull_requests": int(r.pr),
            "active_people": int(r.people),
            "active_days": int(r.days),
        }
        for r in asyncio.run(run())
    }


@pytest.mark.parametrize(
    ("email", "tool"), [(None, None), (ADA, None), (None, "cursor"), ("grace@example.com", "cursor")]
)
def test_api_activity_equals_sql_over_the_raw_rows(page_client, activity_rows, database_url, email, tool):
    params = {"range": "7d", **({"email": email} if email else {}), **({"tool": tool} if tool else {})}
    response = page_client.get("/api/v1/activity", params=params)
    assert response.status_code == 200
    body = response.json()
    got = {t.pop("tool"): t for t in body["tools"]}
    assert got == sql_totals(database_url, email, tool)
    assert sum(d["lines_added"] for d in body["daily"]) == sum(t["lines_added"] for t in got.values())
    assert all(TODAY - timedelta(days=6) <= date.fromisoformat(d["date"]) <= TODAY for d in body["daily"])


@pytest.mark.parametrize(
    ("params", "parameter"), [({"tool": "notepad"}, "tool"), ({"email": "nobody"}, "email"), ({"range": "x"}, "range")]
)
def test_api_activity_refuses_bad_parameters(page_client, activity_rows, params, parameter):
    response = page_client.get("/api/v1/activity", params=params)
    assert response.status_code == 400 and response.json()["parameter"] == parameter


def test_the_usage_tools_view_shows_lines_per_day_and_activity_by_tool(page_client, activity_rows, database_url):
    page = dom.parse(page_client.get("/usage", params={"range": "7d", "view": "tools"}).text)
    chart = card_titled(page, "Lines added per day (7d)")
    titles = [t.text_content() for t in dom.select(chart, "svg title")]
    day = TODAY - timedelta(days=1)
    assert any(t.startswith(f"{day:%b} {day.day} — ") and "Cursor: 300 lines, 34.4% accepted" in t for t in titles)
    rows = [[dom.text(td) for td in dom.select(tr, "td")] for tr in dom.select(
        card_titled(page, "Activity by tool (7d)"), "tbody tr")]  # fmt: skip
    assert rows == expected_rows(database_url, None)


def test_the_team_table_has_sortable_activity_columns_and_exports_them(page_client, activity_rows, database_url):
    cols = "email,totalCost,linesAdded,acceptanceRate,activityDays,costPer1kLines"
    page = dom.parse(
        page_client.get("/team", params={"range": "7d", "cols": cols, "sort": "linesAdded", "dir": "desc"}).text
    )
    rows = [[dom.text(td) for td in dom.select(tr, "td")] for tr in dom.select(page, "table.team tbody tr")]
    # Ada in 7 days: 120 + 80 + 300 lines, 40 + 50 + 310 of 50 + 50 + 900 accepted, active on 2 days
    assert rows[0][0] == ADA and rows[0][2:5] == ["500", "40.0%", "2"]
    csv_rows = list(csv.DictReader(io.StringIO(page_client.get("/export/team.csv", params={"range": "7d"}).text)))
    ada = next(r for r in csv_rows if r["email"] == ADA)
    assert (ada["lines_added"], ada["acceptance_rate"], ada["ai_active_days"]) == ("500", "0.4", "2")
    cost = Decimal(ada["total_cost"])
    assert Decimal(ada["cost_per_1k_lines"]) == round(cost * 1000 / 500, 6)

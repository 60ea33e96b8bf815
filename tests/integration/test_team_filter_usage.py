"""`team=<slug>` on the Usage page family (docs/pages.md §1.3): the page, its CSV export and the JSON routes it
shares rows with count only the team's members, against independent SQL over the raw `usage_records` rows; the
choice is kept in every link and form of the page and in the nav; a bad slug is a 400 naming `team`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.pages_support import sql_rows
from tests.integration.team_support import ACTIVITY_SQL, END, RANGE, START, TOKENS, members_where, team_client


@pytest.fixture(scope="module")  # the tests only read: the seed and the teams are written once per module
def client(page_app: Any, seeded_module: None, database_url: str) -> Iterator[TestClient]:
    # what the AI produced: ada and grace in the range, linus only before it, someone in no team
    someone_else = ", ('cursor', 'cursor:zed', '2026-03-03', 'zed@example.com', 7, 1, 2, true)"
    with team_client(page_app, database_url, ACTIVITY_SQL + someone_else) as test_client:
        yield test_client


def raw_totals(database_url: str, slug: str | None) -> tuple[int, Decimal, int]:
    row = sql_rows(
        database_url,
        f"SELECT COALESCE(SUM({TOKENS}), 0) AS tokens, COALESCE(SUM(cost), 0) AS cost,"
        " COUNT(DISTINCT email) FILTER (WHERE email NOT LIKE 'unmapped:%') AS people"
        f" FROM usage_records WHERE date BETWEEN '{START}' AND '{END}' AND {members_where(slug)}",
    )[0]
    return int(row.tokens), Decimal(row.cost), int(row.people)


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_api_stats_and_models_equal_raw_rows_of_the_members(client: TestClient, database_url, slug) -> None:
    suffix = f"&team={slug}" if slug else ""
    stats = client.get(f"/api/v1/stats?{RANGE}{suffix}")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    tokens, cost, people = raw_totals(database_url, slug)
    assert tokens > 0
    assert body["total_tokens"] == tokens
    assert Decimal(str(body["total_cost"])).quantize(Decimal("0.01")) == cost.quantize(Decimal("0.01"))
    assert body["active_users"] == people
    per_tool = sql_rows(
        database_url,
        f"SELECT tool, SUM({TOKENS}) AS tokens, COUNT(DISTINCT email) FILTER (WHERE email NOT LIKE 'unmapped:%') AS n"
        f" FROM usage_records WHERE date BETWEEN '{START}' AND '{END}' AND {members_where(slug)} GROUP BY tool",
    )
    assert {t["tool"]: (t["tokens"], t["users"]) for t in body["tools"]} == {
        r.tool: (int(r.tokens), int(r.n)) for r in per_tool
    }

    models = client.get(f"/api/v1/models?{RANGE}{suffix}").json()
    pairs = sql_rows(
        database_url,
        f"SELECT model, tool, SUM({TOKENS}) AS tokens FROM usage_records"
        f" WHERE date BETWEEN '{START}' AND '{END}' AND {members_where(slug)} GROUP BY model, tool",
    )
    expected = sorted((-int(p.tokens), p.model, p.tool) for p in pairs)[:20]
    assert [(-m["tokens"], m["model"], m["tool"]) for m in models] == expected


def test_a_person_in_two_teams_counts_in_each_and_once_org_wide(client: TestClient, database_url) -> None:
    figures = {
        slug: client.get(f"/api/v1/stats?{RANGE}" + (f"&team={slug}" if slug else "")).json()
        for slug in (None, "core", "infra")
    }
    union = sql_rows(
        database_url,
        f"SELECT COALESCE(SUM({TOKENS}), 0) AS tokens, COALESCE(SUM({TOKENS}) FILTER"
        " (WHERE email = 'grace@example.com'), 0) AS grace FROM usage_records"
        f" WHERE date BETWEEN '{START}' AND '{END}' AND email IN"
        " ('ada@example.com', 'grace@example.com', 'linus@example.com')",
    )[0]
    assert int(union.grace) > 0
    both = figures["core"]["total_tokens"] + figures["infra"]["total_tokens"]
    assert both == int(union.tokens) + int(union.grace), "grace counts in each team"
    assert figures[None]["total_tokens"] == raw_totals(database_url, None)[0], "org-wide never double counts"
    # the cached org-wide figures are not served for a team (the team is part of the cache key) nor the reverse
    assert len({figures[s]["total_tokens"] for s in figures}) == 3


@pytest.mark.parametrize("view", ["models", "tools"])
def test_export_and_trends_rows_equal_raw_rows_of_the_members(client: TestClient, database_url, view) -> None:
    export = client.get(f"/export/usage.csv?{RANGE}&view={view}&team=core")
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    trends = client.get(f"/api/v1/models/trends?{RANGE}&view={view}&team=core").json()["trends"]
    keys = "date, model, tool" if view == "models" else "date, tool"
    raw = sql_rows(
        database_url,
        f"SELECT {keys}, SUM({TOKENS}) AS tokens, COUNT(DISTINCT email) AS users FROM usage_records"
        f" WHERE date BETWEEN '{START}' AND '{END}' AND {members_where('core')} GROUP BY {keys}",
    )
    assert raw
    if view == "models":
        expected = {(str(r.date), r.model, r.tool): int(r.tokens) for r in raw}
        assert {(r["date"], r["model"], r["tool"]): int(r["tokens"]) for r in rows} == expected
        assert {(t["date"], t["model"], t["tool"]): t["tokens"] for t in trends} == expected
    else:
        expected_tools = {(str(r.date), r.tool): (int(r.tokens), int(r.users)) for r in raw}
        assert {(r["date"], r["tool"]): (int(r["tokens"]), int(r["users"])) for r in rows} == expected_tools
        assert {(t["date"], t["tool"]): (t["tokens"], t["users"]) for t in trends} == expected_tools


@pytest.mark.parametrize("view", ["models", "tools"])
def test_usage_page_shows_the_team_and_keeps_it_everywhere(client: TestClient, database_url, view) -> None:
    page = client.get(f"/usage?{RANGE}&view={view}&team=infra")
    assert page.status_code == 200, page.text[:500]
    tokens, _, _ = raw_totals(database_url, "infra")
    assert f'title="{tokens:,} tokens"' in page.text, "the Total Tokens card is the members' raw sum"
    assert re.search(r'<select name="team">.*<option value="infra" selected>Infra</option>', page.text, re.S)
    assert '<form class="team-picker" method="get" action="/usage"' in page.text
    links = re.findall(r'href="(/usage\?[^"]*)"', page.text)
    assert any("range=7d" in link for link in links)
    assert all("team=infra" in link for link in links), "range presets, quick ranges and views keep the team"
    assert re.search(r'href="/export/usage\.csv\?[^"]*team=infra', page.text)
    assert re.search(r'<input type="hidden" name="team" value="infra">', page.text), "custom range form keeps it"
    for nav in ("/", "/team", "/commits", "/seats"):
        assert re.search(rf'href="{re.escape(nav)}\?[^"]*team=infra[^"]*"', page.text), nav
    everyone = client.get(f"/usage?{RANGE}&view={view}")
    org_tokens, _, _ = raw_totals(database_url, None)
    assert f'title="{org_tokens:,} tokens"' in everyone.text and 'href="/team?' in everyone.text
    assert "team=" not in " ".join(re.findall(r'href="(/[^"]*)"', everyone.text))


@pytest.mark.parametrize(
    "url",
    ["/usage", "/export/usage.csv", "/api/v1/stats", "/api/v1/trends", "/api/v1/models", "/api/v1/models/trends"],
)
@pytest.mark.parametrize("slug", ["nope", "<b>", "a" * 300])
def test_bad_team_is_a_400_naming_team(client: TestClient, url: str, slug: str) -> None:
    response = client.get(f"{url}?{RANGE}&team={slug}")
    assert response.status_code == 400
    if response.headers["content-type"].startswith("application/json"):
        assert response.json()["parameter"] == "team"
    else:
        assert "team" in response.text and "<b>" not in response.text, "named, and never echoed as markup"


def test_api_trends_sum_the_members_only(client: TestClient, database_url) -> None:
    body = client.get(f"/api/v1/trends?{RANGE}&team=infra").json()
    raw = sql_rows(
        database_url,
        f"SELECT date, SUM({TOKENS}) AS tokens FROM usage_records"
        f" WHERE date BETWEEN '{START}' AND '{END}' AND {members_where('infra')} GROUP BY date",
    )
    expected = {str(r.date): int(r.tokens) for r in raw}
    got = {p["date"]: sum(p["tools"].values()) for p in body["data"] if sum(p["tools"].values())}
    assert got == expected


def test_team_csv_keeps_only_the_members_and_the_team_page_links_it(client: TestClient, database_url) -> None:
    export = client.get(f"/export/team.csv?{RANGE}&team=infra")
    assert export.status_code == 200, export.text
    rows = list(csv.DictReader(io.StringIO(export.text)))
    raw = sql_rows(
        database_url,
        f"SELECT email, SUM({TOKENS}) AS tokens FROM usage_records WHERE date BETWEEN '{START}' AND '{END}'"
        f" AND {members_where('infra')} GROUP BY email",
    )
    assert raw
    assert {r["email"]: int(r["total_tokens"]) for r in rows} == {r.email: int(r.tokens) for r in raw}
    assert "team_infra_" in export.headers["content-disposition"]
    page = client.get(f"/team?{RANGE}&team=infra")
    assert re.search(r'href="/export/team\.csv\?[^"]*team=infra', page.text)
    assert re.search(r'href="/usage\?[^"]*team=infra', page.text), "the nav keeps the Team page's team"
    bad = client.get(f"/export/team.csv?{RANGE}&team=nope")
    assert bad.status_code == 400 and "team" in bad.text


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_api_activity_sums_the_members_activity(client: TestClient, database_url, slug) -> None:
    body = client.get(f"/api/v1/activity?{RANGE}" + (f"&team={slug}" if slug else "")).json()
    raw = sql_rows(
        database_url,
        "SELECT tool, SUM(lines_added) AS lines, COUNT(DISTINCT email) FILTER (WHERE active) AS people"
        f" FROM activity_daily WHERE date BETWEEN '{START}' AND '{END}' AND {members_where(slug)} GROUP BY tool",
    )
    assert raw or slug is not None, "the seed has activity in the range"
    assert {t["tool"]: (t["lines_added"], t["active_people"]) for t in body["tools"]} == {
        r.tool: (int(r.lines), int(r.people)) for r in raw
    }
    assert client.get(f"/api/v1/activity?{RANGE}&team=nope").json()["parameter"] == "team"


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_api_users_and_pivot_list_the_members(client: TestClient, database_url, slug) -> None:
    suffix = f"&team={slug}" if slug else ""
    raw = sql_rows(
        database_url,
        f"SELECT email, SUM({TOKENS}) AS tokens FROM usage_records WHERE date BETWEEN '{START}' AND '{END}'"
        f" AND email NOT LIKE 'unmapped:%' AND {members_where(slug)} GROUP BY email",
    )
    expected = {r.email: int(r.tokens) for r in raw}
    assert expected
    users = client.get(f"/api/v1/users?{RANGE}{suffix}&limit=100").json()
    assert {u["email"]: u["total_tokens"] for u in users} == expected
    pivot = client.get(f"/api/v1/users/pivot?{RANGE}{suffix}").json()
    assert {u["email"]: u["total_tokens"] for u in pivot["users"]} == expected
    assert client.get(f"/api/v1/users/pivot?{RANGE}&team=nope").json()["parameter"] == "team"

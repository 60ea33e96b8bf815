"""`team=<slug>` on the Overview (docs/pages.md §1.3): cards, top users, the commits card and the idle-spend card
count only the team's members, against independent SQL over raw `usage_records`, `commits` and `seats` rows; the
choice is kept in the page's links and in the nav; a bad slug is a 400 naming `team`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.pages_support import sql_rows
from tests.integration.team_support import END, RANGE, START, TOKENS, members_where, team_client
from tests.integration.test_team_filter_usage import raw_totals


@pytest.fixture(scope="module")  # the tests only read: the seed and the teams are written once per module
def client(page_app: Any, seeded_module: None, database_url: str) -> Iterator[TestClient]:
    # one Cursor seat each for ada (core) and linus (infra), held all range, never active → idle
    seats = (
        "INSERT INTO seats (tool, organization_id, identity, email, plan, since, price_usd, seen_at)"
        " VALUES ('cursor', 'org', 'cursor:ada-seat', 'ada@example.com', 'business',"
        " '2025-01-01T00:00:00Z', 40, now()),"
        " ('cursor', 'org', 'cursor:linus-seat', 'linus@example.com', 'business',"
        " '2025-01-01T00:00:00Z', 30, now())"
    )
    with team_client(page_app, database_url, seats) as test_client:
        yield test_client


def raw_commits(database_url: str, slug: str | None) -> tuple[int, int]:
    row = sql_rows(
        database_url,
        "SELECT COUNT(*) AS total, COUNT(*) FILTER (WHERE ai_tool IS NOT NULL) AS ai FROM commits"
        f" WHERE NOT (is_bot AND ai_tool IS NULL) AND (committed_at AT TIME ZONE 'UTC')::date"
        f" BETWEEN '{START}' AND '{END}' AND " + members_where(slug, "author_email"),
    )[0]
    return int(row.total), int(row.ai)


def top_emails(database_url: str, slug: str | None) -> list[str]:
    rows = sql_rows(
        database_url,
        f"SELECT email, SUM({TOKENS}) AS tokens FROM usage_records WHERE date BETWEEN '{START}' AND '{END}'"
        f" AND email NOT LIKE 'unmapped:%' AND {members_where(slug)} GROUP BY email ORDER BY tokens DESC, email",
    )
    return [r.email for r in rows][:10]


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_overview_figures_equal_raw_rows_of_the_members(client: TestClient, database_url, slug) -> None:
    page = client.get(f"/?{RANGE}" + (f"&team={slug}" if slug else ""))
    assert page.status_code == 200, page.text[:500]
    tokens, _, people = raw_totals(database_url, slug)
    assert f'title="{tokens:,} tokens"' in page.text, "Total Tokens card"
    assert f'<div class="stat-value">{people}<small>people</small>' in page.text, "Active Users card"
    top = re.search(r'<table class="top-users">.*?</table>', page.text, re.S)
    assert top is not None
    assert re.findall(r'<td class="email"><a [^>]*>([^<]+)</a>', top.group(0)) == top_emails(database_url, slug)
    total, ai = raw_commits(database_url, slug)
    assert total > 0
    assert f"{ai:,} of {total:,} commits" in page.text, "commits card over the members' commits"
    card = re.search(r'class="card idle-spend-card".*?</a>', page.text, re.S)
    assert card is not None
    held = re.search(r"(\d+) of (\d+) seats", card.group(0))
    assert held is not None and int(held.group(2)) == (2 if slug is None else 1), "the members' seats only"


def test_overview_keeps_the_team_in_its_links_and_the_nav(client: TestClient) -> None:
    page = client.get(f"/?{RANGE}&team=core")
    assert re.search(r'<option value="core" selected>Core</option>', page.text)
    for target in ("/usage", "/commits", "/seats", "/team"):
        assert re.search(rf'href="{target}\?[^"]*team=core', page.text), target
    presets = re.findall(r'href="(/\?[^"]*)"', page.text)
    assert presets and all("team=core" in link for link in presets), "range presets keep the team"
    assert '<input type="hidden" name="team" value="core">' in page.text
    response = client.get(f"/?{RANGE}&team=nope")
    assert response.status_code == 400 and "team" in response.text

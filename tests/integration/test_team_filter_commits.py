"""`team=<slug>` on the Commits page family (docs/pages.md §1.3): the page, /export/commits.csv and the commit JSON
routes count only commits whose author email is one of the team's members, against independent SQL over the raw
`commits` rows; the choice is kept in the page's links and forms; a bad slug is a 400 naming `team`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from tests.integration.pages_support import sql_rows
from tests.integration.team_support import END, RANGE, START, members_where, team_client


@pytest.fixture(scope="module")  # the tests only read: the seed and the teams are written once per module
def client(page_app: Any, seeded_module: None, database_url: str) -> Iterator[TestClient]:
    with team_client(page_app, database_url) as test_client:
        yield test_client


def raw_by_repo(database_url: str, slug: str | None) -> dict[str, tuple[int, int]]:
    """(commits, AI commits) per repository in the range, from the raw commits of the members (bots as counted)."""
    members = members_where(slug, "c.author_email")
    rows = sql_rows(
        database_url,
        "SELECT r.full_name, COUNT(*) AS total, COUNT(c.ai_tool) AS ai FROM commits c"
        " JOIN repositories r ON r.id = c.repo_id WHERE NOT (c.is_bot AND c.ai_tool IS NULL)"
        f" AND (c.committed_at AT TIME ZONE 'UTC')::date BETWEEN '{START}' AND '{END}' AND {members}"
        " GROUP BY r.full_name",
    )
    return {r.full_name: (int(r.total), int(r.ai)) for r in rows}


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_commit_figures_equal_raw_commits_of_the_members(client: TestClient, database_url, slug) -> None:
    suffix = f"&team={slug}" if slug else ""
    expected = raw_by_repo(database_url, slug)
    assert expected
    stats = client.get(f"/api/v1/stats/commits?{RANGE}{suffix}")
    assert stats.status_code == 200, stats.text
    body = stats.json()
    assert body["total_commits"] == sum(t for t, _ in expected.values())
    assert body["ai_assisted_commits"] == sum(a for _, a in expected.values())
    pivot = client.get(f"/api/v1/commits/pivot?{RANGE}{suffix}&limit=1000").json()
    got = {r["full_name"]: (r["total_commits"], r["ai_assisted_commits"]) for r in pivot["repositories"]}
    assert got == expected
    trends = client.get(f"/api/v1/commits/trends?{RANGE}{suffix}").json()
    assert sum(d["total_commits"] for d in trends["daily"]) == sum(t for t, _ in expected.values())
    export = client.get(f"/export/commits.csv?{RANGE}{suffix}")
    assert export.status_code == 200
    rows = {
        r["repository"]: (int(r["total_commits"]), int(r["ai_assisted_commits"]))
        for r in csv.DictReader(io.StringIO(export.text))
    }
    assert rows == expected
    page = client.get(f"/commits?{RANGE}{suffix}")
    assert page.status_code == 200
    total = sum(t for t, _ in expected.values())
    assert f'title="{total:,} commit' in page.text, "Total Commits card"


def test_commits_page_keeps_the_team(client: TestClient) -> None:
    page = client.get(f"/commits?{RANGE}&team=infra")
    assert re.search(r'<option value="infra" selected>Infra</option>', page.text)
    links = re.findall(r'href="(/commits\?[^"]*)"', page.text)
    assert links and all("team=infra" in link for link in links), "range, sort, chips and pages keep the team"
    assert '<input type="hidden" name="team" value="infra">' in page.text
    for url in ("/commits", "/export/commits.csv", "/api/v1/stats/commits", "/api/v1/commits/pivot"):
        assert client.get(f"{url}?{RANGE}&team=nope").status_code == 400, url

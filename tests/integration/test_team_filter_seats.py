"""`team=<slug>` on the Seats page family (docs/pages.md §1.3): /seats, /export/seats.csv and /api/v1/seats keep
only the seats, active people and usage cost of the team's members, against independent SQL over the raw `seats`
and `usage_records` rows; the choice is kept in the page's links and forms; a bad slug is a 400 naming `team`."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal

import pytest
from litestar.testing import TestClient

from tests.integration.pages_support import sql_rows
from tests.integration.team_support import END, RANGE, START, TEAMS, members_where
from tests.integration.test_team_filter_overview import client  # noqa: F401 (fixture: teams and two Cursor seats)


def raw_seat_emails(database_url: str, slug: str | None) -> list[str]:
    rows = sql_rows(database_url, f"SELECT email FROM seats WHERE {members_where(slug)} ORDER BY email")
    return [r.email for r in rows]


@pytest.mark.parametrize("slug", [None, "core", "infra"])
def test_seat_figures_are_the_members_only(client: TestClient, database_url, slug) -> None:  # noqa: F811
    suffix = f"&team={slug}" if slug else ""
    expected = raw_seat_emails(database_url, slug)
    assert expected
    body = client.get(f"/api/v1/seats?{RANGE}{suffix}").json()
    assert sorted(s["email"] for s in body["seats"]) == expected
    cursor = next(t for t in body["tools"] if t["tool"] == "cursor")
    assert cursor["seats"] == len(expected)
    usage = sql_rows(
        database_url,
        f"SELECT COALESCE(SUM(cost), 0) AS cost FROM usage_records WHERE tool = 'cursor'"
        f" AND date BETWEEN '{START}' AND '{END}' AND {members_where(slug)}",
    )[0].cost
    assert Decimal(str(cursor["usage_cost_usd"])).quantize(Decimal("0.01")) == Decimal(usage).quantize(Decimal("0.01"))
    export = client.get(f"/export/seats.csv?{RANGE}{suffix}")
    assert export.status_code == 200
    assert sorted(r["email"] for r in csv.DictReader(io.StringIO(export.text))) == expected
    page = client.get(f"/seats?{RANGE}{suffix}")
    assert page.status_code == 200
    for email in ("ada@example.com", "linus@example.com"):
        assert (f">{email}</a>" in page.text) == (email in expected), email


def test_seats_page_keeps_the_team(client: TestClient) -> None:  # noqa: F811
    page = client.get(f"/seats?{RANGE}&team=core")
    assert re.search(r'<option value="core" selected>Core</option>', page.text)
    links = re.findall(r'href="(/(?:seats|export/seats\.csv)\?[^"]*)"', page.text)
    assert links and all("team=core" in link for link in links), "tabs, range, sort and export keep the team"
    assert '<input type="hidden" name="team" value="core">' in page.text
    assert set(TEAMS) == {"core", "infra"}
    for url in ("/seats", "/export/seats.csv", "/api/v1/seats"):
        response = client.get(f"{url}?{RANGE}&team=nope")
        assert response.status_code == 400 and "team" in response.text, url

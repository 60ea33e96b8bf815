"""The Team page's team filter (`team=<slug>`) and By-team view (`group=team`) over HTTP, against independent SQL
over the raw `usage_records` rows: a person in two teams counts in each team's row and once in org-wide figures."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from litestar.testing import TestClient

from abacus.db import create_engine, session_factory
from abacus.services.teams import set_member
from tests import seed
from tests.integration.pages_support import sql_rows, sql_value
from tests.integration.team_support import ACTIVITY_SQL, RANGE, TEAMS, team_client
from tests.integration.test_team_page import parse_table
from tests.support import run_async


@pytest.fixture()
def client(page_app: Any, seeded: None, database_url: str) -> Iterator[TestClient]:
    with team_client(page_app, database_url, ACTIVITY_SQL, empty_team=True) as test_client:
        yield test_client


def raw_people(database_url: str, emails: tuple[str, ...] | None) -> dict[str, tuple[int, Decimal]]:
    """Tokens and cost per mapped person in the range, straight from usage_records."""
    rows = sql_rows(
        database_url,
        "SELECT email, SUM(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens) AS tokens,"
        " SUM(cost) AS cost FROM usage_records WHERE date BETWEEN '2026-02-01' AND '2026-03-10'"
        " AND email NOT LIKE 'unmapped:%' GROUP BY email",
    )
    return {r.email: (int(r.tokens), Decimal(r.cost)) for r in rows if emails is None or r.email in emails}


def money(value: Decimal) -> str:
    return f"${value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"


def exact(tokens: int) -> str:
    return f"{tokens:,} tokens"


def tokens_of(title: str | None) -> int:
    assert title is not None and title.endswith(" tokens")
    return int(title.removesuffix(" tokens").replace(",", ""))


def test_team_filter_lists_only_that_teams_people_and_keeps_it_in_links(client: TestClient, database_url) -> None:
    page = client.get(f"/team?{RANGE}&team=infra")
    assert page.status_code == 200
    table = parse_table(page.text)
    expected = raw_people(database_url, TEAMS["infra"])
    assert {row[0][0] for row in table.rows} == set(expected)
    for row in table.rows:
        assert row[1][1] == exact(expected[row[0][0]][0]), "tokens equal the raw rows"
    assert table.foot[0][0] == f"Total ({len(expected)})"
    links = re.findall(r'href="(/team\?[^"]*)"', page.text)
    sort_links = [link for link in links if "sort=" in link]
    assert sort_links and all("team=infra" in link for link in sort_links), "sort links keep the team"
    assert any("range=7d" in link and "team=infra" in link for link in links), "range links keep the team"
    assert 'aria-current="true">Infra</a>' in page.text
    assert client.get(f"/team?{RANGE}&team=nope").status_code == 400
    bad = client.get(f"/team?{RANGE}&team=<b>")
    assert bad.status_code == 400 and "<b>" not in bad.text


def test_group_by_team_counts_a_person_in_each_team_and_once_overall(client: TestClient, database_url) -> None:
    page = client.get(f"/team?{RANGE}&group=team")
    assert page.status_code == 200
    table = parse_table(page.text)
    assert table.head[:7] == ["Team", "Members", "Active", "Total Tokens", "Cost", "Lines Added", "Acceptance"]
    rows = {row[0][0]: row for row in table.rows}
    assert set(rows) == {"Core", "Infra", "Empty"}
    for slug, emails in TEAMS.items():
        people = raw_people(database_url, emails)
        row = rows[slug.title()]
        assert row[1][0] == str(len(emails))
        assert row[2][0] == str(len(people))
        assert row[3][1] == exact(sum(t for t, _ in people.values()))
        assert row[4][1] == money(sum((c for _, c in people.values()), Decimal(0)))
    assert rows["Empty"][1][0] == "0" and rows["Empty"][3][1] == exact(0)
    # lines and acceptance (M-LINES, M-ACCEPT) over the members' activity in the range: grace counts in both teams
    assert [rows["Core"][5][0], rows["Core"][6][0]] == ["130", "81.7%"]  # (40 + 9) / (50 + 10)
    assert [rows["Infra"][5][0], rows["Infra"][6][0]] == ["30", "90.0%"]  # linus's day is outside the range
    assert [rows["Empty"][5][0], rows["Empty"][6][0]] == ["0", "—"]
    assert [table.foot[5][0], table.foot[6][0]] == ["130", "81.7%"], "each person once in the last line"

    everyone = raw_people(database_url, ("ada@example.com", "grace@example.com", "linus@example.com"))
    once = sum(t for t, _ in everyone.values())
    assert table.foot[1][0] == "3", "grace is in two teams but one person"
    assert table.foot[3][1] == exact(once)
    per_row = sum(tokens_of(rows[s.title()][3][1]) for s in TEAMS)
    grace = raw_people(database_url, ("grace@example.com",))["grace@example.com"][0]
    assert grace > 0 and per_row == once + grace, "grace counts in both rows, once in the total"
    org = client.get(f"/team?{RANGE}")
    org_total = tokens_of(parse_table(org.text).foot[1][1])
    assert org_total == sum(t for t, _ in raw_people(database_url, None).values()), "org figures never double count"
    assert client.get(f"/team?{RANGE}&group=team&team=core").status_code == 400
    assert client.get(f"/team?{RANGE}&group=teams").status_code == 400


def test_membership_changes_show_at_once(client: TestClient, database_url) -> None:
    before = parse_table(client.get(f"/team?{RANGE}&team=core").text)
    assert len(before.rows) == 2

    async def add() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await set_member(db, "core", "linus@example.com", "lead", actor="test")
        await engine.dispose()

    run_async(add())
    after = parse_table(client.get(f"/team?{RANGE}&team=core").text)
    assert {r[0][0] for r in after.rows} == {"ada@example.com", "grace@example.com", "linus@example.com"}
    assert sql_value(database_url, "SELECT COUNT(*) FROM team_members WHERE team_slug = 'core'") == 3
    assert seed.TODAY.isoformat() == "2026-03-10"

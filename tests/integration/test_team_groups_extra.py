"""The Team page's By-team view (`group=team`, docs/pages.md §4): the AI-commit share and idle spend columns of each
team against independent SQL over the raw `commits` rows and the seat-cost rule over the raw `seats` rows; a person
in two teams counts in each row and once in the last line."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from litestar.testing import TestClient
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.domain.seats import seat_cost
from tests.integration.pages_support import sql_rows
from tests.integration.team_support import END, RANGE, START, TEAMS
from tests.integration.test_team_filter_overview import client  # noqa: F401 (fixture: teams and two Cursor seats)
from tests.integration.test_team_page import parse_table
from tests.support import run_async


def ai_share(database_url: str, emails: tuple[str, ...]) -> str:
    listed = ", ".join(f"'{e}'" for e in emails)
    row = sql_rows(
        database_url,
        "SELECT COUNT(*) AS total, COUNT(ai_tool) AS ai FROM commits WHERE NOT (is_bot AND ai_tool IS NULL)"
        f" AND (committed_at AT TIME ZONE 'UTC')::date BETWEEN '{START}' AND '{END}' AND author_email IN ({listed})",
    )[0]
    assert row.total > 0
    percent = (Decimal(row.ai) * 100 / Decimal(row.total)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return f"{percent}%"


def test_group_rows_have_ai_commit_share_and_idle_spend(client: TestClient, database_url) -> None:  # noqa: F811
    # grace (in both teams) holds a seat of a tool nobody uses: idle over the whole range
    async def insert() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await db.execute(
                text(
                    "INSERT INTO seats (tool, organization_id, identity, email, plan, since, price_usd, seen_at)"
                    " VALUES ('windsurf', 'org', 'windsurf:grace', 'grace@example.com', NULL,"
                    " '2025-01-01T00:00:00Z', 31, now())"
                )
            )
        await engine.dispose()

    run_async(insert())
    page = client.get(f"/team?{RANGE}&group=team")
    assert page.status_code == 200, page.text[:500]
    table = parse_table(page.text)
    assert table.head[-2:] == ["AI Commits", "Idle Spend"]
    rows = {row[0][0]: row for row in table.rows}
    idle = seat_cost(Decimal(31), date(2025, 1, 1), None, date.fromisoformat(START), date.fromisoformat(END))
    money = f"${idle.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,.2f}"
    assert idle > 0
    for slug, emails in TEAMS.items():
        row = rows[slug.title()]
        assert row[7][0] == ai_share(database_url, emails)
        assert row[8][0] == money, "grace's idle seat counts in each of her teams"
    everyone = ("ada@example.com", "grace@example.com", "linus@example.com")
    assert table.foot[7][0] == ai_share(database_url, everyone)
    assert table.foot[8][0] == money, "and once in the last line"

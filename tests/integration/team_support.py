"""What the team-filter tests share: two overlapping teams over tests/seed.py (grace is in both), the range they read,
independent SQL helpers over the raw rows, and a client signed in after the teams (and any extra rows) are written."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from litestar.testing import TestClient
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.services.teams import create_team, set_member
from tests.integration.pages_support import sign_in_test_client
from tests.support import run_async

START, END = "2026-02-01", "2026-03-10"
RANGE = f"start={START}&end={END}"
TEAMS = {"core": ("ada@example.com", "grace@example.com"), "infra": ("grace@example.com", "linus@example.com")}
TOKENS = "input_tokens + cache_write_tokens + cache_read_tokens + output_tokens"

ACTIVITY_SQL = (
    "INSERT INTO activity_daily (tool, identity, date, email, lines_added, accepted, suggested, active)"
    " VALUES ('claude_code', 'claude_code:ada', '2026-03-01', 'ada@example.com', 100, 40, 50, true),"
    " ('cursor', 'cursor:grace', '2026-03-02', 'grace@example.com', 30, 9, 10, true),"
    " ('cursor', 'cursor:linus', '2026-01-01', 'linus@example.com', 999, 1, 1, true)"
)
"""What the AI produced (activity_daily): ada and grace in the range, linus only before it."""


def members_where(slug: str | None, column: str = "email") -> str:
    """The raw rows' filter: the team's emails written out (not the app's subquery), or every row."""
    if slug is None:
        return "TRUE"
    return f"{column} IN (" + ", ".join(f"'{e}'" for e in TEAMS[slug]) + ")"


@contextmanager
def team_client(page_app: Any, database_url: str, *statements: str, empty_team: bool = False) -> Iterator[TestClient]:
    """TEAMS (and an `empty` team with no members when asked) plus `statements`, written in one transaction over the
    seeded data; then a TestClient signed in as grace@example.com."""

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as db, db.begin():
                for slug, emails in TEAMS.items():
                    await create_team(db, slug, slug.title(), actor="test")
                    for email in emails:
                        await set_member(db, slug, email, "member", actor="test")
                if empty_team:
                    await create_team(db, "empty", "Empty", actor="test")
                for statement in statements:
                    await db.execute(text(statement))
        finally:
            await engine.dispose()

    run_async(run())
    with TestClient(page_app, base_url="http://testserver.local") as client:
        sign_in_test_client(client, "grace@example.com")
        yield client

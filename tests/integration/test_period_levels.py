"""The monthly and weekly levels are moved, not re-summed (`abacus.rollups`): the cases that need more than adding
and subtracting sums — a key that lost the row of its first day, a key left with no row in its period, a person who
gains or loses an active day — each leave the levels equal to the raw rows, with the figures a page shows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from abacus.records import UsageRow
from abacus.rollups import rollup_mismatches
from abacus.services.mappings import delete_mapping, set_mapping
from abacus.sync.usage_store import store_usage
from tests.support import run_async

MONDAY, THURSDAY, NEXT_MONDAY = date(2026, 3, 2), date(2026, 3, 5), date(2026, 3, 9)


def row(day: date, who: str, tool: str = "cursor", tokens: int = 10, ms: int = 1) -> UsageRow:
    return UsageRow(
        date=day,
        identity=f"{tool}:{who}",
        tool=tool,
        model="gpt-5",
        raw_model="gpt-5",
        input_tokens=tokens,
        cost=Decimal("0.5"),
        timestamp_ms=ms,
        organization_id="cursor:core",
    )


async def _levels(database_url: str, steps) -> list[dict[str, object]]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    seen = []
    try:
        for step in steps:
            async with sessionmaker() as db, db.begin():
                await step(db)
            async with sessionmaker() as db:
                assert await rollup_mismatches(db) == 0
                monthly = await db.execute(
                    text("SELECT email, tool, total_tokens, first_date FROM usage_user_monthly ORDER BY 1, 2")
                )
                weekly = await db.execute(
                    text("SELECT week, email, tool, first_date FROM usage_user_weekly ORDER BY 1, 2, 3")
                )
                days = await db.execute(text("SELECT email, days FROM usage_person_monthly ORDER BY 1"))
                seen.append(
                    {
                        "monthly": [tuple(r) for r in monthly],
                        "weekly": [tuple(r) for r in weekly],
                        "days": [tuple(r) for r in days],
                    }
                )
    finally:
        await engine.dispose()
    return seen


def test_moved_levels_follow_first_days_empty_keys_and_active_days(clean_db: None, database_url: str) -> None:
    async def first_rows(db):
        await store_usage(db, [row(THURSDAY, "ada@x.io"), row(NEXT_MONDAY, "ada@x.io", ms=2)])
        await store_usage(db, [row(MONDAY, "ada@x.io", tool="claude_code", ms=3)])

    async def earlier_day(db):  # a new first day of the month and of the week
        await store_usage(db, [row(MONDAY, "ada@x.io", ms=4, tokens=5)])

    async def map_away(db):  # ada's Cursor rows go to another person: her Cursor keys lose every row
        await set_mapping(db, "cursor", "ada@x.io", "bo@x.io", updated_by="test")

    async def map_back(db):
        await delete_mapping(db, "cursor", "ada@x.io")

    seen = run_async(_levels(database_url, [first_rows, earlier_day, map_away, map_back]))
    march = [
        {
            "monthly": [("ada@x.io", "claude_code", 10, MONDAY), ("ada@x.io", "cursor", 20, THURSDAY)],
            "days": [("ada@x.io", 3)],
        },
        {
            "monthly": [("ada@x.io", "claude_code", 10, MONDAY), ("ada@x.io", "cursor", 25, MONDAY)],
            "days": [("ada@x.io", 3)],
        },
        {
            "monthly": [("ada@x.io", "claude_code", 10, MONDAY), ("bo@x.io", "cursor", 25, MONDAY)],
            "days": [("ada@x.io", 1), ("bo@x.io", 3)],  # Monday stays active for Ada through Claude Code
        },
    ]
    for state, expected in zip(seen, march, strict=False):
        assert {k: state[k] for k in expected} == expected
    assert seen[3] == seen[1]  # mapped back: every level as before, the empty keys gone
    assert ("bo@x.io", 3) not in seen[3]["days"]
    assert seen[1]["weekly"] == [
        (MONDAY, "ada@x.io", "claude_code", MONDAY),
        (MONDAY, "ada@x.io", "cursor", MONDAY),
        (NEXT_MONDAY, "ada@x.io", "cursor", NEXT_MONDAY),
    ]

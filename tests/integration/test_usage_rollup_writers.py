"""Two transactions writing usage at once stay exact: the per-person levels (weekly and monthly active days, lifetime
spans) span tools, so a Claude Code sync and a Cursor sync of the same person and week touch the same rollup rows
(the worker runs both at start-up and every 6 hours)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.records import UsageRow
from abacus.rollups import rollup_mismatches
from abacus.sync.usage_store import store_usage

DAY = date(2026, 3, 4)


def usage(tool: str, identity: str, model: str, tokens: int) -> UsageRow:
    return UsageRow(
        date=DAY,
        identity=identity,
        tool=tool,
        model=model,
        raw_model=model,
        input_tokens=tokens,
        cost=Decimal("0.25"),
        tool_record_id=f"{tool}-{tokens}",
        organization_id=f"{tool}:default",
    )


CLAUDE = usage("claude_code", "claude_code:ada@example.com", "claude-sonnet-4", 100)
CURSOR = usage("cursor", "cursor:ada@example.com", "gpt-5", 40)


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=3)
    yield session_factory(engine)
    await engine.dispose()


async def test_two_tools_of_one_person_written_at_once(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    first_stored = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with sessionmaker() as db, db.begin():
            await store_usage(db, [CLAUDE])
            first_stored.set()
            await release.wait()

    async def second() -> None:
        await first_stored.wait()
        async with sessionmaker() as db, db.begin():
            await store_usage(db, [CURSOR])

    task_one = asyncio.create_task(first())
    task_two = asyncio.create_task(second())
    await first_stored.wait()
    await asyncio.sleep(0.3)
    assert not task_two.done(), "the second writer's rollup refresh waits for the first transaction"
    release.set()
    await asyncio.gather(task_one, task_two)
    async with sessionmaker() as db:
        assert await rollup_mismatches(db) == 0
        weekly = (await db.execute(text("SELECT email, days FROM usage_person_weekly"))).all()
        tools = (await db.execute(text("SELECT tool, total_tokens FROM usage_user_tools ORDER BY tool"))).all()
    assert [tuple(r) for r in weekly] == [("ada@example.com", 1)]
    assert [tuple(r) for r in tools] == [("claude_code", 100), ("cursor", 40)]

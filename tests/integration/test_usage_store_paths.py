"""The usage store's two ways of writing a batch give the rows and rollups the upsert defines (sync/usage_store.py):
a batch none of whose (date, tool, organization) is stored is COPYed straight into usage_records; otherwise it is
staged and upserted, leaving unchanged rows alone and refreshing only the slices it changed. A key a concurrent
writer commits between the probe and the COPY sends the batch down the upsert path instead of failing it."""

from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from abacus.records import UsageRow
from abacus.rollups import rollup_mismatches
from abacus.sync.usage_store import store_usage
from tests.support import run_async

DAY = date(2026, 3, 2)
ADA = UsageRow(
    date=DAY,
    identity="cursor:ada@example.com",
    tool="cursor",
    model="gpt-5",
    raw_model="gpt-5",
    input_tokens=10,
    output_tokens=2,
    cost=Decimal("0.25"),
    timestamp_ms=1_772_409_600_000,
    organization_id="cursor:core",
)
LIN = ADA._replace(identity="cursor:lin@example.com", timestamp_ms=ADA.timestamp_ms + 1, input_tokens=3)
STORED = text(
    "SELECT email, identity, input_tokens, output_tokens, cost, created_at, updated_at FROM usage_records "
    "ORDER BY identity"
)
DAILY = text("SELECT email, input_tokens, record_count FROM usage_daily ORDER BY email")


def _sessionmaker(database_url: str) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(create_async_engine(database_url, poolclass=NullPool), expire_on_commit=False)


def test_a_new_batch_and_its_reread(clean_db: None, database_url: str) -> None:
    sessionmaker = _sessionmaker(database_url)

    async def run() -> None:
        async with sessionmaker() as db, db.begin():  # nothing stored for (DAY, cursor, core): straight COPY
            assert await store_usage(db, [ADA, LIN, ADA._replace(input_tokens=11)]) == 2  # last of a key wins
        async with sessionmaker() as db:
            first = (await db.execute(STORED)).all()
            assert [(r.email, r.input_tokens, r.cost) for r in first] == [
                ("ada@example.com", 11, Decimal("0.25")),
                ("lin@example.com", 3, Decimal("0.25")),
            ]
            assert (await db.execute(DAILY)).all() == [("ada@example.com", 11, 1), ("lin@example.com", 3, 1)]
            assert await rollup_mismatches(db) == 0
        async with sessionmaker() as db, db.begin():  # the same window again: stored, unchanged → nothing written
            assert await store_usage(db, [ADA._replace(input_tokens=11), LIN]) == 2
        async with sessionmaker() as db:
            assert (await db.execute(STORED)).all() == first  # not even updated_at moved
        async with sessionmaker() as db, db.begin():  # the provider changed one row: replaced, its slice refreshed
            assert await store_usage(db, [ADA._replace(input_tokens=12), LIN]) == 2
        async with sessionmaker() as db:
            again = (await db.execute(STORED)).all()
            assert [r.input_tokens for r in again] == [12, 3]
            assert again[0].updated_at > first[0].updated_at and again[1] == first[1]
            assert (await db.execute(DAILY)).all() == [("ada@example.com", 12, 1), ("lin@example.com", 3, 1)]
            assert await rollup_mismatches(db) == 0

    run_async(run())


def test_a_key_committed_by_a_concurrent_writer_is_upserted(clean_db: None, database_url: str) -> None:
    sessionmaker = _sessionmaker(database_url)

    async def run() -> None:
        async with sessionmaker() as other, sessionmaker() as db:
            await other.begin()
            await store_usage(other, [ADA])  # not committed: the probe below cannot see it
            await db.begin()
            writing = asyncio.create_task(store_usage(db, [ADA._replace(input_tokens=40), LIN]))
            await asyncio.sleep(0.5)  # the COPY waits on the other writer's key …
            assert not writing.done()
            await other.commit()  # … which then exists: the batch is upserted instead
            assert await writing == 2
            await db.commit()
        async with sessionmaker() as db:
            assert [(r.identity, r.input_tokens) for r in (await db.execute(STORED))] == [
                ("cursor:ada@example.com", 40),
                ("cursor:lin@example.com", 3),
            ]
            assert await rollup_mismatches(db) == 0

    run_async(run())

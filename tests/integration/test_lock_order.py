"""Writers queue in one lock order — the provisional lock (writers of Claude Code days), then the data-version row,
then a rollup lock — so two writers wait for each other instead of deadlocking.

A window store of a Claude Code day (the Anthropic forward sync or backfill) takes the provisional lock, then writes
usage rows (the data-version row lock, by trigger). A mapping or bot-flag change of a Claude Code identity used to
write its own row first (taking the data-version row) and the provisional lock after: run beside a store, each held
what the other waited for, and PostgreSQL killed one of them ("deadlock detected"; seen in the worker-restart test,
where the start-up forward sync's API-key mapping refresh met the backfill). Each case here starts the change while
a store holds the provisional lock, lets the store write, and expects both to commit. Likewise a rollup rebuild that
took the rollup lock before its first write deadlocked with a store that had written and was about to refresh."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from abacus.provisional import lock_provisional
from abacus.records import UsageRow
from abacus.rollups import rebuild_derived, refresh_rollup, rollup_mismatches
from abacus.services.bots import set_bot
from abacus.services.mappings import delete_mapping, lock_for_claude_code_days, set_mapping
from abacus.sync.usage_store import store_usage, upsert_usage
from tests.support import run_async

DAY = date(2026, 3, 2)


def claude_code_row(key: str, ms: int) -> UsageRow:
    return UsageRow(
        date=DAY,
        identity=f"claude_code:{key}",
        tool="claude_code",
        model="sonnet-4.5",
        raw_model="claude-sonnet-4-5",
        input_tokens=100,
        output_tokens=10,
        cost=Decimal("0.25"),
        timestamp_ms=ms,
        organization_id="anthropic:acme",
    )


Change = Callable[[AsyncSession], Awaitable[object]]


async def accept_all(db: AsyncSession) -> None:
    """Mappings → "Accept all suggestions": several sources in one transaction, a GitHub one first (its row takes
    the data-version lock), so the lock is taken for all of them before the first (web/pages/mappings.py)."""
    await lock_for_claude_code_days(db, "github", "claude_code")
    await set_mapping(db, "github", "4242", "ada@example.com", updated_by="test")
    await set_mapping(db, "claude_code", "ci-key", "ada@example.com", updated_by="test")


CHANGES: dict[str, Change] = {
    "mapping set": lambda db: set_mapping(db, "claude_code", "ci-key", "ada@example.com", updated_by="test"),
    "mapping set, only if absent (the API-key refresh)": lambda db: set_mapping(
        db, "claude_code", "ci-key", "ada@example.com", updated_by="sync:anthropic", only_if_absent=True
    ),
    "mapping deleted": lambda db: delete_mapping(db, "claude_code", "ci-key"),
    "bot flag": lambda db: set_bot(db, "claude_code", "ci-key", True, updated_by="test"),
    "accept all suggestions": accept_all,
}


async def _side_by_side(database_url: str, begin: Change, other: Change, finish: Change) -> int:
    """One transaction does `begin`; `other` starts in a second transaction and gets as far as its locks let it; the
    first does `finish` and commits; then `other` must commit too (before the fixes: DeadlockDetectedError). Returns
    the rollup mismatches after both (0: the rollups equal the rows)."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as db, db.begin():  # what was there: the key's rows of another day
            await store_usage(db, [claude_code_row("ci-key", 1)._replace(date=date(2026, 3, 1))])
        async with sessions() as first:
            await first.begin()
            await begin(first)

            async def second() -> None:
                async with sessions() as db, db.begin():
                    await other(db)

            running = asyncio.create_task(second())
            await asyncio.sleep(0.4)  # the second is under way: blocked where its transaction first waits
            await finish(first)
            await first.commit()
        await asyncio.wait_for(running, 20)
        async with sessions() as db:
            return await rollup_mismatches(db)
    finally:
        await engine.dispose()


async def store_day(db: AsyncSession) -> None:
    await store_usage(db, [claude_code_row("ci-key", 2), claude_code_row("other", 3)])


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
def test_an_identity_change_beside_a_claude_code_store_waits_instead_of_deadlocking(
    database_url: str, clean_db: None, change: str
) -> None:
    # a window store of a Claude Code day, as sync/windows._store does: the provisional lock, then the rows
    assert run_async(_side_by_side(database_url, lock_provisional, CHANGES[change], store_day)) == 0


async def write_rows(db: AsyncSession) -> None:
    await upsert_usage(db, [claude_code_row("ci-key", 2), claude_code_row("other", 3)])


async def refresh_day(db: AsyncSession) -> None:
    await refresh_rollup(db, [(DAY, "claude_code")])


async def rebuild(db: AsyncSession) -> None:
    """`abacus db rebuild-rollups`: a refresh in a transaction that has written nothing yet."""
    await refresh_rollup(db, [(DAY, "claude_code")])
    await rebuild_derived(db)


def test_a_rollup_rebuild_beside_a_store_waits_instead_of_deadlocking(database_url: str, clean_db: None) -> None:
    # a store has written its rows (it holds the data-version row) and is about to refresh its rollups
    assert run_async(_side_by_side(database_url, write_rows, rebuild, refresh_day)) == 0

"""A GET request's cached queries read the data version once (cache.one_version_per_request); a transaction that
has written still reads its own version on every call, so it never fills the cache."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from redis.asyncio import Redis
from sqlalchemy import event, text
from sqlalchemy.engine import Engine

from abacus.db import concurrently, create_engine, session_factory
from abacus.queries import cache
from abacus.queries.lifetime import lifetime_stats
from abacus.queries.status import data_from, status_figures
from tests.support import run_async


@contextmanager
def _version_reads() -> Iterator[list[str]]:
    """Every data-version read of any engine (a `concurrently` worker may read through the fan-out pool's engine)."""
    reads: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM data_version" in statement:
            reads.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        yield reads
    finally:
        event.remove(Engine, "before_cursor_execute", seen)


@pytest.mark.parametrize("fanout", [0, 4])  # the calls one after another on one connection, or side by side
def test_concurrent_cached_calls_share_one_version_read(
    services: Any, database_url: str, clean_db: None, fanout: int
) -> None:
    async def run() -> tuple[int, int, list[Any]]:
        engine = create_engine(database_url, fanout_connections=fanout)
        redis = Redis.from_url(services.redis_url)
        cache.attach(engine, redis, 60)
        sessionmaker = session_factory(engine)
        try:
            calls = (lifetime_stats, status_figures, data_from, lifetime_stats)
            with _version_reads() as reads:
                without = await concurrently(sessionmaker, *calls)
                outside = len(reads)
                reads.clear()
                with cache.one_version_per_request():
                    within = await concurrently(sessionmaker, *calls)
                inside = len(reads)
            assert within == without
            return outside, inside, within
        finally:
            cache.detach(engine)
            await redis.aclose()
            await engine.dispose()

    outside, inside, _ = run_async(run())
    assert outside == 3  # data_from is not a cached call
    assert inside == 1


def test_a_session_that_wrote_still_reads_its_own_version(services: Any, database_url: str, clean_db: None) -> None:
    async def run() -> tuple[int, int, int, int]:
        engine = create_engine(database_url)
        redis = Redis.from_url(services.redis_url)
        cache.attach(engine, redis, 60)
        sessionmaker = session_factory(engine)
        try:
            with _version_reads() as reads, cache.one_version_per_request():
                async with sessionmaker() as db:
                    before = (await lifetime_stats(db)).repos
                async with sessionmaker() as db:
                    await db.begin()
                    await db.execute(text("INSERT INTO repositories (full_name, source) VALUES ('acme/x', 'github')"))
                    inside = (await lifetime_stats(db)).repos  # its own uncommitted row: computed, never cached
                    await db.rollback()
                async with sessionmaker() as db:
                    after = (await lifetime_stats(db)).repos
                return before, inside, after, len(reads)
        finally:
            cache.detach(engine)
            await redis.aclose()
            await engine.dispose()

    assert run_async(run()) == (0, 1, 0, 2)  # the writer read its own version; the last call shared the first's

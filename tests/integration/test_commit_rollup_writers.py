"""The commit rollups stay exact under their writers: a commit moved to another day, an author id replaced, and two
transactions writing the same (day, repository) slice at once (a webhook follow-up during a repository sync)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.records import CommitAttributionRecord, CommitRecord
from abacus.rollups import rollup_mismatches
from abacus.sync.commit_store import get_or_create_repository, store_commits

REPO = "acme/rollup"
DAY = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def commit(sha: str, at: datetime = DAY, author_id: str | None = "7", tool: str | None = None) -> CommitRecord:
    return CommitRecord(
        repo_full_name=REPO,
        sha=sha,
        message="Change",
        committed_at=at,
        author_name="Lin",
        author_raw_email="lin@home.example",
        author_id=author_id,
        author_login="lin",
        is_bot=False,
        additions=3,
        deletions=1,
        attributions=(CommitAttributionRecord(tool, None, "co_author"),) if tool else (),
    )


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=3)
    yield session_factory(engine)
    await engine.dispose()


async def store(sessionmaker: async_sessionmaker[AsyncSession], *records: CommitRecord) -> None:
    async with sessionmaker() as db, db.begin():
        repo_id = await get_or_create_repository(db, REPO)
        await store_commits(db, repo_id, records, work_domains=("example.com",))


async def mismatches(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as db:
        return await rollup_mismatches(db)


async def test_a_re_stored_commit_leaves_its_old_day_and_author(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await store(sessionmaker, commit("a1"), commit("a2", tool="cursor"))
    assert await mismatches(sessionmaker) == 0
    # the upsert moves a1 to the next day and gives it another author id: both old rows must go
    await store(sessionmaker, commit("a1", at=datetime(2026, 3, 5, 0, 0, tzinfo=UTC), author_id="8"))
    assert await mismatches(sessionmaker) == 0
    async with sessionmaker() as db:
        days = (await db.execute(text("SELECT day, ai_tool, commits FROM commit_daily ORDER BY 1, 2"))).all()
        authors = (await db.execute(text("SELECT author_id, commits FROM commit_authors ORDER BY 1"))).all()
    assert [tuple(r) for r in days] == [
        (datetime(2026, 3, 4).date(), "cursor", 1),
        (datetime(2026, 3, 5).date(), "", 1),
    ]
    assert [tuple(r) for r in authors] == [("7", 1), ("8", 1)]


async def test_two_writers_of_one_slice_wait_for_each_other(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    await store(sessionmaker, commit("seed"))  # the repository exists before the two writers start
    first_stored = asyncio.Event()
    release = asyncio.Event()

    async def first() -> None:
        async with sessionmaker() as db, db.begin():
            repo_id = await get_or_create_repository(db, REPO)
            await store_commits(db, repo_id, [commit("b1", tool="claude_code")], work_domains=("example.com",))
            first_stored.set()
            await release.wait()

    async def second() -> None:
        await first_stored.wait()
        await store(sessionmaker, commit("b2"))

    task_one = asyncio.create_task(first())
    task_two = asyncio.create_task(second())
    await first_stored.wait()
    await asyncio.sleep(0.3)
    assert not task_two.done(), "the second writer waits for the first one's transaction"
    release.set()
    await asyncio.gather(task_one, task_two)
    assert await mismatches(sessionmaker) == 0
    async with sessionmaker() as db:
        total = (await db.execute(text("SELECT SUM(commits) FROM commit_daily"))).scalar_one()
    assert total == 3

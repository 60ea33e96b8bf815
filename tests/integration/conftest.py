"""Fixtures of the integration tests, found by name (helpers that are not fixtures are imported from
pages_support.py, provider_support.py and the *_truth.py modules).

Pages (Overview, Usage, Team, user, Commits, repository and their APIs): the real app in-process (Litestar
TestClient) with the clock fixed at seed.NOW, signed in through the OIDC emulator, over the seed data set written
once per module (`seeded_module`), plus the commit edge rows (`edge_rows`) and the raw rows (`records`, `commits`).

Provider syncs: one emulator per session on a fixed clock (`emulator_server`), reset for each test over empty tables
(`emulator`), a SyncContext pointed at it (`ctx`) whose clock moves with the emulator's (`clock`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from abacus.emulators.server import EmulatorServer
from abacus.rollups import rebuild_commit_rollup
from abacus.sync.context import SyncContext
from tests import seed
from tests.integration.commits_truth import EDGE_REPO, MAPPED_AUTHOR_ID, MAPPED_EMAIL, WEIRD_REPO
from tests.integration.pages_support import sign_in_test_client
from tests.integration.people_truth import CommitRec, Rec, load_commits, load_records
from tests.integration.provider_support import Clock, emulator_config, sync_settings
from tests.support import app_settings, truncate_tables

# ---- pages ------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeded_module(database_url: str) -> None:
    """Truncate every table and write tests/seed.py once for the whole module (tests must not write rows)."""
    from abacus.db import create_engine, session_factory

    async def run() -> None:
        await truncate_tables(database_url)
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await seed.seed(db)
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def page_app(services: Any, oidc_server: Any) -> Any:
    """The real app with `app.state.now` fixed at seed.NOW (today = seed.TODAY)."""
    from abacus.app import create_app

    app = create_app(app_settings(services, f"{oidc_server.url}/oidc"))
    app.state.now = lambda: seed.NOW
    return app


@pytest.fixture(scope="module")
def page_client(page_app: Any, seeded_module: None) -> Iterator[TestClient]:
    """A TestClient signed in as ada@example.com (admin) over the seeded data."""
    with TestClient(page_app, base_url="http://testserver.local") as client:
        sign_in_test_client(client, "ada@example.com")
        yield client


@pytest.fixture(scope="module")
def edge_rows(page_client: TestClient, database_url: str) -> None:
    """Extra rows on top of the seed, written once per module before its tests: UTC day edges, a commit with no
    message/email/stats, a tool only this repo has, a CSV-hostile repository name, a GitHub identity mapping
    (see tests/integration/commits_truth.py)."""
    statements = [
        (
            "INSERT INTO repositories (source, full_name) VALUES ('github', :a), ('github', :b)",
            {"a": EDGE_REPO, "b": WEIRD_REPO},
        ),
        (
            "INSERT INTO commits (repo_id, commit_id, author_email, author_id, committed_at, message, ai_tool,"
            " ai_model,"
            " additions, deletions) SELECT id, 'edge0001aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', NULL, '9999',"
            " '2026-03-04T23:59:59Z', NULL, NULL, NULL, NULL, NULL FROM repositories WHERE full_name = :a",
            {"a": EDGE_REPO},
        ),
        (
            "INSERT INTO commits (repo_id, commit_id, author_email, author_id, committed_at, message, ai_tool,"
            " ai_model,"
            " additions, deletions) SELECT id, 'edge0002bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 'ada@example.com', '1000',"
            " '2026-03-05T00:00:00Z', 'Edge of day\n\nCo-authored-by: Windsurf', 'windsurf', 'swe-1', 5, 2"
            " FROM repositories WHERE full_name = :a",
            {"a": EDGE_REPO},
        ),
        (
            "INSERT INTO commit_attributions (commit_id, ai_tool, ai_model, source) SELECT id, 'windsurf', 'swe-1',"
            " 'co_author' FROM commits WHERE commit_id = 'edge0002bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'",
            {},
        ),
        (
            "INSERT INTO commits (repo_id, commit_id, author_email, author_id, committed_at, message, additions,"
            " deletions) SELECT id, 'weird001cccccccccccccccccccccccccccccccc', 'grace@example.com', '1001',"
            " '2026-03-01T12:00:00Z', 'Human', 1, 1 FROM repositories WHERE full_name = :b",
            {"b": WEIRD_REPO},
        ),
        (
            "INSERT INTO identity_mappings (source, external_id, email) VALUES ('github', :id, :email)",
            {"id": MAPPED_AUTHOR_ID, "email": MAPPED_EMAIL},
        ),
    ]

    async def run() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            for statement, params in statements:
                await conn.execute(text(statement), params)
            await rebuild_commit_rollup(conn)  # the commits above were written with plain SQL
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def records(seeded_module: None, database_url: str) -> list[Rec]:
    """Every usage row of the seed (people_truth's plain SELECT)."""
    return load_records(database_url)


@pytest.fixture(scope="module")
def commits(seeded_module: None, database_url: str) -> list[CommitRec]:
    """Every commit of the seed (people_truth's plain SELECT)."""
    return load_commits(database_url)


# ---- provider syncs ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def emulator_server() -> Iterator[EmulatorServer]:
    with EmulatorServer(emulator_config()) as server:
        yield server


@pytest.fixture()
def emulator(emulator_server: EmulatorServer, clean_db: None) -> Iterator[EmulatorServer]:
    """The shared emulator, reset (no faults, clock at NOW), over empty tables."""
    emulator_server.state.reset()
    yield emulator_server
    emulator_server.state.reset()


@pytest.fixture(scope="session")
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from abacus.db import create_engine, session_factory

    engine = create_engine(database_url, pool_size=4)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture()
def clock(emulator: EmulatorServer) -> Clock:
    return Clock(emulator)


@pytest.fixture()
def ctx(emulator: EmulatorServer, sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> SyncContext:
    return SyncContext(
        settings=sync_settings(emulator.base_url), sessionmaker=sessionmaker, now=clock, backoff_base=0.01
    )

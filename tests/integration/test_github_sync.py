"""GitHub sync against the loopback emulator over HTTP and a real PostgreSQL (providers.md §4)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import (
    DEMO_GITHUB_APP_ID,
    DEMO_GITHUB_APP_PRIVATE_KEY,
    DEMO_GITHUB_INSTALLATION_ID,
    DEMO_GITHUB_ORG,
    DEMO_GITHUB_TOKEN,
    EmulatorConfig,
)
from abacus.emulators.server import EmulatorServer
from abacus.models import IdentityMapping, SyncState
from abacus.providers import github
from abacus.rollups import rollup_mismatches
from abacus.services.mappings import delete_mapping
from abacus.settings import GitHubSettings, Settings, SignInSettings
from abacus.sync.context import SyncContext

NOW = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)
DAYS = 40


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(
        seed=11, users=24, days=DAYS, today=NOW.date(), now=lambda: NOW, commits=360, max_page_size=25
    )
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture()
def fresh_emulator(emulator: EmulatorServer) -> EmulatorServer:
    emulator.state.reset()
    return emulator


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


def settings_for(emulator: EmulatorServer, services: Any, *, app: bool = False, **overrides: Any) -> Settings:
    credentials: dict[str, Any] = (
        {
            "app_id": str(DEMO_GITHUB_APP_ID),
            "app_private_key": DEMO_GITHUB_APP_PRIVATE_KEY,
            "app_installation_id": str(DEMO_GITHUB_INSTALLATION_ID),
        }
        if app
        else {"token": DEMO_GITHUB_TOKEN}
    )
    github = GitHubSettings(
        org=DEMO_GITHUB_ORG, api_url=f"{emulator.base_url}/github", backfill_days=DAYS, **credentials
    )
    settings = Settings(
        env="dev", sign_in=SignInSettings(allowed_domains=("example.com",)), github=github, provider_pacing_ms=0
    )
    return settings.with_services(services.database_url, services.redis_url).replace(**overrides)


def context(
    emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession], **kwargs: Any
) -> SyncContext:
    return SyncContext(
        settings=settings_for(emulator, services, **kwargs),
        sessionmaker=sessionmaker,
        now=lambda: NOW,
        backoff_base=0.01,
    )


def truth(emulator: EmulatorServer) -> dict[str, Any]:
    first = NOW.date() - timedelta(days=DAYS)
    response = httpx.get(
        f"{emulator.base_url}/_emulator/truth/commits",
        params={"start": first.isoformat(), "end": NOW.date().isoformat()},
    )
    response.raise_for_status()
    return response.json()


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
    async with sessionmaker() as db:
        rows = (
            await db.execute(
                text(
                    "SELECT ai_tool, count(*) AS n, count(*) FILTER (WHERE is_bot) AS bots FROM commits GROUP BY"
                    " ai_tool"
                )
            )
        ).all()
    by_tool = {r.ai_tool: r.n for r in rows if r.ai_tool}
    return {
        "total": sum(r.n for r in rows),
        "by_tool": dict(sorted(by_tool.items())),
        "human": sum(r.n for r in rows if r.ai_tool is None),
        "bot": sum(r.bots for r in rows),
    }


async def table_snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple]]:
    async with sessionmaker() as db:
        return {
            "commits": [
                tuple(r)
                for r in await db.execute(
                    text(
                        "SELECT c.commit_id, r.full_name, c.author_email, c.author_id, c.committed_at, c.message, "
                        "c.author_login, c.author_raw_email, c.is_bot, c.ai_tool, c.ai_model, c.additions, c.deletions "
                        "FROM commits c JOIN repositories r ON r.id = c.repo_id ORDER BY c.commit_id"
                    )
                )
            ],
            "attributions": [
                tuple(r)
                for r in await db.execute(
                    text(
                        "SELECT c.commit_id, a.ai_tool, a.ai_model, a.source, a.confidence FROM commit_attributions a "
                        "JOIN commits c ON c.id = a.commit_id ORDER BY 1, 2"
                    )
                )
            ],
            "mappings": [
                tuple(r)
                for r in await db.execute(
                    text("SELECT source, external_id, email, updated_by FROM identity_mappings ORDER BY 1, 2")
                )
            ],
        }


async def full_sync(ctx: SyncContext) -> None:
    result = await github.sync_incremental(ctx)
    assert result.ok, result.errors
    for _ in range(10):
        step = await github.backfill_step(ctx, max_windows=6)
        assert step.ok, step.errors
        if step.complete:
            return
    raise AssertionError("backfill never completed")


async def commit_rollups_exact(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    """The commit rollup levels equal fresh sums of `commits` (refreshed by every writer in its transaction)."""
    async with sessionmaker() as db:
        return await rollup_mismatches(db) == 0


async def test_backfill_and_incremental_reproduce_the_ground_truth(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    emulator = fresh_emulator
    ctx = context(emulator, services, sessionmaker)
    await full_sync(ctx)

    expected = truth(emulator)
    assert expected["total"] > 200 and expected["bot"] > 0 and len(expected["by_tool"]) >= 4
    assert await stored(sessionmaker) == expected
    assert await commit_rollups_exact(sessionmaker)

    dataset = emulator.state.dataset
    async with sessionmaker() as db:
        repos = set((await db.execute(text("SELECT full_name FROM repositories"))).scalars())
        shas = set((await db.execute(text("SELECT commit_id FROM commits"))).scalars())
        missing_stats = (await db.execute(text("SELECT count(*) FROM commits WHERE additions IS NULL"))).scalar_one()
        states = {s.id: s for s in (await db.execute(select(SyncState))).scalars()}
    archived = {r.full_name for r in dataset.repos if r.archived}
    assert archived and not repos & archived
    assert repos == {r.full_name for r in dataset.repos if not r.archived}
    merges = {c.sha for r in dataset.repos for c in dataset.commits(r.full_name) if c.is_merge}
    assert merges and not shas & merges
    assert missing_stats == 0
    for full_name in repos:
        state = states[github.repo_state_id(full_name)]
        assert state.backfill_complete and state.backfill_oldest_date == NOW.date() - timedelta(days=DAYS)
        assert state.last_synced_hour_end == NOW

    pages = [r["query"].get("page") for r in emulator.state.requests("github", "commits")]
    assert "3" in pages, "G3 pages are followed through Link headers (emulator page size 25)"

    # a second run changes nothing and asks G4 for nothing
    before = await table_snapshot(sessionmaker)
    emulator.state.clear_requests()
    await full_sync(ctx)
    assert await table_snapshot(sessionmaker) == before
    assert emulator.state.requests("github", "commit") == []
    assert await commit_rollups_exact(sessionmaker)


async def test_author_emails_resolve_through_mappings(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    emulator = fresh_emulator
    dataset = emulator.state.dataset
    people = [p for p in dataset.people if p.github_id and p.github_login]
    noreply = [p for p in people if p.commit_email.endswith("@users.noreply.github.com")]
    work = [p for p in people if p.commit_email == p.email]
    assert noreply and work
    manual = work[0]
    async with sessionmaker() as db, db.begin():
        db.add(
            IdentityMapping(
                source="github",
                external_id=str(manual.github_id),
                email="boss@example.com",
                updated_by="admin@example.com",
            )
        )

    ctx = context(emulator, services, sessionmaker)
    await full_sync(ctx)
    assert await commit_rollups_exact(sessionmaker)

    async def emails_of(person_id: int) -> set[str]:
        async with sessionmaker() as db:
            return set(
                (
                    await db.execute(
                        text("SELECT DISTINCT author_email FROM commits WHERE author_id = :id"), {"id": str(person_id)}
                    )
                ).scalars()
            )

    for person in work[1:]:
        if await emails_of(person.github_id):
            assert await emails_of(person.github_id) == {person.email}
    assert await emails_of(manual.github_id) == {"boss@example.com"}, "a manual mapping wins over the sync"
    noreply_with_commits = [p for p in noreply if await emails_of(p.github_id)]
    unresolved = noreply_with_commits[0]
    assert await emails_of(unresolved.github_id) == {unresolved.commit_email.lower()}

    created = await github.sync_mappings(ctx)
    verified = {str(m.id): m.verified_emails[0] for m in dataset.github_members if m.verified_emails}
    assert created > 0
    async with sessionmaker() as db:
        mappings = {(m.external_id): m for m in (await db.execute(select(IdentityMapping))).scalars()}
    for person in noreply:
        if str(person.github_id) in verified and await emails_of(person.github_id):
            assert await emails_of(person.github_id) == {person.email}, "sync_mappings re-points commits"
            assert mappings[str(person.github_id)].updated_by == "sync:github"
    assert mappings[str(manual.github_id)].email == "boss@example.com"
    assert await emails_of(manual.github_id) == {"boss@example.com"}
    emulator.state.clear_requests()
    assert await github.sync_mappings(ctx) == 0
    assert await commit_rollups_exact(sessionmaker), "re-pointed authors moved in the rollups too"

    async with sessionmaker() as db, db.begin():
        change = await delete_mapping(db, "github", str(manual.github_id))
    assert change.commits > 0
    assert await emails_of(manual.github_id) != {"boss@example.com"}
    assert await commit_rollups_exact(sessionmaker), "a removed mapping re-points commits and their rollups"


async def test_rate_limit_stops_the_backfill_without_completing(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    emulator = fresh_emulator
    ctx = context(emulator, services, sessionmaker)
    emulator.state.add_fault("github", "commits", "403", count=1, after=1, retry_after=3600)
    step = await github.backfill_step(ctx, max_windows=50)
    assert step.complete is False
    assert len(step.errors) == 1 and "rate limited" in step.errors[0]
    async with sessionmaker() as db:
        states = {s.id: s for s in (await db.execute(select(SyncState))).scalars()}
    assert not any(s.backfill_complete for s in states.values())
    commits_requests = emulator.state.requests("github", "commits")
    assert commits_requests[-1]["status"] == 403, "nothing is asked after the rate limit"

    step = await github.backfill_step(ctx, max_windows=50)
    assert step.ok and step.complete


async def test_a_failing_repo_does_not_stop_the_others(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    emulator = fresh_emulator
    ctx = context(emulator, services, sessionmaker)
    active = [r.full_name for r in emulator.state.dataset.repos if not r.archived]
    emulator.state.add_fault("github", "repo", "500", count=3, after=1)  # the 2nd repo's G2, every retry
    result = await github.sync_incremental(ctx)
    assert len(result.errors) == 1 and result.errors[0].startswith(f"{active[1]}:")
    async with sessionmaker() as db:
        states = {s.id: s for s in (await db.execute(select(SyncState))).scalars()}
    failed = states[github.repo_state_id(active[1])]
    assert failed.last_synced_hour_end is None and "HTTP 500" in (failed.last_error or "")
    for full_name in active[:1] + active[2:]:
        assert states[github.repo_state_id(full_name)].last_synced_hour_end == NOW

    again = await github.sync_incremental(ctx)
    assert again.ok
    async with sessionmaker() as db:
        state = await db.get(SyncState, github.repo_state_id(active[1]))
    assert state is not None and state.last_synced_hour_end == NOW


async def test_github_app_auth(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    emulator = fresh_emulator
    ctx = context(emulator, services, sessionmaker, app=True)
    first = await github.sync_incremental(ctx)
    assert first.ok and first.records > 0
    second = await github.sync_range(ctx, NOW.date() - timedelta(days=3), NOW.date(), repo="web")
    assert second.ok and second.windows == 1
    tokens = emulator.state.requests("github", "access_tokens")
    assert [t["status"] for t in tokens] == [201], "the installation token is cached between runs"
    async with sessionmaker() as db:
        count = (await db.execute(text("SELECT count(*) FROM commits"))).scalar_one()
    assert count >= first.records  # the range reaches back 3 days, the incremental 48 h

    emulator.state.reset()  # the emulator forgets its tokens: a 401 makes the client fetch a new one
    assert (await github.sync_incremental(ctx)).ok
    assert [t["status"] for t in emulator.state.requests("github", "access_tokens")] == [201]


async def test_missing_credentials_are_reported(
    fresh_emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ctx = context(fresh_emulator, services, sessionmaker)
    ctx.settings = ctx.settings.replace(github={"token": None})
    result = await github.sync_incremental(ctx)
    assert result.errors == [
        "GitHub credentials not configured (set GITHUB_TOKEN, or GITHUB_APP_ID, GITHUB_APP_PRIVATE_KEY and "
        "GITHUB_APP_INSTALLATION_ID)"
    ]
    async with sessionmaker() as db:
        state = await db.get(SyncState, github.org_state_id)
    assert state is not None and "credentials not configured" in (state.last_error or "")

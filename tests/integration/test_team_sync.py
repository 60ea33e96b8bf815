"""GitHub org-team sync against the emulator over HTTP and a real PostgreSQL: leads, unmapped logins, pagination,
faults, idempotence, and admin edits that a sync never overrides (docs/providers.md, Teams)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.models import AuditEvent, IdentityMapping, SyncState, Team, TeamMember, TeamUnmappedMember
from abacus.providers import github, registry, runner
from abacus.queries.teams import teams_view
from abacus.records import ProviderError
from abacus.services.teams import delete_team, remove_member, set_member
from abacus.settings import GitHubSettings, Settings, SignInSettings
from abacus.sync.context import SyncContext

NOW = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(seed=11, users=24, days=5, today=NOW.date(), now=lambda: NOW, commits=20, max_page_size=3)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


def context(emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]) -> SyncContext:
    emulator.state.reset()
    settings = Settings(
        env="dev",
        sign_in=SignInSettings(allowed_domains=("example.com",)),
        github=GitHubSettings(org=DEMO_GITHUB_ORG, api_url=f"{emulator.base_url}/github", token=DEMO_GITHUB_TOKEN),
        provider_pacing_ms=0,
    ).with_services(services.database_url, services.redis_url)
    return SyncContext(settings=settings, sessionmaker=sessionmaker, now=lambda: NOW, backoff_base=0.01)


async def memberships(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[tuple[str, str], tuple[str, str, bool]]:
    async with sessionmaker() as db:
        rows = (await db.execute(select(TeamMember))).scalars()
        return {(r.team_slug, r.email): (r.role, r.source, r.removed_at is not None) for r in rows}


async def data_version(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as db:
        return int((await db.execute(text("SELECT version FROM data_version"))).scalar_one())


def expected(
    emulator: EmulatorServer, mapped: dict[str, str]
) -> tuple[dict[tuple[str, str], str], set[tuple[str, str]]]:
    """(team, email) → role, and (team, login) of unmapped members, from the emulator's own teams."""
    members: dict[tuple[str, str], str] = {}
    unmapped: set[tuple[str, str]] = set()
    for team in emulator.state.dataset.github_teams:
        for login, user_id in team.members:
            role = "lead" if login in team.maintainers else "member"
            email = mapped.get(str(user_id))
            if email is None:
                unmapped.add((team.slug, login))
            else:
                members[(team.slug, email)] = role
    return members, unmapped


async def test_sync_brings_teams_leads_and_unmapped_logins_through_pages(
    emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ctx = context(emulator, services, sessionmaker)
    await github.sync_mappings(ctx, force=True)
    async with sessionmaker() as db:
        mapped = {
            m.external_id: m.email
            for m in (await db.execute(select(IdentityMapping).where(IdentityMapping.source == "github"))).scalars()
        }
    want, want_unmapped = expected(emulator, mapped)
    assert want_unmapped, "the demo has GitHub members without an email (the contractor at least)"
    assert any(role == "lead" for role in want.values())

    changes = await github.sync_teams(ctx)
    assert changes > 0
    assert len(emulator.state.requests("github", "teams")) > 1, "the team list is read page by page"
    assert len(emulator.state.requests("github", "team members")) > 2 * len(emulator.state.dataset.github_teams)
    got = await memberships(sessionmaker)
    assert {k: v[0] for k, v in got.items()} == want
    assert {v[1] for v in got.values()} == {"github"}
    async with sessionmaker() as db:
        unmapped = {(u.team_slug, u.login) for u in (await db.execute(select(TeamUnmappedMember))).scalars()}
        teams = {t.slug: t.name for t in (await db.execute(select(Team))).scalars()}
        view = await teams_view(db)
    assert unmapped == want_unmapped
    assert teams == {t.slug: t.name for t in emulator.state.dataset.github_teams}
    assert view.last_sync_at is not None
    platform = view.team("platform")
    assert platform is not None and ("acme-contractor", "member") in platform.unmapped
    emails = [m.email for t in view.teams for m in t.members]
    assert len(emails) > view.people, "some people are in two teams"

    version = await data_version(sessionmaker)
    assert await github.sync_teams(ctx) == 0, "the same answer again changes nothing"
    assert await memberships(sessionmaker) == got
    assert await data_version(sessionmaker) == version, "an unchanged sync does not even move the data version"


async def test_admin_edits_win_over_the_sync(
    emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ctx = context(emulator, services, sessionmaker)
    await github.sync_mappings(ctx, force=True)
    await github.sync_teams(ctx)
    synced = await memberships(sessionmaker)
    lead = next(k for k, v in synced.items() if v[0] == "lead" and k[0] == "mobile")
    gone = next(k for k, v in synced.items() if v[0] == "member" and k[0] == "mobile")
    async with sessionmaker() as db, db.begin():
        await set_member(db, lead[0], lead[1], "member", actor="admin@example.com")
        await remove_member(db, gone[0], gone[1], actor="admin@example.com")
        await set_member(db, "mobile", "outsider@example.com", "lead", actor="admin@example.com")
        await delete_team(db, "data", actor="admin@example.com")

    assert await github.sync_teams(ctx) == 0
    after = await memberships(sessionmaker)
    assert after[lead] == ("member", "manual", False), "the admin's role stays"
    assert after[gone] == ("member", "manual", True), "the removed member stays out (a tombstone)"
    assert after[("mobile", "outsider@example.com")] == ("lead", "manual", False)
    assert not [k for k in after if k[0] == "data"], "a removed GitHub team is not brought back"
    async with sessionmaker() as db:
        view = await teams_view(db)
        actions = [a.action for a in (await db.execute(select(AuditEvent).order_by(AuditEvent.id))).scalars()]
    assert view.team("data") is None
    mobile = view.team("mobile")
    assert mobile is not None and gone[1] not in {m.email for m in mobile.members}
    assert actions == ["team.member.role", "team.member.remove", "team.member.add", "team.delete"]

    # GitHub drops the mobile team: its synced rows go, the admin's rows keep the team alive as the admin's own
    emulator.state.dataset.github_teams = [t for t in emulator.state.dataset.github_teams if t.slug != "mobile"]
    try:
        await github.sync_teams(ctx)
    finally:
        emulator.state.dataset.github_teams = emulator.state.dataset._build_teams()
    left = {k: v for k, v in (await memberships(sessionmaker)).items() if k[0] == "mobile"}
    assert {v[1] for v in left.values()} == {"manual"}
    async with sessionmaker() as db:
        mobile_team = await db.get(Team, "mobile")
    assert mobile_team is not None and mobile_team.source == "manual"


@pytest.mark.parametrize("endpoint", ["teams", "team members"])
async def test_a_failing_endpoint_stores_nothing_and_is_recorded(
    emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession], endpoint: str
) -> None:
    ctx = context(emulator, services, sessionmaker)
    emulator.state.add_fault("github", endpoint, "500", count=20, after=1)
    with pytest.raises(ProviderError):
        await github.sync_teams(ctx)
    assert await memberships(sessionmaker) == {}
    async with sessionmaker() as db:
        assert (await db.execute(select(Team))).first() is None
        state = await db.get(SyncState, "github-teams")
    assert state is not None and state.last_error and "500" in state.last_error

    emulator.state.reset()
    results = await runner.run_teams(ctx, registry.get("github"))
    assert results and not results[0].errors and results[0].records > 0
    async with sessionmaker() as db:
        state = await db.get(SyncState, "github-teams")
    assert state is not None and state.last_error is None and state.last_success_at is not None


async def test_a_first_sync_resolves_verified_emails_itself(
    emulator: EmulatorServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """No mapping exists yet (no commit was synced): the team sync asks G7 once for verified emails."""
    ctx = context(emulator, services, sessionmaker)
    await github.sync_teams(ctx)
    assert len(emulator.state.requests("github", "graphql")) >= 1
    dataset = emulator.state.dataset
    verified = {str(m.id): m.verified_emails[0] for m in dataset.github_members if m.verified_emails}
    want, want_unmapped = expected(emulator, verified)
    got = await memberships(sessionmaker)
    assert {k: v[0] for k, v in got.items()} == want
    async with sessionmaker() as db:
        unmapped = {(u.team_slug, u.login) for u in (await db.execute(select(TeamUnmappedMember))).scalars()}
    assert unmapped == want_unmapped
    emulator.state.clear_requests()
    assert await github.sync_teams(ctx) == 0
    calls = len(emulator.state.requests("github", "graphql"))
    assert calls == 0, "G7 is asked again only when the unmapped members changed"


def test_the_team_sync_is_an_hourly_registered_job() -> None:
    job = registry.get("github").job("teams")
    assert job is not None and job.name == "sync_github_teams" and job.schedule == "Hourly"
    from abacus.worker.tasks import JOB_FUNCTIONS

    assert "sync_github_teams" in JOB_FUNCTIONS


def test_cli_teams_sync_runs_the_registered_sync(
    emulator: EmulatorServer, services: Any, database_url: str, clean_db: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from abacus.cli import app, common

    monkeypatch.setattr(common.console, "width", 200)
    emulator.state.reset()
    env = {
        "DATABASE_URL": database_url,
        "ABACUS_ENV": "dev",
        "CURSOR_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEY": "",
        "GITHUB_ORG": DEMO_GITHUB_ORG,
        "GITHUB_TOKEN": DEMO_GITHUB_TOKEN,
        "GITHUB_API_URL": f"{emulator.base_url}/github",
        "ABACUS_PROVIDER_PACING_MS": "0",
    }
    synced = CliRunner().invoke(app, ["teams", "sync"], env=env)
    assert synced.exit_code == 0, synced.output
    assert "github" in synced.output
    listed = CliRunner().invoke(app, ["teams", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "4 team(s)" in listed.output and "acme-contractor" in listed.output
    emulator.state.add_fault("github", "teams", "500", count=20)
    failed = CliRunner().invoke(app, ["teams", "sync"], env=env)
    assert failed.exit_code == 1 and "500" in failed.output
    unconfigured = CliRunner().invoke(app, ["teams", "sync"], env={**env, "GITHUB_TOKEN": "", "GITHUB_ORG": ""})
    assert unconfigured.exit_code == 1 and "no provider with teams is configured" in unconfigured.output

"""GitHub Copilot (docs/providers.md §9) against the emulator over HTTP and real PostgreSQL: per-user daily reports
behind signed, expiring download links, 404 for unpublished days, the fault storm (429, 500, timeout, malformed
NDJSON, expired links) leaving data and state as they were, idempotent re-runs, GitHub-id mappings, and P2 seats."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN
from abacus.providers import copilot, registry
from abacus.providers.runner import run_incremental
from abacus.services.mappings import delete_mapping, set_mapping
from abacus.settings import CopilotSettings, GitHubSettings, ProviderKey, load_settings
from abacus.sync.context import SyncContext
from tests.integration.provider_support import FIRST_DAY, NOW, TODAY, state_snapshot, sync_state

TOOL = "github_copilot"
KEY = ProviderKey(DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN)
COLUMNS = (
    "tool, organization_id, identity, date, email, sessions, lines_added, lines_removed, suggested, accepted, "
    "requests, commits, pull_requests, active"
)
COUNTS = ("sessions", "lines_added", "lines_removed", "suggested", "accepted", "requests", "commits", "pull_requests")


@pytest.fixture()
def cctx(ctx: SyncContext, emulator: Any) -> SyncContext:
    """The sync context with GitHub pointed at the emulator and Copilot turned on (it is opt-in)."""
    settings = ctx.settings.replace(
        github=GitHubSettings(token=DEMO_GITHUB_TOKEN, org=DEMO_GITHUB_ORG, api_url=f"{emulator.base_url}/github"),
        copilot=CopilotSettings(enabled=True),
    )
    return SyncContext(settings=settings, sessionmaker=ctx.sessionmaker, now=ctx.now, backoff_base=0.01)


async def stored(sessionmaker: Any) -> list[tuple[Any, ...]]:
    async with sessionmaker() as db:
        rows = await db.execute(
            text(f"SELECT {COLUMNS} FROM activity_daily ORDER BY tool, organization_id, identity, date")
        )
        return [tuple(row) for row in rows]


def truth(emulator: Any, start=FIRST_DAY, end=TODAY, emails: dict[str, str] | None = None) -> list[tuple[Any, ...]]:
    """Ground truth in the stored shape; `emails` maps an identity to its email (default: unmapped)."""
    return [
        (
            row["tool"],
            row["organization"],
            row["identity"],
            row["date"],
            (emails or {}).get(row["identity"], f"unmapped:{row['identity']}"),
            *(row[name] for name in COUNTS),
            row["active"],
        )
        for row in emulator.state.dataset.truth_activity(start, end, tool=TOOL)
    ]


async def backfill(cctx: SyncContext) -> None:
    for _ in range(20):
        result = await copilot.backfill_step(cctx, KEY)
        assert result.ok, result.errors
        if result.complete:
            return
    raise AssertionError("backfill never completed")


def midnight(day):
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


async def test_registered_and_configured_from_the_github_settings(cctx):
    assert registry.get("copilot") is copilot.DESCRIPTION
    assert copilot.configured_keys(cctx.settings) == (KEY,)
    off = cctx.settings.replace(copilot=CopilotSettings(enabled=False))
    assert copilot.configured_keys(off) == ()
    # opt-in: GitHub alone (COPILOT_ENABLED unset) does not turn Copilot on
    assert copilot.configured_keys(cctx.settings.replace(copilot=CopilotSettings())) == ()
    env = {"ABACUS_ENV": "dev", "GITHUB_TOKEN": "ghp_x", "GITHUB_ORG": "acme"}
    assert copilot.configured_keys(load_settings(env, web=False)) == ()
    assert copilot.configured_keys(load_settings({**env, "COPILOT_ENABLED": "1"}, web=False)) == (
        ProviderKey("acme", "ghp_x"),
    )


async def test_backfill_then_forward_equals_the_ground_truth_and_a_rerun_changes_nothing(emulator, cctx, sessionmaker):
    await backfill(cctx)
    state = await sync_state(sessionmaker, copilot.state_id(KEY))
    assert state["backfill_complete"] and state["last_cursor"] == "7"
    assert state["backfill_oldest_date"] == FIRST_DAY - timedelta(days=7)  # 7 unpublished days end the walk

    result = await copilot.sync_incremental(cctx, KEY)
    assert result.ok, result.errors
    assert "not published yet" in result.detail  # today's report does not exist yet: not an error
    state = await sync_state(sessionmaker, copilot.state_id(KEY))
    assert state["last_synced_hour_end"] == midnight(TODAY - timedelta(days=1))
    assert state["last_error"] is None

    rows = await stored(sessionmaker)
    assert rows == truth(emulator)
    assert len({r[2] for r in rows}) >= 3 and "copilot:acme-contractor" in {r[2] for r in rows}
    assert all(r[-1] for r in rows)

    states = await state_snapshot(sessionmaker)
    assert (await copilot.sync_incremental(cctx, KEY)).ok
    assert (await copilot.sync_range(cctx, KEY, FIRST_DAY, TODAY)).ok
    assert (await copilot.backfill_step(cctx, KEY)).complete
    assert await stored(sessionmaker) == rows
    assert await state_snapshot(sessionmaker) == states


async def test_a_day_published_later_is_read_by_the_next_forward_run(emulator, cctx, sessionmaker, clock):
    assert (await copilot.sync_incremental(cctx, KEY)).ok
    assert TODAY not in {r[3] for r in await stored(sessionmaker)}
    clock.at(datetime.combine(TODAY + timedelta(days=1), datetime.min.time(), tzinfo=UTC) + timedelta(hours=3))
    result = await copilot.sync_incremental(cctx, KEY)
    assert result.ok, result.errors
    assert (await sync_state(sessionmaker, copilot.state_id(KEY)))["last_synced_hour_end"] == midnight(TODAY)
    assert await stored(sessionmaker) == truth(emulator, TODAY - timedelta(days=3), TODAY)


async def test_every_download_link_of_a_day_is_read_without_the_api_token(emulator, cctx, sessionmaker):
    day = TODAY - timedelta(days=2)
    assert (await copilot.sync_range(cctx, KEY, day, day)).ok
    report = emulator.state.requests("copilot", "report")
    downloads = emulator.state.requests("copilot", "download")
    assert [r["query"]["day"] for r in report] == [day.isoformat()]
    users = len(emulator.state.dataset.copilot_report(day))
    assert len(downloads) == max(1, -(-users // 4))  # the emulator writes 4 users per file
    assert len(downloads) > 1  # the day spans several files
    assert await stored(sessionmaker) == truth(emulator, day, day)


async def test_an_expired_link_makes_the_sync_ask_for_the_report_again(emulator, cctx, sessionmaker):
    day = TODAY - timedelta(days=2)
    emulator.state.add_fault("copilot", "download", "expired", after=1)
    result = await copilot.sync_range(cctx, KEY, day, day)
    assert result.ok, result.errors
    assert len(emulator.state.requests("copilot", "report")) == 2
    assert [r["status"] for r in emulator.state.requests("copilot", "download")].count(403) == 1
    assert await stored(sessionmaker) == truth(emulator, day, day)


async def test_links_that_expire_every_time_fail_the_day_without_writing_it(emulator, cctx, sessionmaker):
    emulator.state.copilot_link_ttl = -5  # every link is already expired when handed out
    result = await copilot.sync_range(cctx, KEY, TODAY - timedelta(days=2), TODAY - timedelta(days=1))
    assert not result.ok and result.windows == 0
    assert f"expired {copilot.LINK_ATTEMPTS} times" in result.errors[0]
    assert len(emulator.state.requests("copilot", "report")) == copilot.LINK_ATTEMPTS
    assert await stored(sessionmaker) == []


async def test_a_tampered_link_is_refused(emulator):
    import httpx

    day = (TODAY - timedelta(days=2)).isoformat()
    headers = {"Authorization": f"Bearer {DEMO_GITHUB_TOKEN}"}
    async with httpx.AsyncClient(base_url=emulator.base_url) as client:
        body = (
            await client.get(
                f"/github/orgs/{DEMO_GITHUB_ORG}/copilot/metrics/reports/users-1-day",
                params={"day": day},
                headers=headers,
            )
        ).json()
        link = body["download_links"][0]
        assert body["report_day"] == day and "sig=" in link and "expires=" in link
        assert (await client.get(link)).status_code == 200
        refused = await client.get(link.replace("sig=", "sig=0"))
        assert refused.status_code == 403 and refused.json()["message"] == "Signature mismatch"
        missing = await client.get(
            f"/github/orgs/{DEMO_GITHUB_ORG}/copilot/metrics/reports/users-1-day",
            params={"day": TODAY.isoformat()},
            headers=headers,
        )
        assert missing.status_code == 404
        assert (await client.get(f"/github/orgs/{DEMO_GITHUB_ORG}/copilot/billing/seats")).status_code == 401


FAULTS = [
    pytest.param("report", {"kind": "500", "count": 3}, "HTTP 500 after 3 tries", id="500"),
    pytest.param("report", {"kind": "malformed"}, "malformed JSON", id="malformed-json"),
    pytest.param("report", {"kind": "missing_field"}, "missing field 'download_links'", id="no-links"),
    pytest.param("download", {"kind": "malformed"}, "file 1 line", id="malformed-ndjson"),
    pytest.param("download", {"kind": "500", "count": 3}, "HTTP 500 after 3 tries", id="download-500"),
    pytest.param("report", {"kind": "slow", "delay": 1.0, "count": 3}, "ReadTimeout after 3 tries", id="timeout"),
]


@pytest.mark.parametrize(("endpoint", "fault", "message"), FAULTS)
async def test_a_failed_day_leaves_data_and_state_as_before_and_the_next_run_completes(
    emulator, cctx, sessionmaker, clock, monkeypatch, endpoint, fault, message
):
    monkeypatch.setattr(copilot, "REQUEST_TIMEOUT", 0.3)
    clock.at(NOW - timedelta(days=1))
    assert (await copilot.sync_incremental(cctx, KEY)).ok
    before, states = await stored(sessionmaker), await state_snapshot(sessionmaker)
    clock.at(NOW)
    emulator.state.add_fault("copilot", endpoint, **fault)
    result = await copilot.sync_incremental(cctx, KEY)
    assert not result.ok and result.windows == 0
    assert message in result.errors[0], result.errors
    assert f"key {DEMO_GITHUB_ORG}" in result.errors[0] and DEMO_GITHUB_TOKEN not in result.errors[0]
    assert await stored(sessionmaker) == before
    assert await state_snapshot(sessionmaker) == states
    assert message in (await sync_state(sessionmaker, copilot.state_id(KEY)))["last_error"]
    # slow answers the client gave up on are still being served: let them finish (and be logged) in this test
    await asyncio.sleep(fault.get("delay", 0.0))

    emulator.state.clear_faults()
    assert (await copilot.sync_incremental(cctx, KEY)).ok
    assert await stored(sessionmaker) == truth(emulator, TODAY - timedelta(days=4), TODAY)


async def test_a_429_with_retry_after_is_waited_out(emulator, cctx, sessionmaker):
    day = TODAY - timedelta(days=1)
    emulator.state.add_fault("copilot", "report", "429", retry_after=1)
    started = time.monotonic()
    assert (await copilot.sync_range(cctx, KEY, day, day)).ok
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in emulator.state.requests("copilot", "report")] == [429, 200]
    assert await stored(sessionmaker) == truth(emulator, day, day)


async def test_logins_map_through_the_github_mapping_of_their_user_id(emulator, cctx, sessionmaker):
    day = TODAY - timedelta(days=2)
    seat = next(s for s in emulator.state.dataset.copilot_seats if s.person and s.login in _logins(emulator, day))
    identity = f"copilot:{seat.login.lower()}"
    async with sessionmaker() as db, db.begin():
        await set_mapping(db, "github", str(seat.user_id), seat.person.email, updated_by="test")
    assert (await copilot.sync_range(cctx, KEY, day, day)).ok
    assert await stored(sessionmaker) == truth(emulator, day, day, {identity: seat.person.email})

    async with sessionmaker() as db, db.begin():
        await delete_mapping(db, "github", str(seat.user_id))
    assert await stored(sessionmaker) == truth(emulator, day, day)  # back to unmapped

    async with sessionmaker() as db, db.begin():
        await set_mapping(db, "github", str(seat.user_id), "someone@example.com", updated_by="test")
    assert await stored(sessionmaker) == truth(emulator, day, day, {identity: "someone@example.com"})


def _logins(emulator, day) -> set[str]:
    return {r["user_login"] for r in emulator.state.dataset.copilot_report(day)}


async def test_the_runner_records_the_forward_run(emulator, cctx, sessionmaker):
    [result] = await run_incremental(cctx, copilot.DESCRIPTION)
    assert result.ok and result.windows == 3
    rows = copilot.DESCRIPTION.rows_for_status(cctx.settings, [])
    assert [r.state_id for r in rows] == [f"copilot:{DEMO_GITHUB_ORG}", f"copilot-seats:{DEMO_GITHUB_ORG}"]


# ---- P2 seats ------------------------------------------------------------------------------------------------------


async def test_seats_are_read_over_every_page(emulator, cctx):
    async with copilot._client(cctx, KEY) as client:
        seats = copilot.parse_seats(await copilot.fetch_seats(client))
    wire = emulator.state.dataset.copilot_seat_list()
    assert len(seats) == len(wire) and len(emulator.state.requests("copilot", "seats")) > 1
    assert {s.login for s in seats} == {w["assignee"]["login"].lower() for w in wire}
    idle = [s for s in seats if s.last_activity_at is None]
    assert idle, "the demo org has seats nobody uses"
    assert all(s.plan in ("business", "enterprise") for s in seats)


@pytest.mark.parametrize(
    ("seat", "message"),
    [
        ({"assignee": None}, "seats[1]: missing field 'assignee'"),
        ({"assignee": {"login": ""}}, "missing field 'assignee.login'"),
        ({"assignee": {"login": "x", "id": "7"}}, "assignee.id: '7' is not a GitHub user id"),
        ({"assignee": {"login": "x"}, "last_activity_at": "yesterday"}, "last_activity_at: 'yesterday'"),
    ],
)
def test_a_malformed_seat_names_itself(seat, message):
    good = {"assignee": {"login": "ada", "id": 1}, "plan_type": "business", "created_at": "2025-01-01T00:00:00Z"}
    with pytest.raises(Exception, match="seats") as failure:
        copilot.parse_seats([good, seat])
    assert message in str(failure.value)


async def test_unmapped_copilot_users_are_listed_on_the_mappings_page_until_mapped(emulator, cctx, sessionmaker):
    from abacus.queries.activity import unmapped_copilot_users
    from abacus.queries.mappings import mappings_view

    assert (await copilot.DESCRIPTION.sync_incremental(cctx, KEY)).ok
    async with sessionmaker() as db:
        users = await unmapped_copilot_users(db)
        view = await mappings_view(
            db, source="github", status="unmapped", search="copilot", page=1, allowed_domains=("example.com",)
        )
    contractor = next(u for u in users if u.login == "acme-contractor")
    assert contractor.user_id == "31337001" and contractor.seats == 1
    seat_holders = {s.login for s in emulator.state.dataset.copilot_seats}
    assert {u.login for u in users} == seat_holders  # every seat holder, used or idle, until mapped
    listed = {u.external_id: u for u in view.unmapped}
    assert listed["31337001"].label == "31337001 (@acme-contractor) · Copilot"

    async with sessionmaker() as db, db.begin():
        await set_mapping(db, "github", "31337001", "contractor@example.com", updated_by="test")
    async with sessionmaker() as db:
        assert "31337001" not in {u.user_id for u in await unmapped_copilot_users(db)}
        emails = set(
            (await db.execute(text("SELECT email FROM seats WHERE identity = 'copilot:acme-contractor'"))).scalars()
        )
    assert emails == {"contractor@example.com"}

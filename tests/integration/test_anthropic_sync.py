"""Anthropic sync against the emulator over HTTP and real PostgreSQL: totals to the cent, idempotency, failure modes
(each leaves data and state exactly as before the failed day), mappings and multi-org keys."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from abacus.providers import anthropic
from abacus.providers.http import ProviderClient
from abacus.records import ProviderError
from abacus.services.mappings import set_mapping
from abacus.settings import ProviderKey
from tests.integration.provider_support import (
    ACME,
    ANTHROPIC_KEYS,
    EARLIER,
    FIRST_DAY,
    LABS,
    NOW,
    TODAY,
    data_snapshot,
    rollup_mismatches,
    state_snapshot,
    stored_totals,
    sync_state,
    truth_totals,
)

TOOL = "claude_code"


def midnight(day):
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


async def backfill_to_completion(ctx, key, **kwargs):
    results = []
    for _ in range(20):
        result = await anthropic.backfill_step(ctx, key, **kwargs)
        assert result.ok, result.errors
        results.append(result)
        if result.complete:
            return results
    raise AssertionError("backfill never completed")


async def test_backfill_then_incremental_matches_the_ground_truth_and_a_rerun_changes_nothing(
    emulator, ctx, sessionmaker
):
    for key in ANTHROPIC_KEYS:
        steps = await backfill_to_completion(ctx, key)
        assert len(steps) > 1  # 7-day chunks: the job re-enqueues itself
        state = await sync_state(sessionmaker, anthropic.state_id(key))
        assert state["backfill_complete"] is True
        # 14 consecutive empty days before the emulator's first day end the walk
        assert state["backfill_oldest_date"] == FIRST_DAY - timedelta(days=14)
        assert state["last_cursor"] == "14"
        assert state["last_synced_hour_end"] is None  # the backfill leaves the incremental mark alone
        result = await anthropic.sync_incremental(ctx, key)
        assert result.ok and result.windows == 3, result.errors
        state = await sync_state(sessionmaker, anthropic.state_id(key))
        assert state["last_synced_hour_end"] == midnight(TODAY)
        assert state["last_error"] is None and state["last_success_at"] is not None

    assert await stored_totals(sessionmaker, TOOL) == truth_totals(emulator, TOOL)
    assert await rollup_mismatches(sessionmaker) == 0
    # organization and customer type come from the records
    org_ids = {o.organization_id for o in emulator.state.dataset.anthropic_orgs.values()}
    snapshot = await data_snapshot(sessionmaker)
    assert {row[13] for row in snapshot["usage_records"]} == org_ids

    states = await state_snapshot(sessionmaker)
    for key in ANTHROPIC_KEYS:
        assert (await anthropic.sync_incremental(ctx, key)).ok
        assert (await anthropic.sync_range(ctx, key, FIRST_DAY, TODAY)).ok
        assert (await anthropic.backfill_step(ctx, key)).complete
    assert await data_snapshot(sessionmaker) == snapshot
    assert await state_snapshot(sessionmaker) == states


async def test_every_page_of_a_day_is_read(emulator, ctx, sessionmaker):
    result = await anthropic.sync_range(
        ctx, ACME, TODAY - timedelta(days=5), TODAY - timedelta(days=5), with_mappings=False
    )
    assert result.ok
    requests = emulator.state.requests("anthropic", "usage_report")
    assert len(requests) > 1
    assert [r["query"].get("page") is None for r in requests] == [True] + [False] * (len(requests) - 1)
    assert all(r["query"]["limit"] == "1000" for r in requests)
    day = TODAY - timedelta(days=5)
    assert await stored_totals(sessionmaker, TOOL, day, day) == truth_totals(emulator, TOOL, day, day, org="acme")


async def test_a_range_sync_does_not_touch_incremental_or_backfill_state(emulator, ctx, sessionmaker):
    assert (await anthropic.sync_range(ctx, LABS, FIRST_DAY, FIRST_DAY + timedelta(days=2))).ok
    state = await sync_state(sessionmaker, anthropic.state_id(LABS))
    assert (state["last_synced_hour_end"], state["backfill_oldest_date"], state["backfill_complete"]) == (
        None,
        None,
        False,
    )


async def test_backfill_stops_at_the_target(emulator, ctx, sessionmaker):
    target = TODAY - timedelta(days=5)
    result = await anthropic.backfill_step(ctx, ACME, target=target, with_mappings=False)
    assert result.complete and result.windows == 3  # today−3, today−4, today−5
    state = await sync_state(sessionmaker, anthropic.state_id(ACME))
    assert (state["backfill_oldest_date"], state["backfill_complete"]) == (target, True)


async def test_a_target_the_incremental_window_already_covers_completes_without_reading(emulator, ctx, sessionmaker):
    result = await anthropic.backfill_step(ctx, ACME, target=TODAY - timedelta(days=1), with_mappings=False)
    assert result.complete and result.windows == 0
    assert emulator.state.requests("anthropic") == []
    assert (await sync_state(sessionmaker, anthropic.state_id(ACME)))["backfill_complete"] is True


async def test_has_more_without_a_next_page_fails_the_day_instead_of_writing_part_of_it():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"data": [], "has_more": True, "next_page": None})

    client = ProviderClient("anthropic", "http://anthropic.test", label="acme", transport=httpx.MockTransport(handler))
    async with client:
        with pytest.raises(ProviderError, match="has_more without next_page for 2025-01-15"):
            await anthropic.fetch_usage_day(client, date(2025, 1, 15))


async def test_incremental_after_downtime_reads_every_day_since_the_last_one(emulator, ctx, sessionmaker, clock):
    clock.at(NOW - timedelta(days=6))
    assert (await anthropic.sync_incremental(ctx, ACME, with_mappings=False)).windows == 3
    clock.at(NOW)
    result = await anthropic.sync_incremental(ctx, ACME, with_mappings=False)
    assert result.windows == 7  # the last fully read day (today − 6) through today: no gap
    start = TODAY - timedelta(days=8)
    assert await stored_totals(sessionmaker, TOOL, start) == truth_totals(emulator, TOOL, start, org="acme")


# ---- failure modes ---------------------------------------------------------------------------------------------

# `after` = usage_report requests let through first: 1 fails the SECOND page of the first day (its first page must
# not be written either), 0 fails the first request.
FAULTS = [
    pytest.param({"kind": "429", "count": 4, "retry_after": 0}, "rate limited", 0, id="429-storm-first-page"),
    pytest.param({"kind": "429", "count": 4, "retry_after": 0}, "rate limited", 1, id="429-storm"),
    pytest.param({"kind": "429", "count": 1, "retry_after": 61}, "rate limited", 1, id="429-retry-after-too-long"),
    pytest.param({"kind": "500", "count": 3}, "HTTP 500 after 3 tries", 1, id="500"),
    pytest.param({"kind": "slow", "count": 3, "delay": 1.0}, "ReadTimeout after 3 tries", 1, id="timeout"),
    pytest.param({"kind": "malformed"}, "malformed JSON", 1, id="malformed-json"),
    pytest.param({"kind": "missing_field", "field": "data"}, "missing field 'data'", 1, id="missing-data"),
    pytest.param(
        {"kind": "missing_field", "field": "data.0.actor"}, "response is missing field 'actor'", 1, id="missing-actor"
    ),
]


@pytest.mark.parametrize(("fault", "message", "after"), FAULTS)
async def test_a_failed_day_leaves_data_and_state_as_before_and_the_next_run_completes(
    emulator, ctx, sessionmaker, clock, monkeypatch, fault, message, after
):
    monkeypatch.setattr(anthropic, "REQUEST_TIMEOUT", 0.3)
    clock.at(EARLIER)
    assert (await anthropic.sync_incremental(ctx, ACME)).ok
    data, states = await data_snapshot(sessionmaker), await state_snapshot(sessionmaker)

    clock.at(EARLIER + timedelta(days=1))
    emulator.state.add_fault("anthropic", "usage_report", after=after, **fault)
    result = await anthropic.sync_incremental(ctx, ACME, with_mappings=False)
    assert not result.ok
    assert len(result.errors) == 1
    assert message in result.errors[0]
    assert result.errors[0].startswith((TODAY - timedelta(days=2)).isoformat())
    assert "key acme" in result.errors[0] and ACME.key not in result.errors[0]
    assert await data_snapshot(sessionmaker) == data
    assert await state_snapshot(sessionmaker) == states
    state = await sync_state(sessionmaker, anthropic.state_id(ACME))
    assert message in state["last_error"]

    emulator.state.clear_faults()
    assert (await anthropic.sync_incremental(ctx, ACME)).ok
    start = TODAY - timedelta(days=3)
    assert await stored_totals(sessionmaker, TOOL, start) == truth_totals(emulator, TOOL, start, org="acme")
    assert (await sync_state(sessionmaker, anthropic.state_id(ACME)))["last_synced_hour_end"] == midnight(TODAY)


async def test_a_failure_mid_run_keeps_the_days_before_it(emulator, ctx, sessionmaker):
    # three days: the first two succeed, the third (today) fails on its first page
    pages_before_today = sum(
        -(-len(emulator.state.dataset.claude_code_report("acme", TODAY - timedelta(days=n))) // 8) or 1 for n in (2, 1)
    )
    emulator.state.add_fault("anthropic", "usage_report", "500", count=3, after=pages_before_today)
    result = await anthropic.sync_incremental(ctx, ACME, with_mappings=False)
    assert result.windows == 2 and result.errors[0].startswith(TODAY.isoformat())
    state = await sync_state(sessionmaker, anthropic.state_id(ACME))
    assert state["last_synced_hour_end"] == midnight(TODAY - timedelta(days=1))
    assert await stored_totals(sessionmaker, TOOL, TODAY, TODAY) == {}


async def test_a_429_with_retry_after_is_waited_out_and_the_day_succeeds(emulator, ctx, sessionmaker):
    emulator.state.add_fault("anthropic", "usage_report", "429", count=1, retry_after=1)
    started = time.monotonic()
    result = await anthropic.sync_range(
        ctx, ACME, TODAY - timedelta(days=1), TODAY - timedelta(days=1), with_mappings=False
    )
    assert result.ok, result.errors
    assert time.monotonic() - started >= 1.0
    statuses = [r["status"] for r in emulator.state.requests("anthropic", "usage_report")]
    assert statuses[:2] == [429, 200]
    day = TODAY - timedelta(days=1)
    assert await stored_totals(sessionmaker, TOOL, day, day) == truth_totals(emulator, TOOL, day, day, org="acme")


async def test_a_failing_backfill_day_does_not_move_the_cursor(emulator, ctx, sessionmaker):
    assert (await anthropic.backfill_step(ctx, ACME, max_days=2, with_mappings=False)).ok
    data, states = await data_snapshot(sessionmaker), await state_snapshot(sessionmaker)
    emulator.state.add_fault("anthropic", "usage_report", "malformed", count=1)
    result = await anthropic.backfill_step(ctx, ACME, max_days=2, with_mappings=False)
    assert not result.ok and result.complete is False
    assert result.errors[0].startswith(f"backfill {(TODAY - timedelta(days=5)).isoformat()}")
    assert await data_snapshot(sessionmaker) == data
    assert await state_snapshot(sessionmaker) == states
    assert (await anthropic.backfill_step(ctx, ACME, max_days=2, with_mappings=False)).ok
    state = await sync_state(sessionmaker, anthropic.state_id(ACME))
    assert state["backfill_oldest_date"] == TODAY - timedelta(days=6)


# ---- mappings --------------------------------------------------------------------------------------------------


async def test_key_names_map_to_creators_and_unresolved_usage_is_stored_unmapped(emulator, ctx, sessionmaker):
    org = emulator.state.dataset.anthropic_orgs["acme"]
    email_of = {u.id: u.email for u in org.users}
    # a manual mapping exists before the sync and must win
    async with sessionmaker() as db, db.begin():
        await set_mapping(db, TOOL, "ada-laptop", "someone.else@example.com", updated_by="ada@example.com")

    added = await anthropic.sync_mappings(ctx, ACME)
    snapshot = await data_snapshot(sessionmaker)
    mappings = {row[1]: (row[2], row[3]) for row in snapshot["identity_mappings"]}
    active_ci = next(k for k in org.api_keys if k.name == "ci-pipeline" and k.status == "active")
    archived = next(k for k in org.api_keys if k.name == "legacy-deploy")
    inactive = next(k for k in org.api_keys if k.name == "paused-bot")
    assert mappings == {
        "ada-laptop": ("someone.else@example.com", "ada@example.com"),
        "ci-pipeline": (email_of[active_ci.created_by], "sync:anthropic"),  # active beats archived
        "legacy-deploy": (email_of[archived.created_by], "sync:anthropic"),
        "paused-bot": (email_of[inactive.created_by], "sync:anthropic"),
    }
    assert added == 3
    assert await anthropic.sync_mappings(ctx, ACME) == 0

    assert (await anthropic.sync_range(ctx, ACME, FIRST_DAY, TODAY, with_mappings=False)).ok
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    emails = {row[1]: row[2] for row in rows}
    assert emails["claude_code:shared-ci-runner"] == "unmapped:claude_code:shared-ci-runner"  # no key of that name
    assert emails["claude_code:orphan-script"] == "unmapped:claude_code:orphan-script"  # creator not a user
    assert emails["claude_code:ci-pipeline"] == email_of[active_ci.created_by]
    assert emails["claude_code:ada-laptop"] == "someone.else@example.com"
    assert emails["claude_code:ada@example.com"] == "ada@example.com"
    # nothing was dropped
    assert await stored_totals(sessionmaker, TOOL) == truth_totals(emulator, TOOL, org="acme")

    async with sessionmaker() as db, db.begin():
        change = await set_mapping(db, TOOL, "shared-ci-runner", "ada@example.com", updated_by="ada@example.com")
    assert change.usage_rows > 0
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert {row[2] for row in rows if row[1] == "claude_code:shared-ci-runner"} == {"ada@example.com"}
    assert await rollup_mismatches(sessionmaker) == 0
    daily = (await data_snapshot(sessionmaker))["usage_daily"]
    assert not any(row[1] == "unmapped:claude_code:shared-ci-runner" for row in daily)


async def test_a_new_mapping_re_points_rows_stored_before_it(emulator, ctx, sessionmaker):
    assert (await anthropic.sync_range(ctx, ACME, TODAY - timedelta(days=6), TODAY, with_mappings=False)).ok
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert {row[2] for row in rows if row[1] == "claude_code:ci-pipeline"} == {"unmapped:claude_code:ci-pipeline"}
    await anthropic.sync_mappings(ctx, ACME)
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert not any(row[2].startswith("unmapped:") for row in rows if row[1] == "claude_code:ci-pipeline")
    assert await rollup_mismatches(sessionmaker) == 0


async def test_a_mapping_failure_does_not_block_the_usage_sync(emulator, ctx, sessionmaker):
    emulator.state.add_fault("anthropic", "users", "500", count=3)
    result = await anthropic.sync_incremental(ctx, ACME)
    assert result.ok, result.errors
    assert "mappings not refreshed" in result.detail
    start = TODAY - timedelta(days=2)
    assert await stored_totals(sessionmaker, TOOL, start) == truth_totals(emulator, TOOL, start, org="acme")


# ---- several org keys ------------------------------------------------------------------------------------------


async def test_each_key_has_its_own_state_and_a_failing_key_does_not_block_another(emulator, ctx, sessionmaker):
    broken = ProviderKey("acme", "sk-ant-admin01-revoked")
    failed = await anthropic.sync_incremental(ctx, broken)
    worked = await anthropic.sync_incremental(ctx, LABS)
    assert not failed.ok and "HTTP 401" in failed.errors[0] and "revoked" not in failed.errors[0]
    assert worked.ok
    acme_state = await sync_state(sessionmaker, "anthropic:acme")
    labs_state = await sync_state(sessionmaker, "anthropic:labs")
    assert acme_state["last_synced_hour_end"] is None and "HTTP 401" in acme_state["last_error"]
    assert labs_state["last_synced_hour_end"] == midnight(TODAY) and labs_state["last_error"] is None
    start = TODAY - timedelta(days=2)
    assert await stored_totals(sessionmaker, TOOL, start) == truth_totals(emulator, TOOL, start, org="labs")

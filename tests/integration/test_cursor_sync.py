"""Cursor sync against the emulator over HTTP and real PostgreSQL: totals to the cent, idempotency, trailing re-reads,
failure modes (each leaves data and state exactly as before the failed window) and multi-team keys."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from abacus.providers import cursor
from abacus.settings import ProviderKey
from tests.integration.provider_support import (
    CORE,
    CURSOR_KEYS,
    EARLIER,
    FIRST_DAY,
    MOBILE,
    NOW,
    TODAY,
    data_snapshot,
    rollup_mismatches,
    state_snapshot,
    stored_totals,
    sync_state,
    truth_totals,
)

TOOL = "cursor"
YESTERDAY = TODAY - timedelta(days=1)


def ms(moment: datetime) -> int:
    return cursor.epoch_ms(moment)


async def backfill_to_completion(ctx, key, **kwargs):
    for _ in range(20):
        result = await cursor.backfill_step(ctx, key, **kwargs)
        assert result.ok, result.errors
        if result.complete:
            return result
    raise AssertionError("backfill never completed")


async def test_backfill_then_incremental_matches_the_ground_truth_and_a_rerun_changes_nothing(
    emulator, ctx, sessionmaker
):
    for key in CURSOR_KEYS:
        await backfill_to_completion(ctx, key)
        state = await sync_state(sessionmaker, cursor.state_id(key))
        assert state["backfill_complete"] is True
        # 7 consecutive empty days end the walk (a quiet weekend at the start of the history counts towards them)
        assert FIRST_DAY - timedelta(days=7) <= state["backfill_oldest_date"] < FIRST_DAY
        assert state["last_cursor"] == "7"
        result = await cursor.sync_incremental(ctx, key)
        assert result.ok and result.windows == 1, result.errors  # never synced: the last 24 h
        assert (await sync_state(sessionmaker, cursor.state_id(key)))["last_synced_hour_end"] == NOW

    assert await stored_totals(sessionmaker, TOOL) == truth_totals(emulator, TOOL)
    assert await rollup_mismatches(sessionmaker) == 0
    snapshot = await data_snapshot(sessionmaker)
    rows = snapshot["usage_records"]
    assert {row[13] for row in rows} == {"cursor:core", "cursor:mobile"}
    assert {row[11] for row in rows} >= {None, "1", "2"}  # same-millisecond twins kept apart by their ordinal
    assert "unmapped:cursor:unknown" in {row[2] for row in rows}  # events without userEmail are kept
    assert not any(row[6] == row[7] == row[8] == row[9] == 0 for row in rows)  # zero-token events skipped
    assert "default" not in {row[5] for row in rows} and "auto" in {row[5] for row in rows}

    states = await state_snapshot(sessionmaker)
    for key in CURSOR_KEYS:
        assert (await cursor.sync_incremental(ctx, key)).ok
        assert (await cursor.sync_range(ctx, key, FIRST_DAY, TODAY)).ok
        assert (await cursor.backfill_step(ctx, key)).complete
    assert await data_snapshot(sessionmaker) == snapshot
    assert await state_snapshot(sessionmaker) == states


async def test_requests_page_through_half_open_hour_windows(emulator, ctx):
    assert (await cursor.sync_range(ctx, CORE, YESTERDAY, YESTERDAY)).ok
    requests = emulator.state.requests("cursor", "usage_events")
    start = datetime.combine(YESTERDAY, datetime.min.time(), tzinfo=UTC)
    assert len(requests) > 1
    assert [r["body"]["page"] for r in requests] == list(range(1, len(requests) + 1))
    assert all(r["body"]["pageSize"] == 1000 for r in requests)
    assert {(r["body"]["startDate"], r["body"]["endDate"]) for r in requests} == {
        (ms(start), ms(start + timedelta(days=1)) - 1)
    }


async def test_incremental_windows_are_at_most_a_day_and_re_read_the_last_two_hours(emulator, ctx, sessionmaker, clock):
    clock.at(NOW - timedelta(days=2, hours=5))
    assert (await cursor.sync_incremental(ctx, CORE)).windows == 1
    clock.at(NOW)
    emulator.state.clear_requests()
    result = await cursor.sync_incremental(ctx, CORE)
    assert result.ok and result.windows == 3  # 2 days 5 hours + the 2 h re-read, in ≤ 1-day windows
    windows = sorted(
        {(r["body"]["startDate"], r["body"]["endDate"] + 1) for r in emulator.state.requests("cursor", "usage_events")}
    )
    assert windows[0][0] == ms(NOW - timedelta(days=2, hours=7))
    assert windows[-1][1] == ms(NOW)
    assert all(end - start <= 86_400_000 for start, end in windows)
    assert all(a[1] == b[0] for a, b in pairwise(windows))
    day = TODAY - timedelta(days=1)
    assert await stored_totals(sessionmaker, TOOL, day, day) == truth_totals(emulator, TOOL, day, day, org="core")


async def test_late_events_are_picked_up_by_the_trailing_re_read(emulator, ctx, sessionmaker, clock):
    hour = NOW - timedelta(hours=1)
    dataset = emulator.state.dataset

    def published(team: str) -> int:
        return sum(1 for e in dataset.cursor_events(team, ms(hour), ms(NOW) - 1) if e.token_total)

    async def stored() -> int:
        rows = (await data_snapshot(sessionmaker))["usage_records"]
        return sum(1 for row in rows if ms(hour) <= row[12] < ms(NOW))

    clock.at(NOW)
    assert (await cursor.sync_incremental(ctx, CORE)).ok
    seen_at_first = await stored()
    assert seen_at_first == published("core")
    clock.at(NOW + timedelta(hours=1))
    late = published("core")
    assert late > seen_at_first  # the emulator publishes some events of that hour only after it closed
    assert (await cursor.sync_incremental(ctx, CORE)).ok
    assert await stored() == late


# ---- failure modes ---------------------------------------------------------------------------------------------

FAULTS = [
    pytest.param({"kind": "429", "count": 4, "retry_after": 0}, "rate limited", id="429-storm"),
    pytest.param({"kind": "500", "count": 3}, "HTTP 500 after 3 tries", id="500"),
    pytest.param({"kind": "slow", "count": 3, "delay": 1.0}, "ReadTimeout after 3 tries", id="timeout"),
    pytest.param({"kind": "malformed"}, "malformed JSON", id="malformed-json"),
    pytest.param({"kind": "missing_field", "field": "usageEvents"}, "missing field 'usageEvents'", id="missing-events"),
    pytest.param(
        {"kind": "missing_field", "field": "usageEvents.0.timestamp"},
        "missing field 'timestamp'",
        id="missing-timestamp",
    ),
]


@pytest.mark.parametrize(("fault", "message"), FAULTS)
async def test_a_failed_window_leaves_data_and_state_as_before_and_the_next_run_completes(
    emulator, ctx, sessionmaker, clock, monkeypatch, fault, message
):
    monkeypatch.setattr(cursor, "REQUEST_TIMEOUT", 0.3)
    clock.at(EARLIER)
    assert (await cursor.sync_incremental(ctx, CORE)).ok
    data, states = await data_snapshot(sessionmaker), await state_snapshot(sessionmaker)

    clock.at(NOW)
    # the SECOND page of the first window fails: its first page must not be written either
    emulator.state.add_fault("cursor", "usage_events", after=1, **fault)
    result = await cursor.sync_incremental(ctx, CORE)
    assert not result.ok and result.windows == 0
    assert message in result.errors[0]
    assert "key core" in result.errors[0] and CORE.key not in result.errors[0]
    assert await data_snapshot(sessionmaker) == data
    assert await state_snapshot(sessionmaker) == states
    assert message in (await sync_state(sessionmaker, cursor.state_id(CORE)))["last_error"]

    emulator.state.clear_faults()
    assert (await cursor.sync_incremental(ctx, CORE)).ok
    assert (await sync_state(sessionmaker, cursor.state_id(CORE)))["last_synced_hour_end"] == NOW
    assert await stored_totals(sessionmaker, TOOL, YESTERDAY, YESTERDAY) == truth_totals(
        emulator, TOOL, YESTERDAY, YESTERDAY, org="core"
    )


async def test_a_429_with_retry_after_is_waited_out_and_the_window_succeeds(emulator, ctx, sessionmaker):
    emulator.state.add_fault("cursor", "usage_events", "429", count=1, after=1, retry_after=1)
    started = time.monotonic()
    assert (await cursor.sync_range(ctx, CORE, YESTERDAY, YESTERDAY)).ok
    assert time.monotonic() - started >= 1.0
    assert [r["status"] for r in emulator.state.requests("cursor", "usage_events")][:3] == [200, 429, 200]
    assert await stored_totals(sessionmaker, TOOL, YESTERDAY, YESTERDAY) == truth_totals(
        emulator, TOOL, YESTERDAY, YESTERDAY, org="core"
    )


async def test_a_failing_backfill_day_does_not_move_the_cursor(emulator, ctx, sessionmaker):
    assert (await cursor.backfill_step(ctx, CORE, max_days=2)).ok
    data, states = await data_snapshot(sessionmaker), await state_snapshot(sessionmaker)
    emulator.state.add_fault("cursor", "usage_events", "500", count=3)
    result = await cursor.backfill_step(ctx, CORE, max_days=2)
    assert not result.ok and result.complete is False
    assert result.errors[0].startswith(f"backfill {(TODAY - timedelta(days=3)).isoformat()}")
    assert await data_snapshot(sessionmaker) == data
    assert await state_snapshot(sessionmaker) == states


# ---- several team keys -------------------------------------------------------------------------------------------


async def test_each_key_has_its_own_state_and_a_failing_key_does_not_block_another(emulator, ctx, sessionmaker):
    broken = ProviderKey("core", "key_revoked")
    failed = await cursor.sync_incremental(ctx, broken)
    worked = await cursor.sync_incremental(ctx, MOBILE)
    assert not failed.ok and "HTTP 401" in failed.errors[0] and "revoked" not in failed.errors[0]
    assert worked.ok
    core_state = await sync_state(sessionmaker, "cursor:core")
    mobile_state = await sync_state(sessionmaker, "cursor:mobile")
    assert core_state["last_synced_hour_end"] is None and "HTTP 401" in core_state["last_error"]
    assert mobile_state["last_synced_hour_end"] == NOW and mobile_state["last_error"] is None
    rows = (await data_snapshot(sessionmaker))["usage_records"]
    assert rows and {row[13] for row in rows} == {"cursor:mobile"}


async def test_team_members_for_the_mappings_page(emulator, ctx):
    members = await cursor.fetch_members(ctx, CORE)
    team = emulator.state.dataset.cursor_teams["core"]
    assert [m["email"] for m in members] == [p.email for p in team.members]
    assert {m["role"] for m in members} <= {"owner", "member", "free-owner"}

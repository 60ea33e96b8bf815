"""Activity (beyond.md §1) against the emulator over HTTP and real PostgreSQL: Claude Code from the A1 report's
core_metrics / tool_actions, Cursor from C3 daily usage. Stored rows equal the emulator's ground truth in every column
and person-day, re-runs change nothing, a failed window leaves data and state as they were, re-read days are replaced
whole, and API-key actors map exactly as for usage."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from abacus.domain.identities import own_email, unmapped_email
from abacus.providers import anthropic, cursor
from abacus.records import ActivityBatch, ActivityRow
from abacus.services.mappings import delete_mapping, set_mapping
from abacus.sync.activity_store import store_activity
from tests.integration.provider_support import (
    ACME,
    ANTHROPIC_KEYS,
    CORE,
    CURSOR_KEYS,
    FIRST_DAY,
    MOBILE,
    NOW,
    TODAY,
    state_snapshot,
    sync_state,
)

COLUMNS = (
    "tool, organization_id, identity, date, email, sessions, lines_added, lines_removed, suggested, accepted, "
    "requests, commits, pull_requests, active"
)
COUNTS = ("sessions", "lines_added", "lines_removed", "suggested", "accepted", "requests", "commits", "pull_requests")


@pytest.fixture(autouse=True)
async def empty_activity(emulator, sessionmaker):
    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE activity_daily"))


async def stored_activity(sessionmaker: Any, tool: str | None = None) -> list[tuple[Any, ...]]:
    async with sessionmaker() as db:
        rows = await db.execute(
            text(
                f"SELECT {COLUMNS} FROM activity_daily WHERE CAST(:tool AS text) IS NULL OR tool = :tool "
                "ORDER BY tool, organization_id, identity, date"
            ),
            {"tool": tool},
        )
        return [tuple(row) for row in rows]


def truth_activity(
    emulator: Any, tool: str, start: date = FIRST_DAY, end: date = TODAY, org: str | None = None
) -> list[tuple[Any, ...]]:
    """The emulator's ground truth in the stored shape (email: the identity's own, else unmapped)."""
    return [
        (
            row["tool"],
            row["organization"],
            row["identity"],
            row["date"],
            own_email(row["identity"]) or unmapped_email(row["identity"]),
            *(row[name] for name in COUNTS),
            row["active"],
        )
        for row in emulator.state.dataset.truth_activity(start, end, tool=tool, org_label=org)
    ]


async def activity_emails(sessionmaker: Any, identity: str) -> set[str]:
    async with sessionmaker() as db:
        sql = text("SELECT email FROM activity_daily WHERE identity = :i")
        return set((await db.execute(sql, {"i": identity})).scalars())


async def activity_backfill(step: Any, ctx: Any, key: Any) -> None:
    for _ in range(30):
        result = await step(ctx, key)
        assert result.ok, result.errors
        if result.complete:
            return
    raise AssertionError("backfill never completed")


# ---- Claude Code ------------------------------------------------------------------------------------------------


async def test_claude_code_activity_equals_the_ground_truth_and_a_rerun_changes_nothing(emulator, ctx, sessionmaker):
    for key in ANTHROPIC_KEYS:  # without API-key mappings: every api_actor stays unmapped, as the truth says
        await activity_backfill(lambda c, k: anthropic.backfill_step(c, k, with_mappings=False), ctx, key)
        assert (await anthropic.sync_incremental(ctx, key, with_mappings=False)).ok
    stored = await stored_activity(sessionmaker, "claude_code")
    truth = truth_activity(emulator, "claude_code")
    assert stored == truth
    assert len(stored) > 50
    assert any(row[2] == "claude_code:ci-pipeline" or row[4].startswith("unmapped:") for row in stored)
    assert {row[1] for row in stored} == {f"anthropic:{key.label}" for key in ANTHROPIC_KEYS}

    states = await state_snapshot(sessionmaker)
    for key in ANTHROPIC_KEYS:
        assert (await anthropic.sync_incremental(ctx, key, with_mappings=False)).ok
        assert (await anthropic.sync_range(ctx, key, FIRST_DAY, TODAY, with_mappings=False)).ok
    assert await stored_activity(sessionmaker, "claude_code") == truth
    assert await state_snapshot(sessionmaker) == states


async def test_api_key_actors_map_as_for_usage_and_a_new_mapping_re_points_their_activity(emulator, ctx, sessionmaker):
    assert (await anthropic.sync_incremental(ctx, ACME)).ok  # with the API-key → creator mappings
    async with sessionmaker() as db:
        pairs = (
            await db.execute(
                text(
                    "SELECT DISTINCT a.identity, a.email, u.email FROM activity_daily a JOIN usage_records u "
                    "ON u.identity = a.identity AND u.date = a.date WHERE a.tool = 'claude_code'"
                )
            )
        ).all()
    assert pairs and all(activity_email == usage_email for _, activity_email, usage_email in pairs)
    unmapped = sorted({identity for identity, email, _ in pairs if email.startswith("unmapped:")})
    assert unmapped, "the emulator has API keys whose creator is not an org user"
    name = unmapped[0].removeprefix("claude_code:")

    async with sessionmaker() as db, db.begin():
        await set_mapping(db, "claude_code", name, "owner@example.com", updated_by="test")
    async with sessionmaker() as db:
        emails = set(
            (
                await db.execute(text("SELECT email FROM activity_daily WHERE identity = :i"), {"i": unmapped[0]})
            ).scalars()
        )
    assert emails == {"owner@example.com"}

    async with sessionmaker() as db, db.begin():
        await delete_mapping(db, "claude_code", name)
    async with sessionmaker() as db:
        emails = set(
            (
                await db.execute(text("SELECT email FROM activity_daily WHERE identity = :i"), {"i": unmapped[0]})
            ).scalars()
        )
    assert emails == {unmapped_email(unmapped[0])}


async def test_a_failed_claude_code_day_leaves_activity_and_state_as_before(emulator, ctx, sessionmaker, clock):
    clock.at(NOW - timedelta(days=1))
    assert (await anthropic.sync_incremental(ctx, ACME, with_mappings=False)).ok
    before, states = await stored_activity(sessionmaker), await state_snapshot(sessionmaker)
    clock.at(NOW)
    emulator.state.add_fault("anthropic", "usage_report", "malformed", count=5)
    result = await anthropic.sync_incremental(ctx, ACME, with_mappings=False)
    assert not result.ok
    assert await stored_activity(sessionmaker) == before
    assert await state_snapshot(sessionmaker) == states


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"core_metrics": {"num_sessions": "three"}}, "core_metrics.num_sessions: 'three' is not a token count"),
        ({"tool_actions": {"edit_tool": {"accepted": -1}}}, "tool_actions.edit_tool.accepted: -1 is not a token count"),
        ({"tool_actions": ["edit_tool"]}, "tool_actions: is not an object"),
    ],
)
def test_a_malformed_metric_names_its_record_and_field(change, message):
    record = {
        "date": "2025-12-01T00:00:00Z",
        "actor": {"type": "user_actor", "email_address": "ada@example.com"},
        "core_metrics": {"num_sessions": 1},
        "tool_actions": {},
        "model_breakdown": [],
    }
    with pytest.raises(Exception, match="data\\[1\\]") as failure:
        anthropic.parse_activity_records([record, {**record, **change}])
    assert message in str(failure.value)


# ---- Cursor C3 ----------------------------------------------------------------------------------------------------


async def test_cursor_activity_equals_the_ground_truth_and_a_rerun_changes_nothing(emulator, ctx, sessionmaker):
    for key in CURSOR_KEYS:
        await activity_backfill(lambda c, k: cursor.activity_backfill_step(c, k, max_days=30), ctx, key)
        assert (await cursor.sync_activity_incremental(ctx, key)).ok
        state = await sync_state(sessionmaker, cursor.activity_state_id(key))
        assert state["backfill_complete"] is True
        # 7 days in a row without an active person end the walk (the emulator's history starts at FIRST_DAY)
        assert state["backfill_oldest_date"] < FIRST_DAY and state["last_cursor"] == "7"
        assert state["last_synced_hour_end"] == datetime.combine(TODAY, datetime.min.time(), tzinfo=UTC)
    stored = await stored_activity(sessionmaker, "cursor")
    assert stored == truth_activity(emulator, "cursor")
    assert any(row[-1] for row in stored) and not all(row[-1] for row in stored)  # inactive members kept as such

    states = await state_snapshot(sessionmaker)
    for key in CURSOR_KEYS:
        assert (await cursor.sync_activity_incremental(ctx, key)).ok
        assert (await cursor.sync_activity_range(ctx, key, FIRST_DAY, TODAY)).ok
    assert await stored_activity(sessionmaker, "cursor") == truth_activity(emulator, "cursor")
    assert await state_snapshot(sessionmaker) == states


async def test_cursor_forward_run_re_reads_the_last_three_days_in_one_call(emulator, ctx, sessionmaker):
    assert (await cursor.sync_activity_incremental(ctx, CORE)).ok
    calls = emulator.state.requests("cursor", "daily_usage")
    assert len(calls) == 1
    day_ms = 86_400_000
    first_ms = int(datetime.combine(TODAY - timedelta(days=3), datetime.min.time(), tzinfo=UTC).timestamp() * 1000)
    assert calls[0]["body"] == {"startDate": first_ms, "endDate": first_ms + 4 * day_ms - 1}
    stored_days = {row[3] for row in await stored_activity(sessionmaker, "cursor")}
    assert stored_days == {TODAY - timedelta(days=n) for n in range(4)}


async def test_the_registered_cursor_jobs_run_usage_and_activity(emulator, ctx, sessionmaker):
    result = await cursor.DESCRIPTION.sync_incremental(ctx, MOBILE)
    assert result.ok, result.errors
    assert await sync_state(sessionmaker, cursor.state_id(MOBILE)) is not None
    assert await sync_state(sessionmaker, cursor.activity_state_id(MOBILE)) is not None
    rows = cursor.DESCRIPTION.rows_for_status(ctx.settings, [])
    assert [r.state_id for r in rows] == [
        "cursor:core",
        "cursor-activity:core",
        "cursor-seats:core",
        "cursor:mobile",
        "cursor-activity:mobile",
        "cursor-seats:mobile",
    ]


@pytest.mark.parametrize(
    "fault",
    [
        {"kind": "500", "count": 3},
        {"kind": "malformed"},
        {"kind": "missing_field", "field": "data.0.email"},
        {"kind": "missing_field", "field": "data.3.date"},
    ],
)
async def test_a_failed_cursor_activity_window_leaves_data_and_state_as_before(
    emulator, ctx, sessionmaker, clock, fault
):
    clock.at(NOW - timedelta(days=1))
    assert (await cursor.sync_activity_incremental(ctx, CORE)).ok
    before, states = await stored_activity(sessionmaker), await state_snapshot(sessionmaker)
    clock.at(NOW)
    emulator.state.add_fault("cursor", "daily_usage", **fault)
    result = await cursor.sync_activity_incremental(ctx, CORE)
    assert not result.ok and result.windows == 0
    assert await stored_activity(sessionmaker) == before
    assert await state_snapshot(sessionmaker) == states
    assert (await sync_state(sessionmaker, cursor.activity_state_id(CORE)))["last_error"]
    emulator.state.clear_faults()
    assert (await cursor.sync_activity_incremental(ctx, CORE)).ok
    assert await stored_activity(sessionmaker, "cursor") == truth_activity(
        emulator, "cursor", TODAY - timedelta(days=4), TODAY, org="core"
    )


async def test_a_429_on_c3_is_waited_out(emulator, ctx, sessionmaker):
    emulator.state.add_fault("cursor", "daily_usage", "429", count=1, retry_after=1)
    assert (await cursor.sync_activity_range(ctx, CORE, TODAY - timedelta(days=2), TODAY - timedelta(days=1))).ok
    assert [r["status"] for r in emulator.state.requests("cursor", "daily_usage")] == [429, 200]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"date": 1764547200001}, "is not epoch milliseconds of a UTC midnight"),
        ({"date": 1764547200000 - 86_400_000}, "is outside the requested"),
        ({"email": None}, "missing field 'email'"),
        ({"isActive": "yes"}, "isActive: 'yes' is not a boolean"),
        ({"totalTabsShown": 2.5}, "totalTabsShown: 2.5 is not a token count"),
    ],
)
def test_a_malformed_c3_row_names_the_row_and_field(row, message):
    good = {"date": 1764547200000, "email": "ada@example.com", "isActive": True, "totalTabsShown": 4}
    day = date(2025, 12, 1)
    with pytest.raises(Exception, match="data\\[1\\]") as failure:
        cursor.parse_daily_usage([good, {**good, "email": "bob@example.com", **row}], first=day, last=day)
    assert message in str(failure.value)


def test_the_same_person_twice_on_one_day_is_an_error():
    good = {"date": 1764547200000, "email": "ada@example.com", "isActive": True}
    day = date(2025, 12, 1)
    with pytest.raises(Exception, match="appears twice"):
        cursor.parse_daily_usage([good, {**good, "email": "ADA@example.com"}], first=day, last=day)


# ---- the store ---------------------------------------------------------------------------------------------------


async def test_a_re_read_day_is_replaced_whole_and_other_days_and_organizations_stay(emulator, sessionmaker):
    day, other = date(2025, 12, 1), date(2025, 12, 2)

    def batch(org: str, days: tuple[date, ...], *rows: ActivityRow) -> ActivityBatch:
        return ActivityBatch("cursor", org, days, rows)

    ada = ActivityRow(day, "cursor:ada@example.com", lines_added=10, active=True)
    bob = ActivityRow(day, "cursor:bob@example.com", lines_added=5, active=True)
    bob_later = ActivityRow(other, "cursor:bob@example.com", lines_added=7, active=True)
    async with sessionmaker() as db, db.begin():
        await store_activity(db, batch("cursor:core", (day, other), ada, bob, bob_later))
        await store_activity(db, batch("cursor:mobile", (day,), bob))
    async with sessionmaker() as db, db.begin():
        assert (
            await store_activity(db, batch("cursor:core", (day,), ActivityRow(day, ada.identity, lines_added=11))) == 1
        )
    stored = [(r[1], r[2], r[3], r[6]) for r in await stored_activity(sessionmaker)]
    assert stored == [
        ("cursor:core", "cursor:ada@example.com", day, 11),
        ("cursor:core", "cursor:bob@example.com", other, 7),
        ("cursor:mobile", "cursor:bob@example.com", day, 5),
    ]
    async with sessionmaker() as db, db.begin():
        with pytest.raises(ValueError, match="2025-12-02"):
            await store_activity(db, batch("cursor:core", (day,), bob_later))

"""Seats (docs/schema.md §10) from Cursor C2 members and Copilot P2 seats, over HTTP against the emulator: stored
seats equal the vendor's list, re-syncs change nothing, a dropped seat is ended (kept for history), a failed list
changes nothing, prices come from the settings, Copilot seats map through the GitHub mapping of the user id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN
from abacus.providers import copilot, cursor
from abacus.records import SeatRow
from abacus.services.mappings import set_mapping
from abacus.settings import CopilotSettings, GitHubSettings, ProviderKey
from abacus.sync.context import SyncContext
from abacus.sync.seat_store import replace_seats
from tests.integration.provider_support import CORE, NOW, sync_state

KEY = ProviderKey(DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN)
COLUMNS = "tool, organization_id, identity, email, plan, since, last_activity_at, price_usd, ended_at"


@pytest.fixture()
def cctx(ctx: SyncContext, emulator: Any) -> SyncContext:
    settings = ctx.settings.replace(
        github=GitHubSettings(token=DEMO_GITHUB_TOKEN, org=DEMO_GITHUB_ORG, api_url=f"{emulator.base_url}/github"),
        copilot=CopilotSettings(enabled=True, seat_prices="business=19,enterprise=39"),
    )
    return SyncContext(settings=settings, sessionmaker=ctx.sessionmaker, now=ctx.now, backoff_base=0.01)


async def seats(sessionmaker: Any, tool: str | None = None) -> list[tuple[Any, ...]]:
    async with sessionmaker() as db:
        rows = await db.execute(
            text(
                f"SELECT {COLUMNS} FROM seats WHERE CAST(:tool AS text) IS NULL OR tool = :tool "
                "ORDER BY tool, organization_id, identity, since"
            ),
            {"tool": tool},
        )
        return [tuple(row) for row in rows]


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


async def test_cursor_seats_are_the_team_members_at_the_seat_price(emulator, ctx, sessionmaker):
    result = await cursor.sync_seats(ctx, CORE)
    assert result.ok, result.errors
    team = emulator.state.dataset.cursor_teams["core"]
    expected = sorted(
        (
            "cursor",
            "cursor:core",
            f"cursor:{person.email}",
            person.email,
            "owner" if position == 0 else "member",
            NOW,
            None,
            Decimal("40.00"),
            None,
        )
        for position, person in enumerate(team.members)
    )
    assert await seats(sessionmaker, "cursor") == expected
    state = await sync_state(sessionmaker, cursor.seats_state_id(CORE))
    assert state["last_success_at"] is not None and state["records_last_run"] == len(team.members)

    before = await seats(sessionmaker)
    assert (await cursor.sync_seats(ctx, CORE)).ok
    assert await seats(sessionmaker) == before


async def test_copilot_seats_equal_the_seat_list_with_prices_by_plan(emulator, cctx, sessionmaker):
    holder = next(s for s in emulator.state.dataset.copilot_seats if s.person is not None)
    async with sessionmaker() as db, db.begin():
        await set_mapping(db, "github", str(holder.user_id), holder.person.email, updated_by="test")
    result = await copilot.sync_seats(cctx, KEY)
    assert result.ok, result.errors
    prices = {"business": Decimal("19.00"), "enterprise": Decimal("39.00")}
    wire = emulator.state.dataset.copilot_seat_list()
    expected = sorted(
        (
            "github_copilot",
            f"copilot:{DEMO_GITHUB_ORG}",
            f"copilot:{seat['assignee']['login'].lower()}",
            holder.person.email
            if seat["assignee"]["id"] == holder.user_id
            else f"unmapped:copilot:{seat['assignee']['login'].lower()}",
            seat["plan_type"],
            parse_time(seat["created_at"]),
            parse_time(seat["last_activity_at"]),
            prices[seat["plan_type"]],
            None,
        )
        for seat in wire
    )
    stored = await seats(sessionmaker, "github_copilot")
    assert stored == expected
    assert any(row[6] is None for row in stored), "idle seats (never active) are kept"

    before = await seats(sessionmaker)
    assert (await copilot.sync_seats(cctx, KEY)).ok
    assert await seats(sessionmaker) == before


async def test_the_forward_jobs_sync_seats_and_show_their_status_rows(emulator, ctx, cctx, sessionmaker):
    assert (await cursor.DESCRIPTION.sync_incremental(ctx, CORE)).ok
    assert (await copilot.DESCRIPTION.sync_incremental(cctx, KEY)).ok
    assert {row[0] for row in await seats(sessionmaker)} == {"cursor", "github_copilot"}
    assert copilot.seats_state_id(KEY) in [r.state_id for r in copilot.DESCRIPTION.rows_for_status(cctx.settings, [])]
    assert cursor.seats_state_id(CORE) in [r.state_id for r in cursor.DESCRIPTION.rows_for_status(ctx.settings, [])]


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"kind": "500", "count": 3}, "HTTP 500 after 3 tries"),
        ({"kind": "missing_field", "field": "seats.0.assignee"}, "missing field 'assignee'"),
        ({"kind": "malformed"}, "malformed JSON"),
    ],
)
async def test_a_failed_seat_list_changes_nothing(emulator, cctx, sessionmaker, fault, message):
    assert (await copilot.sync_seats(cctx, KEY)).ok
    before = await seats(sessionmaker)
    emulator.state.add_fault("copilot", "seats", **fault)
    result = await copilot.sync_seats(cctx, KEY)
    assert not result.ok and message in result.errors[0]
    assert await seats(sessionmaker) == before
    assert message in (await sync_state(sessionmaker, copilot.seats_state_id(KEY)))["last_error"]


async def test_a_dropped_seat_is_ended_and_a_returning_one_starts_a_new_row(emulator, sessionmaker):
    first, later = datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 5, tzinfo=UTC)

    def row(name: str, plan: str = "business") -> SeatRow:
        return SeatRow(f"cursor:{name}@example.com", plan, None, None, Decimal(40))

    async with sessionmaker() as db, db.begin():
        change = await replace_seats(db, "cursor", "cursor:core", [row("ada"), row("bob")], first)
    assert (change.added, change.updated, change.ended) == (2, 0, 0)
    async with sessionmaker() as db, db.begin():
        change = await replace_seats(db, "cursor", "cursor:core", [row("ada", "owner")], later)
    assert (change.added, change.updated, change.ended) == (0, 1, 1)
    async with sessionmaker() as db, db.begin():
        await replace_seats(db, "cursor", "cursor:core", [row("ada", "owner"), row("bob")], later + timedelta(days=1))
    stored = [(r[2], r[4], r[5], r[8]) for r in await seats(sessionmaker)]
    assert stored == [
        ("cursor:ada@example.com", "owner", first, None),
        ("cursor:bob@example.com", "business", first, later),
        ("cursor:bob@example.com", "business", later + timedelta(days=1), None),
    ]


async def test_claude_code_seats_are_the_org_users_other_than_admins_when_priced(emulator, ctx, sessionmaker):
    from abacus.providers import anthropic
    from tests.integration.provider_support import ACME

    assert (await anthropic.sync_seats(ctx, ACME)).records == 0  # no ANTHROPIC_SEAT_PRICE_USD: not tracked
    assert await seats(sessionmaker) == [] and await sync_state(sessionmaker, anthropic.seats_state_id(ACME)) is None

    priced = SyncContext(
        settings=ctx.settings.replace(anthropic={"seat_price_usd": Decimal(25)}),
        sessionmaker=sessionmaker,
        now=ctx.now,
        backoff_base=0.01,
    )
    result = await anthropic.DESCRIPTION.sync_incremental(priced, ACME)
    assert result.ok, result.errors
    users = emulator.state.dataset.anthropic_orgs["acme"].users
    expected = sorted(
        (
            "claude_code",
            "anthropic:acme",
            f"claude_code:{u.email}",
            u.email,
            u.role,
            parse_time(u.added_at),
            None,
            Decimal("25.00"),
            None,
        )
        for u in users
        if u.role != "admin"
    )
    assert await seats(sessionmaker, "claude_code") == expected
    assert any(u.role == "admin" for u in users)
    rows = anthropic.DESCRIPTION.rows_for_status(priced.settings, [])
    assert anthropic.seats_state_id(ACME) in [r.state_id for r in rows]
    assert anthropic.seats_state_id(ACME) not in [
        r.state_id for r in anthropic.DESCRIPTION.rows_for_status(ctx.settings, [])
    ]

"""Issue 12's acceptance, end to end against the emulators over HTTP and real PostgreSQL (docs/providers.md §8–§9,
docs/metrics.md §10–§11):

1. a clean run (Copilot backfill + forward + seat list, Cursor activity + member list) stores exactly the emulator's
   ground truth — every activity column of every person-day, every seat;
2. running it all again changes nothing;
3. a fault storm on every Copilot and Cursor seat endpoint (429 beyond our patience, 500, answers slower than the
   timeout, a malformed NDJSON line, download links that are always expired) fails each run precisely and leaves
   activity, seats and sync state exactly as they were; a clean run afterwards changes nothing either;
4. /api/v1/activity, /api/v1/seats and the /seats page show what independent SQL over the raw rows says."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient
from sqlalchemy import text

from abacus.domain.identities import own_email, unmapped_email
from abacus.domain.tools import tool_name
from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN
from abacus.providers import copilot, cursor
from abacus.settings import CopilotSettings, GitHubSettings, ProviderKey
from abacus.sync.context import SyncContext
from tests import dom
from tests.integration.pages_support import card_titled, sign_in_test_client
from tests.integration.provider_support import CORE, FIRST_DAY, MOBILE, TODAY, state_snapshot

KEY = ProviderKey(DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN)
COUNTS = ("sessions", "lines_added", "lines_removed", "suggested", "accepted", "requests", "commits", "pull_requests")
ACTIVITY = f"tool, organization_id, identity, date, email, {', '.join(COUNTS)}, active"
SEATS = "tool, organization_id, identity, email, plan, since, ended_at, last_activity_at, price_usd"
RANGE = {"start": FIRST_DAY.isoformat(), "end": TODAY.isoformat()}
TIMEOUT = 0.3


@pytest.fixture()
def cctx(ctx: SyncContext, emulator: Any) -> SyncContext:
    """The emulator's Anthropic, Cursor and GitHub with Copilot turned on."""
    settings = ctx.settings.replace(
        github=GitHubSettings(token=DEMO_GITHUB_TOKEN, org=DEMO_GITHUB_ORG, api_url=f"{emulator.base_url}/github"),
        copilot=CopilotSettings(enabled=True),
    )
    return SyncContext(settings=settings, sessionmaker=ctx.sessionmaker, now=ctx.now, backoff_base=0.01)


@pytest.fixture()
def client(page_app: Any) -> Iterator[TestClient]:
    with TestClient(page_app, base_url="http://testserver.local") as test_client:
        sign_in_test_client(test_client, "ada@example.com")
        yield test_client


async def rows(sessionmaker: Any, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    async with sessionmaker() as db:
        return [tuple(r) for r in await db.execute(text(sql), params)]


async def snapshot(sessionmaker: Any) -> dict[str, Any]:
    """Every activity row, every seat (without its seen_at) and every sync position."""
    return {
        "activity": await rows(sessionmaker, f"SELECT {ACTIVITY} FROM activity_daily ORDER BY {ACTIVITY}"),
        "seats": await rows(sessionmaker, f"SELECT {SEATS} FROM seats ORDER BY {SEATS}"),
        "state": await state_snapshot(sessionmaker),
    }


def truth_activity(emulator: Any, tool: str) -> list[tuple[Any, ...]]:
    """The emulator's activity rows of `tool` over the whole data set, in the stored shape (emails as the sync maps
    them: Cursor rows carry the member's email, Copilot logins stay unmapped without GitHub mappings)."""
    out = []
    for row in emulator.state.dataset.truth_activity(FIRST_DAY - timedelta(days=30), TODAY, tool=tool):
        out.append(
            (
                row["tool"],
                row["organization"],
                row["identity"],
                row["date"],
                own_email(row["identity"]) or unmapped_email(row["identity"]),
                *(row[name] for name in COUNTS),
                row["active"],
            )
        )
    return sorted(out)


async def clean_run(cctx: SyncContext) -> list[str]:
    """Everything issue 12 syncs, in the order the jobs run it; the errors of the runs that failed."""
    errors: list[str] = []
    for _ in range(30):
        step = await copilot.backfill_step(cctx, KEY)
        errors += step.errors
        if step.complete or not step.ok:
            break
    runs = [
        await copilot.sync_incremental(cctx, KEY),
        await copilot.sync_seats(cctx, KEY),
    ]
    for key in (CORE, MOBILE):
        runs += [
            await cursor.sync_activity_range(cctx, key, FIRST_DAY, TODAY),
            await cursor.sync_activity_incremental(cctx, key),
            await cursor.sync_seats(cctx, key),
        ]
    return errors + [e for run in runs for e in run.errors]


async def test_stored_activity_and_seats_are_the_ground_truth_and_a_rerun_changes_nothing(emulator, cctx, sessionmaker):
    assert await clean_run(cctx) == []
    first = await snapshot(sessionmaker)
    for tool in ("github_copilot", "cursor"):
        stored = [r for r in first["activity"] if r[0] == tool]
        assert stored == truth_activity(emulator, tool), tool
        assert stored, f"the emulator reported no {tool} activity"
    copilot_seats = {r[2]: r for r in first["seats"] if r[0] == "github_copilot"}
    wire = emulator.state.dataset.copilot_seat_list()
    assert set(copilot_seats) == {f"copilot:{s['assignee']['login'].lower()}" for s in wire}
    cursor_seats = {r[2] for r in first["seats"] if r[0] == "cursor"}
    members = [p for label in ("core", "mobile") for p in emulator.state.dataset.cursor_teams[label].members]
    assert cursor_seats == {f"cursor:{p.email}" for p in members}

    assert await clean_run(cctx) == []
    assert await snapshot(sessionmaker) == first


STORMS = [
    pytest.param({"kind": "429", "retry_after": 61}, ("report", "seats"), "rate limited", id="429"),
    pytest.param({"kind": "500"}, ("report", "download", "seats"), "HTTP 500 after 3 tries", id="500"),
    pytest.param({"kind": "slow", "delay": 1.0}, ("report", "seats"), "Timeout after 3 tries", id="timeout"),
    pytest.param({"kind": "malformed"}, ("download",), "line", id="malformed-ndjson-line"),
    pytest.param(None, (), f"expired {copilot.LINK_ATTEMPTS} times", id="expired-links"),
]


@pytest.mark.parametrize(("fault", "endpoints", "message"), STORMS)
async def test_a_fault_storm_leaves_activity_seats_and_state_as_they_were(
    emulator, cctx, sessionmaker, monkeypatch, fault, endpoints, message
):
    monkeypatch.setattr(copilot, "REQUEST_TIMEOUT", TIMEOUT)
    monkeypatch.setattr(cursor, "REQUEST_TIMEOUT", TIMEOUT, raising=False)
    assert await clean_run(cctx) == []
    before = await snapshot(sessionmaker)

    ttl = emulator.state.copilot_link_ttl
    if fault is None:
        emulator.state.copilot_link_ttl = -5  # every link is already expired when handed out
    for endpoint in endpoints:
        emulator.state.add_fault("copilot", endpoint, count=1000, **fault)
    if fault is not None and fault["kind"] in ("429", "500", "slow"):
        emulator.state.add_fault("cursor", "*", count=1000, **fault)
    try:
        forward = await copilot.sync_incremental(cctx, KEY)
        re_read = await copilot.sync_range(cctx, KEY, TODAY - timedelta(days=3), TODAY - timedelta(days=1))
        assert not forward.ok and not re_read.ok
        assert message in forward.errors[0] and message in re_read.errors[0], (forward.errors, re_read.errors)
        assert DEMO_GITHUB_TOKEN not in forward.errors[0]
        if "seats" in endpoints:
            seat_run = await copilot.sync_seats(cctx, KEY)
            assert not seat_run.ok and message in seat_run.errors[0]
            for key in (CORE, MOBILE):
                assert not (await cursor.sync_seats(cctx, key)).ok
                assert not (await cursor.sync_activity_incremental(cctx, key)).ok
        after = await snapshot(sessionmaker)
        assert after["activity"] == before["activity"]
        assert after["seats"] == before["seats"]
        assert after["state"] == before["state"]
    finally:
        emulator.state.clear_faults()
        emulator.state.copilot_link_ttl = ttl
        # slow answers the client gave up on are still being served: let them finish (and be logged) in this test
        await asyncio.sleep((fault or {}).get("delay", 0.0))

    assert await clean_run(cctx) == []
    assert await snapshot(sessionmaker) == before


async def test_api_and_pages_equal_sql_over_the_raw_rows(emulator, cctx, sessionmaker, client):
    assert await clean_run(cctx) == []

    totals = await rows(
        sessionmaker,
        f"SELECT tool, {', '.join(f'SUM({c})' for c in COUNTS)}, COUNT(DISTINCT email) FILTER (WHERE active) "
        "FROM activity_daily WHERE date BETWEEN :start AND :end GROUP BY tool ORDER BY tool",
        start=FIRST_DAY,
        end=TODAY,
    )
    body = client.get("/api/v1/activity", params=RANGE).json()
    got = {t["tool"]: (*(t[c] for c in COUNTS), t["active_people"]) for t in body["tools"]}
    assert got == {r[0]: tuple(int(v) for v in r[1:]) for r in totals}
    for t in body["tools"]:
        suggested, accepted = t["suggested"], t["accepted"]
        assert t["acceptance_rate"] == (pytest.approx(accepted / suggested) if suggested else None)
    copilot_rate = next(t["acceptance_rate"] for t in body["tools"] if t["tool"] == "github_copilot")
    assert 0.15 < copilot_rate < 0.45  # realistic for Copilot (the emulator accepts 20–40 % of generations)

    seat_sql = await rows(
        sessionmaker,
        """
        WITH held AS (
          SELECT s.*, GREATEST((s.last_activity_at AT TIME ZONE 'UTC')::date,
                   (SELECT MAX(a.date) FROM activity_daily a WHERE a.email = s.email AND a.tool = s.tool AND a.active
                      AND a.date <= :end),
                   (SELECT MAX(u.date) FROM usage_user_daily u WHERE u.email = s.email AND u.tool = s.tool
                      AND u.date <= :end)) AS last_active
          FROM seats s WHERE s.ended_at IS NULL
        )
        SELECT tool, COUNT(*) AS seats,
               COUNT(*) FILTER (WHERE last_active IS NULL OR :end - last_active >= 30) AS idle,
               COALESCE(SUM(price_usd) FILTER (WHERE last_active IS NULL OR :end - last_active >= 30), 0) AS idle_month,
               COUNT(DISTINCT email) FILTER (WHERE EXISTS (
                 SELECT 1 FROM activity_daily a WHERE a.email = held.email AND a.tool = held.tool AND a.active
                   AND a.date BETWEEN :start AND :end)) AS active_holders
        FROM held GROUP BY tool ORDER BY tool
        """,
        start=FIRST_DAY,
        end=TODAY,
    )
    api = client.get("/api/v1/seats", params=RANGE).json()
    got_seats = {
        t["tool"]: (t["seats"], t["idle"], Decimal(str(t["idle_monthly_usd"])), t["active_seat_holders"])
        for t in api["tools"]
    }
    assert got_seats == {r[0]: (r[1], r[2], Decimal(r[3]), r[4]) for r in seat_sql}
    assert all(t["idle"] > 0 for t in api["tools"]), "the emulator's company should have idle seats on each tool"
    assert len(api["seats"]) == sum(r[1] for r in seat_sql)

    page = dom.parse(client.get("/seats", params=RANGE).text)
    (by_tool,) = [card for card in dom.select(page, ".card") if dom.select(card, "h2") and
                  dom.text(dom.select(card, "h2")[0]).startswith("By tool")]  # fmt: skip
    shown = {dom.text(dom.select(tr, "td")[0]): [dom.text(td) for td in dom.select(tr, "td")]
             for tr in dom.select(by_tool, "tbody tr")}  # fmt: skip
    for tool, seats, idle, _, active_holders in seat_sql:
        cells = shown[tool_name(tool)]
        assert cells[1] == str(seats) and cells[5] == str(idle), cells
        assert f"{active_holders} / {seats}" in cells[4]
    assert len(dom.select(card_titled(page, "Every seat"), "tbody tr")) == len(api["seats"])

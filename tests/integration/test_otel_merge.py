"""Provisional OTel rows against the Admin API's days (beyond.md §7, issue 14 item 2): whatever the order of arrival
(OTel first, Admin API first, interleaved, re-sent) and whenever the rebuild job runs (after every export, or only
after the Admin API's day has arrived), no (day, person) is counted by both in usage or activity, every rollup level
agrees with the raw rows, the Admin API's figures win for the days it covers, OTel's stay for the rest (the
subscription person), and the OTel points themselves are never dropped."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.domain.tools import CLAUDE_CODE
from abacus.emulators.otel import Sample, build_export, encode, ns
from abacus.provisional import rebuild_dirty_days
from abacus.records import ActivityBatch, ActivityRow, UsageRow
from abacus.rollups import rollup_mismatches
from abacus.sync import windows
from abacus.sync.otel_store import store_points
from tests.support import truncate_tables

TODAY = datetime.now(UTC).date()
D1, D2 = TODAY - timedelta(days=1), TODAY
MODEL = "claude-sonnet-4-5-20250929"


def _at(day: date, minute: int) -> int:
    return ns(datetime(day.year, day.month, day.day, 9, 0, tzinfo=UTC) + timedelta(minutes=minute))


def _otel(email: str, day: date, cost: float, tokens: int, lines: int, cumulative: bool) -> list[Sample]:
    out: list[Sample] = []
    attrs = {"user.email": email, "model": MODEL}
    start = _at(day, 0)
    previous = 0.0
    for minute, share in ((1, 0.25), (2, 0.75), (3, 1.0)):  # three exports of the same counters
        at = _at(day, minute)
        part = share if cumulative else share - previous  # a running total, or what this minute added
        begin = start if cumulative else _at(day, minute - 1)
        previous = share
        out += [
            Sample(otlp.COST, cost * part, begin, at, attrs, cumulative),
            Sample(otlp.TOKENS, tokens * part, begin, at, {**attrs, "type": "input"}, cumulative),
            Sample(otlp.LINES, lines * part, begin, at, {"user.email": email, "type": "added"}, cumulative),
        ]
    return out


OTEL_D1 = _otel("ada@example.com", D1, 4.0, 40_000, 40, False) + _otel("bo@example.com", D1, 2.0, 8_000, 8, True)
OTEL_D2 = _otel("ada@example.com", D2, 1.0, 4_000, 4, True)
ADMIN_D1 = windows.WindowRead(
    usage=[
        UsageRow(
            D1,
            "claude_code:ada@example.com",
            CLAUDE_CODE,
            "claude-sonnet-4-5",
            MODEL,
            50_000,
            0,
            0,
            0,
            Decimal("5.000000"),
            organization_id="org-1",
        ),
        UsageRow(
            D1,
            "claude_code:cy@example.com",
            CLAUDE_CODE,
            "claude-sonnet-4-5",
            MODEL,
            9_000,
            0,
            0,
            0,
            Decimal("0.900000"),
            organization_id="org-1",
        ),
    ],
    raw_records=2,
    activity=ActivityBatch(
        CLAUDE_CODE,
        "anthropic:default",
        (D1,),
        (
            ActivityRow(D1, "claude_code:ada@example.com", sessions=2, lines_added=50, active=True),
            ActivityRow(D1, "claude_code:cy@example.com", sessions=1, lines_added=9, active=True),
        ),
    ),
)
# What every total must say once everything has arrived, in any order
EXPECTED_USAGE = {
    (D1, "ada@example.com"): (Decimal("5.000000"), 50_000),  # the Admin API's day wins
    (D1, "bo@example.com"): (Decimal("2.000000"), 8_000),  # subscription: OTel only
    (D1, "cy@example.com"): (Decimal("0.900000"), 9_000),
    (D2, "ada@example.com"): (Decimal("1.000000"), 4_000),  # not yet in the Admin API: OTel
}
EXPECTED_LINES = {
    (D1, "ada@example.com"): 50,
    (D1, "bo@example.com"): 8,
    (D1, "cy@example.com"): 9,
    (D2, "ada@example.com"): 4,
}

Step = Callable[[AsyncSession], Awaitable[object]]


def _otel_step(samples: list[Sample]) -> Step:
    body, _ = encode(build_export(samples))
    points = otlp.parse_export(body, json_body=False, now=datetime.now(UTC)).points
    assert len(points) == len(samples)
    return lambda db: store_points(db, "acme", points)


STEPS: dict[str, Step] = {
    "otel_d1": _otel_step(OTEL_D1),
    "otel_d2": _otel_step(OTEL_D2),
    "admin_d1": lambda db: windows._store(db, ADMIN_D1),
}
ORDERS = [list(order) for order in itertools.permutations(STEPS)] + [
    ["otel_d1", "admin_d1", "otel_d1", "otel_d2", "admin_d1", "otel_d2"],  # re-sent, interleaved
    ["admin_d1", "admin_d1", "otel_d2", "otel_d1", "otel_d1"],
    # a day's OTel points split across exports around the Admin API's arrival
    ["otel_d2", "otel_d1_first_half", "admin_d1", "otel_d1", "otel_d1_first_half"],
]
STEPS["otel_d1_first_half"] = _otel_step(OTEL_D1[: len(OTEL_D1) // 2])


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


async def _check_never_both(db: AsyncSession) -> None:
    both_usage = await db.execute(
        text(
            "SELECT date, email FROM usage_records WHERE tool = 'claude_code' GROUP BY date, email "
            "HAVING bool_or(tool_record_id = 'otel') AND bool_or(tool_record_id IS DISTINCT FROM 'otel')"
        )
    )
    assert both_usage.all() == []
    both_activity = await db.execute(
        text(
            "SELECT date, email FROM activity_daily WHERE tool = 'claude_code' GROUP BY date, email "
            "HAVING bool_or(organization_id LIKE 'otel:%') AND bool_or(organization_id NOT LIKE 'otel:%')"
        )
    )
    assert both_activity.all() == []
    assert await rollup_mismatches(db) == 0


@pytest.mark.parametrize("rebuild", ["each", "last"])
@pytest.mark.parametrize("order", ORDERS, ids=["-".join(o) for o in ORDERS])
async def test_no_figure_counts_both_whatever_the_order(
    database_url: str, sessionmaker: async_sessionmaker[AsyncSession], order: list[str], rebuild: str
) -> None:
    await truncate_tables(database_url)
    for step in order:
        async with sessionmaker() as db, db.begin():
            await STEPS[step](db)
        if rebuild == "each":  # the worker keeps up; with "last" it runs once everything has arrived
            async with sessionmaker() as db, db.begin():
                await rebuild_dirty_days(db)
        async with sessionmaker() as db:
            await _check_never_both(db)
    async with sessionmaker() as db, db.begin():
        await rebuild_dirty_days(db)
    async with sessionmaker() as db:
        await _check_never_both(db)
        assert (await db.execute(text("SELECT count(*) FROM otel_dirty_days"))).scalar() == 0
        assert (await db.execute(text("SELECT count(*) FROM otel_points WHERE delta IS NULL"))).scalar() == 0
    if "otel_d1" not in order:
        return
    async with sessionmaker() as db:
        usage = {
            (r.date, r.email): (r.cost, r.input_tokens)
            for r in await db.execute(
                text(
                    "SELECT date, email, sum(cost) AS cost, sum(input_tokens) AS input_tokens FROM usage_user_daily "
                    "WHERE tool = 'claude_code' GROUP BY date, email"
                )
            )
        }
        lines = {
            (r.date, r.email): r.lines
            for r in await db.execute(
                text("SELECT date, email, sum(lines_added) AS lines FROM activity_daily GROUP BY date, email")
            )
        }
        points = (await db.execute(text("SELECT count(*) FROM otel_points"))).scalar()
        provisional = (
            await db.execute(text("SELECT count(*) FROM usage_records WHERE tool_record_id = 'otel'"))
        ).scalar()
    expected_usage = dict(EXPECTED_USAGE)
    expected_lines = dict(EXPECTED_LINES)
    if "otel_d2" not in order:
        del expected_usage[(D2, "ada@example.com")]
        del expected_lines[(D2, "ada@example.com")]
    if "admin_d1" not in order:
        return
    assert usage == expected_usage
    assert lines == expected_lines
    assert points == len(OTEL_D1) + (len(OTEL_D2) if "otel_d2" in order else 0)  # points stay stored
    assert provisional == 1 + (1 if "otel_d2" in order else 0)  # bo on D1 (+ ada on D2)


async def test_before_the_admin_api_the_otel_figures_count(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker() as db, db.begin():
        await STEPS["otel_d1"](db)
    async with sessionmaker() as db:
        before_rebuild = (await db.execute(text("SELECT count(*) FROM usage_records"))).scalar()
    async with sessionmaker() as db, db.begin():
        assert await rebuild_dirty_days(db) == {D1}
    async with sessionmaker() as db:
        cost = (
            await db.execute(
                text("SELECT sum(cost) FROM usage_daily WHERE date = :d AND email = 'ada@example.com'"), {"d": D1}
            )
        ).scalar()
    assert before_rebuild == 0  # the export itself writes points and marks only
    assert cost == Decimal("4.000000")


async def test_a_mapping_change_moves_the_provisional_rows_in_the_same_transaction(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An account-only OTel person is unmapped until an admin maps the account: then the person's day is the Admin
    API's (covered) and the provisional row goes; removing the mapping brings it back. Never both."""
    from abacus.services.mappings import admin_delete_mapping, admin_set_mapping

    account = {"user.account_uuid": "acct-7", "model": MODEL}
    at = _at(D1, 5)
    account_step = _otel_step([Sample(otlp.COST, 3.0, at - 60_000_000_000, at, account)])
    async with sessionmaker() as db, db.begin():
        await STEPS["admin_d1"](db)
        await account_step(db)
        await rebuild_dirty_days(db)

    async def cost_by_email() -> dict[str, Decimal]:
        async with sessionmaker() as db:
            await _check_never_both(db)
            rows = await db.execute(
                text("SELECT email, sum(cost) AS cost FROM usage_user_daily WHERE date = :d GROUP BY email"), {"d": D1}
            )
            return {r.email: r.cost for r in rows}

    assert (await cost_by_email())["unmapped:otel:acct-7"] == Decimal("3.000000")
    async with sessionmaker() as db, db.begin():
        await admin_set_mapping(db, "otel", "acct-7", "cy@example.com", actor="ada@example.com")
    after = await cost_by_email()
    assert "unmapped:otel:acct-7" not in after
    assert after["cy@example.com"] == Decimal("0.900000")  # the Admin API's day, not 0.90 + 3.00
    async with sessionmaker() as db, db.begin():
        await admin_set_mapping(db, "otel", "acct-7", "dee@example.com", actor="ada@example.com")
    assert (await cost_by_email())["dee@example.com"] == Decimal("3.000000")  # not covered: OTel counts
    async with sessionmaker() as db, db.begin():
        await admin_delete_mapping(db, "otel", "acct-7", actor="ada@example.com")
    assert (await cost_by_email())["unmapped:otel:acct-7"] == Decimal("3.000000")


async def test_mapping_an_admin_api_key_to_an_otel_person_covers_their_day(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """bo is on OTel only, until an admin maps the Admin API's key `ci-key` (an api_actor) to bo: from then on the
    Admin API covers bo's day and the provisional row is gone, in the mapping's own transaction."""
    from abacus.services.mappings import admin_set_mapping

    key_row = UsageRow(D1, "claude_code:ci-key", CLAUDE_CODE, "claude-sonnet-4-5", MODEL, 7_000, 0, 0, 0,
                       Decimal("0.700000"), organization_id="org-1")  # fmt: skip
    async with sessionmaker() as db, db.begin():
        await STEPS["otel_d1"](db)
        await rebuild_dirty_days(db)
        await windows._store(db, windows.WindowRead(usage=[key_row], raw_records=1))

    async def bo_cost() -> Decimal:
        async with sessionmaker() as db:
            await _check_never_both(db)
            query = "SELECT sum(cost) FROM usage_user_daily WHERE date = :d AND email = 'bo@example.com'"
            return Decimal((await db.execute(text(query), {"d": D1})).scalar() or 0)

    assert await bo_cost() == Decimal("2.000000")  # OTel
    async with sessionmaker() as db, db.begin():
        await admin_set_mapping(db, "claude_code", "ci-key", "bo@example.com", actor="ada@example.com")
    assert await bo_cost() == Decimal("0.700000")  # the Admin API's, not both


async def test_marking_the_admin_api_identity_a_bot_uncovers_the_day(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """ada's D1 is the Admin API's until its identity is marked a bot (its rows become nobody's): then ada's OTel
    figures count for D1, and unmarking brings the Admin API's back — never both."""
    from abacus.services.bots import set_bot

    async with sessionmaker() as db, db.begin():
        await STEPS["otel_d1"](db)
        await rebuild_dirty_days(db)
        await STEPS["admin_d1"](db)

    async def ada_cost() -> Decimal:
        async with sessionmaker() as db:
            await _check_never_both(db)
            query = "SELECT sum(cost) FROM usage_user_daily WHERE date = :d AND email = 'ada@example.com'"
            return Decimal((await db.execute(text(query), {"d": D1})).scalar() or 0)

    assert await ada_cost() == Decimal("5.000000")
    async with sessionmaker() as db, db.begin():
        await set_bot(db, "claude_code", "ada@example.com", True, updated_by="ada@example.com")
    assert await ada_cost() == Decimal("4.000000")
    async with sessionmaker() as db, db.begin():
        await set_bot(db, "claude_code", "ada@example.com", False, updated_by="ada@example.com")
    assert await ada_cost() == Decimal("5.000000")


async def test_concurrent_exports_of_one_cumulative_series_settle_to_its_deltas(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two exports of the same cumulative series stored in overlapping transactions (neither sees the other's
    points while it writes): the rebuild settles the series in time order, so the day counts its last value once."""
    attrs = {"user.email": "bo@example.com", "model": MODEL}
    start = _at(D1, 0)
    series = [Sample(otlp.COST, value, start, _at(D1, minute), attrs, True) for minute, value in ((1, 1.0), (2, 2.5),
              (3, 3.0), (4, 4.5))]  # fmt: skip
    first, second = _otel_step(series[0::2]), _otel_step(series[1::2])
    async with sessionmaker() as one, one.begin(), sessionmaker() as two, two.begin():
        await first(one)
        await second(two)
    async with sessionmaker() as db:
        assert (await db.execute(text("SELECT count(*) FROM otel_points WHERE delta IS NULL"))).scalar() == 4
    async with sessionmaker() as db, db.begin():
        await rebuild_dirty_days(db)
    async with sessionmaker() as db:
        cost = (await db.execute(text("SELECT sum(cost) FROM usage_daily WHERE date = :d"), {"d": D1})).scalar()
    assert cost == Decimal("4.500000")


async def test_a_rebuild_that_dies_leaves_its_marks_for_the_next(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The worker dies mid-rebuild (its transaction rolls back): the marks and pending deltas are still there, and
    the next rebuild (the next job, or the sweep) writes the day."""
    async with sessionmaker() as db, db.begin():
        await STEPS["otel_d1"](db)

    class WorkerDied(Exception):
        pass

    with pytest.raises(WorkerDied):
        async with sessionmaker() as db, db.begin():
            await rebuild_dirty_days(db)
            raise WorkerDied
    async with sessionmaker() as db:
        assert (await db.execute(text("SELECT count(*) FROM otel_dirty_days"))).scalar() == 2  # ada and bo of D1
        assert (await db.execute(text("SELECT count(*) FROM usage_records"))).scalar() == 0
    async with sessionmaker() as db, db.begin():
        assert await rebuild_dirty_days(db) == {D1}
    async with sessionmaker() as db:
        await _check_never_both(db)
        cost = (await db.execute(text("SELECT sum(cost) FROM usage_daily WHERE date = :d"), {"d": D1})).scalar()
    assert cost == Decimal("6.000000")  # ada 4 + bo 2


async def test_a_rebuild_rewrites_only_the_marked_people_of_a_day(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """An export of ada's marks (D1, ada) only: bo's provisional row of D1 is left as it was (same row), ada's is
    rewritten with the new points, and the day's totals stay exact at every rollup level."""
    async with sessionmaker() as db, db.begin():
        await STEPS["otel_d1"](db)
        await rebuild_dirty_days(db)

    async def rows() -> dict[str, tuple[int, Decimal]]:
        async with sessionmaker() as db:
            await _check_never_both(db)
            found = await db.execute(
                text("SELECT email, id, cost FROM usage_records WHERE tool_record_id = 'otel' AND date = :d"),
                {"d": D1},
            )
            return {r.email: (r.id, r.cost) for r in found}

    before = await rows()
    at = _at(D1, 30)
    more = _otel_step([Sample(otlp.COST, 0.5, at - 60_000_000_000, at, {"user.email": "ada@example.com",
                                                                        "model": MODEL})])  # fmt: skip
    async with sessionmaker() as db, db.begin():
        await more(db)
        marks = (await db.execute(text("SELECT date, identity FROM otel_dirty_days"))).all()
        assert [tuple(m) for m in marks] == [(D1, "otel:ada@example.com")]
        assert await rebuild_dirty_days(db) == {D1}
    after = await rows()
    assert after["bo@example.com"] == before["bo@example.com"]  # not rewritten
    assert after["ada@example.com"][1] == before["ada@example.com"][1] + Decimal("0.5")

"""A person-day whose provisional rows cannot be written does not stop everyone else's live figures (issue 14).

The poison is real: an earlier release accepted OTel identities of up to 320 characters, and `unmapped:otel:<a
300-character account>` does not fit the email column, so every rebuild of that day failed, for everyone, forever.
Now the rebuild isolates it: the others are written, the poisoned (day, person) keeps a failure mark (attempts, the
database's error) and is held back with a growing pause, the status page names it, a sync's whole-day reconcile does
not fail on it, and mapping the identity (the fix an admin makes) clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.emulators.otel import Sample, ns
from abacus.provisional import reconcile_provisional, retry_pause
from abacus.sync.otel_store import store_points
from abacus.worker.otel_jobs import rebuild_otel_provisional
from tests import dom
from tests.integration.otel_support import map_otel_identity, store_and_rebuild
from tests.support import run_async

ACCOUNT = "u" * 300  # stored before the parser's 246-character limit: it resolves to a 314-character email
POISON = f"otel:{ACCOUNT}"
MODEL = "claude-sonnet-4-5-20250929"
NOW = datetime.now(UTC)
_MOMENT = NOW - timedelta(minutes=10)
if _MOMENT.time() < time(0, 5):  # every point of the test on one UTC day, even when run just after midnight
    _MOMENT -= timedelta(minutes=10)
AT = ns(_MOMENT)
DAY = _MOMENT.date()


def _point(identity: str, value: float, at: int) -> otlp.OtelPoint:
    attributes = {"model": MODEL, "user.account_uuid": identity.removeprefix("otel:")}
    return otlp.OtelPoint(otlp.COST, f"series-{identity[:40]}-{len(identity)}", at - 60 * 10**9, at, False, value,
                          identity, MODEL, None, attributes)  # fmt: skip


async def _sql(database_url: str, sql: str, **params: Any) -> list[Any]:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(sql), params)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def _store_poison(database_url: str, at: int) -> None:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            await store_points(db, "acme", [_point(POISON, 3.0, at)])
    finally:
        await engine.dispose()


async def _job(database_url: str) -> dict[str, Any]:
    engine = create_engine(database_url, pool_size=2)
    try:
        return await rebuild_otel_provisional({"sessionmaker": session_factory(engine)})
    finally:
        await engine.dispose()


async def _reconcile_today(database_url: str) -> set[Any]:
    """What a sync's window does for the days it wrote, in its own transaction."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            return await reconcile_provisional(db, [DAY])
    finally:
        await engine.dispose()


def _costs(database_url: str) -> dict[str, float]:
    rows = run_async(
        _sql(database_url, "SELECT email, sum(cost) AS cost FROM usage_records WHERE tool_record_id = 'otel' "
                           "GROUP BY email")
    )  # fmt: skip
    return {r.email: float(r.cost) for r in rows}


def _rollup_cost(database_url: str) -> float:
    [row] = run_async(_sql(database_url, "SELECT COALESCE(sum(cost), 0) AS c FROM usage_daily WHERE date = :d",
                           d=DAY))  # fmt: skip
    return float(row.c)


def _failures(database_url: str) -> list[tuple[str | None, int, str]]:
    rows = run_async(_sql(database_url, "SELECT identity, attempts, error FROM otel_dirty_days WHERE attempts > 0"))
    return [(r.identity, r.attempts, r.error) for r in rows]


def test_a_poisoned_person_day_is_isolated_held_back_shown_and_cleared_by_a_mapping(
    signed_in: Callable[..., httpx.Client], database_url: str, clean_db: None
) -> None:
    run_async(_store_poison(database_url, AT))
    good = [Sample(otlp.COST, 1.5, AT - 60 * 10**9, AT, {"user.email": "bo@example.com", "model": MODEL})]
    run_async(store_and_rebuild(database_url, good))  # one job over both marks: it used to fail as a whole

    assert _costs(database_url) == {"bo@example.com": 1.5}
    assert _rollup_cost(database_url) == 1.5  # the rollup agrees: nothing of the poison, all of bo
    [(identity, attempts, error)] = _failures(database_url)
    assert (identity, attempts) == (POISON, 1)
    assert "value too long" in error

    # held back: later exports of bo go through at once, the poison waits for its pause
    later = [Sample(otlp.COST, 0.5, AT, AT + 60 * 10**9, {"user.email": "bo@example.com", "model": MODEL})]
    run_async(store_and_rebuild(database_url, later))
    run_async(_store_poison(database_url, AT + 60 * 10**9))  # its new points wait with it
    assert run_async(_job(database_url)) == {"days": 0}
    assert _costs(database_url) == {"bo@example.com": 2.0}
    assert [(i, a) for i, a, _ in _failures(database_url)] == [(POISON, 1)]

    # after the pause it is retried: one failure mark, counting on
    run_async(_sql(database_url, "UPDATE otel_dirty_days SET failed_at = failed_at - make_interval(secs => :s)",
                   s=retry_pause(1) + 1))  # fmt: skip
    run_async(_job(database_url))
    assert [(i, a) for i, a, _ in _failures(database_url)] == [(POISON, 2)]
    assert retry_pause(2) == 2 * retry_pause(1) and retry_pause(30) == 3600

    # a sync's whole-day reconcile of that day does not fail on it, and leaves bo's figures right
    assert run_async(_reconcile_today(database_url)) == {DAY}
    assert _costs(database_url) == {"bo@example.com": 2.0}
    assert [(i, a) for i, a, _ in _failures(database_url)] == [(POISON, 3)]

    ada = signed_in("ada@example.com")
    status = ada.get("/status")
    assert status.status_code == 200
    card = dom.text(dom.one(status.text, ".live-failing"))  # the status page names the failing person-day
    assert "1 person-day of live telemetry not counted" in card
    assert ACCOUNT[:50] in card and "value too long" in card
    assert ada.get("/api/v1/status").json()["live_days_failing"] == 1

    # the admin's fix: map the account to a person; its day is rewritten in the mapping's transaction
    saved = map_otel_identity(ada, ACCOUNT, "cy@example.com")
    assert saved.status_code == 200
    assert _costs(database_url) == {"bo@example.com": 2.0, "cy@example.com": 6.0}
    assert _failures(database_url) == []
    assert _rollup_cost(database_url) == 8.0
    assert dom.select(ada.get("/status").text, ".live-failing") == []
    assert ada.get("/api/v1/status").json()["live_days_failing"] == 0

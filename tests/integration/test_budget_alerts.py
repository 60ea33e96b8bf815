"""Budget alerts end to end on real PostgreSQL, Redis and the emulator's hooks (docs/operations.md §12).

Each alert is created once per (budget, month, kind) however many checks run at once; each is delivered exactly
once per channel by real arq workers, also when the channel fails twice first and when two workers share the
queue; the generic webhook's signature verifies; a channel failing for 24 hours is flagged."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.domain.budgets import encode_body, signature
from abacus.emulators.server import EmulatorServer
from abacus.models import Alert, AlertDelivery, AuditEvent
from abacus.services.alert_delivery import channel_health
from abacus.services.budgets import budget_input, evaluate_budgets, save_budget
from abacus.settings import Settings
from abacus.worker.alert_jobs import EVALUATE_JOB, enqueue_deliveries
from abacus.worker.tasks import FUNCTIONS

SECRET = "hook-secret-for-tests"
# 12:00 UTC on the 20th: half a day gone; the month's figures below are built around it
NOW = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)
MONTH = date(2026, 1, 1)


@pytest.fixture()
def hooks(emulator: EmulatorServer) -> Iterator[str]:
    httpx.delete(f"{emulator.base_url}/hooks/deliveries")
    httpx.post(f"{emulator.base_url}/hooks/secret", json={"secret": SECRET})
    yield emulator.base_url
    httpx.delete(f"{emulator.base_url}/hooks/deliveries")


@pytest.fixture()
async def budget_tables(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[None]:
    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE budgets, alerts, alert_deliveries RESTART IDENTITY CASCADE"))
    yield
    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE budgets, alerts, alert_deliveries RESTART IDENTITY CASCADE"))


def alert_settings(base_url: str, **changes: Any) -> Settings:
    alerts = {
        "slack_url": f"{base_url}/hooks/slack",
        "webhook_url": f"{base_url}/hooks/generic",
        "webhook_secret": SECRET,
        "retry_seconds": 0.05,
        "max_tries": 5,
        **changes,
    }
    return Settings(base_url="https://abacus.example.com").replace(alerts=alerts)


async def add_usage(db: AsyncSession, email: str, tool: str, day: date, cost: str) -> None:
    await db.execute(
        text(
            "INSERT INTO usage_user_daily (date, email, tool, cost) VALUES (:d, :e, :t, :c)"
            " ON CONFLICT (date, email, tool) DO UPDATE SET cost = EXCLUDED.cost"
        ),
        {"d": day, "e": email, "t": tool, "c": Decimal(cost)},
    )
    await db.execute(
        text(
            "INSERT INTO usage_tool_totals_daily (date, tool, cost) VALUES (:d, :t, :c)"
            " ON CONFLICT (date, tool) DO UPDATE SET cost = usage_tool_totals_daily.cost + EXCLUDED.cost"
        ),
        {"d": day, "t": tool, "c": Decimal(cost)},
    )


async def seed_month(sessionmaker: async_sessionmaker[AsyncSession], channels: tuple[str, ...]) -> dict[str, int]:
    """Alice: $40 a day (Claude Code) for four weeks before Jan 20 and $20 so far on the 20th.
    By NOW: spent Jan 1–19 $760 + $20 = $780; projection: 20 / 0.5 − 20 = $20, plus 11 days × $40 = $440 →
    forecast $1,240. Budgets: Alice $1,000 (50 % and at risk), org Cursor $10 (nothing spent: quiet)."""
    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE usage_user_daily, usage_tool_totals_daily"))
        for offset in range(1, 29):
            await add_usage(db, "alice@example.com", "claude_code", NOW.date() - timedelta(days=offset), "40")
        await add_usage(db, "alice@example.com", "claude_code", NOW.date(), "20")
        alice = await save_budget(
            db,
            budget_input(
                scope="person", scope_id="Alice@Example.com", tool="claude_code", amount_usd="1000",
                channels=channels,
            ),
            actor="admin@example.com",
        )  # fmt: skip
        quiet = await save_budget(
            db,
            budget_input(scope="org", scope_id="", tool="cursor", amount_usd="10", channels=channels),
            actor="admin@example.com",
        )
    return {"alice": alice.id, "quiet": quiet.id}


async def alerts_of(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple[int, str]]:
    async with sessionmaker() as db:
        rows = await db.execute(select(Alert.budget_id, Alert.kind).order_by(Alert.budget_id, Alert.kind))
        return [(r.budget_id, r.kind) for r in rows]


async def test_concurrent_checks_create_each_alert_once(
    emulator: EmulatorServer, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    ids = await seed_month(sessionmaker, ("slack", "webhook"))
    results = await asyncio.gather(*(evaluate_budgets(sessionmaker, NOW) for _ in range(8)))
    assert await alerts_of(sessionmaker) == [(ids["alice"], "at_risk"), (ids["alice"], "threshold_50")]
    created = [item for result in results for item in result]
    # every (alert, channel) is handed out once, to the one check whose insert won
    assert len(created) == len(set(created)) == 4
    async with sessionmaker() as db:
        alert = (await db.execute(select(Alert).where(Alert.kind == "at_risk"))).scalar_one()
        assert (alert.spent_usd, alert.forecast_usd, alert.amount_usd) == (Decimal("780.00"), Decimal("1240.00"), 1000)
        audit = (await db.execute(select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.id))).all()
    assert [tuple(a) for a in audit][-2:] == [("budget.create", "admin@example.com")] * 2

    # later in the month Alice passes 80 %: only the new kind fires; the earlier ones never again
    async with sessionmaker() as db, db.begin():
        await add_usage(db, "alice@example.com", "claude_code", NOW.date(), "60")
    later = NOW + timedelta(hours=6)
    again = await asyncio.gather(*(evaluate_budgets(sessionmaker, later) for _ in range(4)))
    assert sorted(kind for _, kind in await alerts_of(sessionmaker)) == ["at_risk", "threshold_50", "threshold_80"]
    assert sum(len(r) for r in again) == 2  # threshold_80 × two channels

    # a new month starts again: on Feb 1 nothing is spent, but four more weeks at $40 a day forecast $1,120
    february = await evaluate_budgets(sessionmaker, datetime(2026, 2, 1, 0, 30, tzinfo=UTC))
    async with sessionmaker() as db:
        rows = (await db.execute(select(Alert.month, Alert.kind).where(Alert.month == date(2026, 2, 1)))).all()
    assert [tuple(r) for r in rows] == [(date(2026, 2, 1), "at_risk")]
    assert len(february) == 2


async def run_workers(
    settings: Settings, redis_url: str, sessionmaker: Any, queue: str, jobs: list[Any], n: int
) -> None:
    """Enqueue `jobs` (callables taking the pool) and run `n` burst workers on the queue until it is empty."""
    redis_settings = RedisSettings.from_dsn(redis_url)
    pool = await create_pool(redis_settings, default_queue_name=queue)
    try:
        for job in jobs:
            await job(pool)

        def worker() -> Worker:
            return Worker(
                functions=FUNCTIONS,
                redis_settings=redis_settings,
                queue_name=queue,
                burst=True,
                handle_signals=False,
                poll_delay=0.02,
                max_jobs=4,
                ctx={"settings": settings, "sessionmaker": sessionmaker},
            )

        workers = [worker() for _ in range(n)]
        await asyncio.gather(*(w.async_run() for w in workers))
        for w in workers:
            await w.close()
    finally:
        await pool.delete(queue)
        await pool.aclose()


def control(base_url: str, method: str, path: str, body: Any = None) -> Any:
    """A call to the emulator's hook controls (plain, blocking: they answer at once)."""
    response = httpx.request(method, f"{base_url}{path}", json=body)
    assert response.is_success, response.text
    return response.json()


def received(base_url: str, hook: str) -> list[dict[str, Any]]:
    return httpx.get(f"{base_url}/hooks/deliveries", params={"hook": hook}).json()


async def test_each_alert_is_delivered_once_per_channel_after_two_failures(
    services: Any, hooks: str, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    await seed_month(sessionmaker, ("slack", "webhook"))
    pending = await evaluate_budgets(sessionmaker, NOW)
    assert len(pending) == 4
    control(hooks, "POST", "/hooks/fail", {"hook": "slack", "count": 2, "status": 503})
    queue = f"abacus:test:alerts:{uuid.uuid4().hex[:8]}"

    async def enqueue_twice(pool: Any) -> None:
        await enqueue_deliveries(pool, pending)
        await enqueue_deliveries(pool, pending)  # a second check handing out the same ones queues nothing

    await run_workers(alert_settings(hooks), services.redis_url, sessionmaker, queue, [enqueue_twice], 1)

    slack = received(hooks, "slack")
    accepted_slack = [r for r in slack if r["accepted"]]
    assert len(slack) == 4 and len(accepted_slack) == 2  # two failures on demand, then each alert once
    assert {r["body"]["text"].split(":")[1].strip() for r in accepted_slack} == {
        "50 % of the budget spent in 2026-01 — spent $780.00, forecast $1,240.00 of $1,000.00.",
        "forecast over the budget in 2026-01 — spent $780.00, forecast $1,240.00 of $1,000.00.",
    }
    assert all("https://abacus.example.com/budgets?month=2026-01" in str(r["body"]["blocks"]) for r in accepted_slack)
    generic = received(hooks, "generic")
    assert len(generic) == 2 and all(r["accepted"] and r["signature_valid"] for r in generic)
    for r in generic:  # the documented HMAC over the exact body
        assert r["signature"] == signature(SECRET, encode_body(r["body"]))
        assert set(r["body"]) >= {"budget", "scope", "month", "kind", "spent_usd", "forecast_usd", "amount_usd", "url"}
    async with sessionmaker() as db:
        attempts = (
            await db.execute(
                select(AlertDelivery.channel, AlertDelivery.status, func.count()).group_by(
                    AlertDelivery.channel, AlertDelivery.status
                )
            )
        ).all()
    assert sorted(tuple(a) for a in attempts) == [("slack", "failed", 2), ("slack", "sent", 2), ("webhook", "sent", 2)]


async def test_two_workers_running_the_check_deliver_once(
    services: Any, hooks: str, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    """Alice is over her $100 budget (whatever the hour): 50, 80 and 100 % fire; checks on two workers at once."""
    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE usage_user_daily, usage_tool_totals_daily"))
        await add_usage(db, "alice@example.com", "claude_code", datetime.now(UTC).date(), "150")
        await save_budget(
            db,
            budget_input(scope="person", scope_id="alice@example.com", tool="all", amount_usd="100",
                         channels=("slack", "webhook")),
            actor="cli:test",
        )  # fmt: skip
    queue = f"abacus:test:alerts:{uuid.uuid4().hex[:8]}"

    async def checks(pool: Any) -> None:
        for n in range(6):
            await pool.enqueue_job(EVALUATE_JOB, _job_id=f"{queue}:check-{n}")

    await run_workers(alert_settings(hooks), services.redis_url, sessionmaker, queue, [checks], 2)
    assert sorted(kind for _, kind in await alerts_of(sessionmaker)) == [
        "threshold_100",
        "threshold_50",
        "threshold_80",
    ]
    for hook in ("slack", "generic"):
        bodies = received(hooks, hook)
        assert len(bodies) == 3 and all(r["accepted"] for r in bodies), hook


async def test_a_channel_failing_for_a_day_is_flagged(
    services: Any, hooks: str, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    await seed_month(sessionmaker, ("webhook",))
    pending = await evaluate_budgets(sessionmaker, NOW)
    control(hooks, "POST", "/hooks/fail", {"hook": "generic", "count": 100, "status": 500})
    queue = f"abacus:test:alerts:{uuid.uuid4().hex[:8]}"

    async def enqueue(pool: Any) -> None:
        await enqueue_deliveries(pool, pending)

    settings = alert_settings(hooks, max_tries=3)
    await run_workers(settings, services.redis_url, sessionmaker, queue, [enqueue], 1)
    assert len(received(hooks, "generic")) == 6  # two alerts × three tries, then it gives up
    async with sessionmaker() as db:
        [health] = await channel_health(db)
        assert health.channel == "webhook" and health.failing_since is not None
        assert not health.flagged(datetime.now(UTC))
        assert health.flagged(datetime.now(UTC) + timedelta(hours=24, minutes=1))
        statuses = (await db.execute(select(AlertDelivery.http_status).distinct())).scalars().all()
    assert statuses == [500]

    # a success clears the flag
    control(hooks, "DELETE", "/hooks/deliveries")
    control(hooks, "POST", "/hooks/secret", {"secret": SECRET})
    async with sessionmaker() as db, db.begin():
        await db.execute(text("DELETE FROM alert_deliveries"))
    await run_workers(settings, services.redis_url, sessionmaker, f"{queue}:2", [enqueue], 1)
    async with sessionmaker() as db:
        [health] = await channel_health(db)
    assert health.failing_since is None and health.last_sent_at is not None


async def test_a_wrong_secret_is_refused_by_the_receiver_and_recorded(
    services: Any, hooks: str, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    await seed_month(sessionmaker, ("webhook",))
    pending = [p for p in await evaluate_budgets(sessionmaker, NOW)][:1]
    queue = f"abacus:test:alerts:{uuid.uuid4().hex[:8]}"

    async def enqueue(pool: Any) -> None:
        await enqueue_deliveries(pool, pending)

    await run_workers(
        alert_settings(hooks, webhook_secret="not-the-receivers-secret", max_tries=2),
        services.redis_url, sessionmaker, queue, [enqueue], 1,
    )  # fmt: skip
    got = received(hooks, "generic")
    assert [(r["status"], r["signature_valid"]) for r in got] == [(401, False), (401, False)]


async def test_team_and_person_scopes_sum_their_people(
    emulator: EmulatorServer, sessionmaker: async_sessionmaker[AsyncSession], budget_tables: None
):
    """A team budget sums its current members (a person in two teams counts in each; a removed member not at all);
    a person budget sums that person; a tool budget only that tool — each equal to SQL over the rollup."""
    from abacus.services.budgets import budgets_for_month
    from abacus.services.teams import create_team, remove_member, set_member

    async with sessionmaker() as db, db.begin():
        await db.execute(text("TRUNCATE usage_user_daily, usage_tool_totals_daily"))
        await db.execute(text("TRUNCATE teams CASCADE"))
        for email, tool, cost in (
            ("ada@example.com", "claude_code", "100"),
            ("ada@example.com", "cursor", "7"),
            ("grace@example.com", "cursor", "40"),
            ("ken@example.com", "claude_code", "900"),
            ("unmapped:cursor:x", "cursor", "5"),
        ):
            await add_usage(db, email, tool, date(2026, 1, 5), cost)
        await create_team(db, "platform", "Platform", actor="t")
        await create_team(db, "mobile", "Mobile", actor="t")
        for slug, email in (("platform", "ada@example.com"), ("platform", "grace@example.com"),
                            ("platform", "ken@example.com"), ("mobile", "grace@example.com")):  # fmt: skip
            await set_member(db, slug, email, "member", actor="t")
        await remove_member(db, "platform", "ken@example.com", actor="t")
        for scope, scope_id, tool in (
            ("team", "platform", "all"),
            ("team", "mobile", "all"),
            ("team", "platform", "cursor"),
            ("person", "ada@example.com", "all"),
            ("org", "", "all"),
        ):
            await save_budget(db, budget_input(scope=scope, scope_id=scope_id, tool=tool, amount_usd="5000"), actor="t")
    async with sessionmaker() as db:
        figures = await budgets_for_month(db, MONTH, NOW)
    spent = {(f.budget.scope, f.budget.scope_id, f.budget.tool): f.spent_usd for f in figures}
    assert spent == {
        ("org", "", "all"): Decimal("1052"),  # everyone, the unmapped identity included
        ("team", "mobile", "all"): Decimal("40"),
        ("team", "platform", "all"): Decimal("147"),  # ada 107 + grace 40; ken was removed
        ("team", "platform", "cursor"): Decimal("47"),
        ("person", "ada@example.com", "all"): Decimal("107"),
    }

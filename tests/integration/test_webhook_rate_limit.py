"""A push follow-up that hits GitHub's rate limit is tried again by arq after the reset time, not dropped; only the
last try marks the delivery failed (issue 10: 843 rate-limited follow-ups used to wait for the hourly sync)."""

from __future__ import annotations

import pytest
from arq.worker import Retry
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import push_payload
from abacus.settings import Settings
from abacus.worker.webhook_jobs import FOLLOWUP_TRIES, followup_job_id, payload_key
from tests.integration import test_webhook as webhook_tests
from tests.support import QUEUE, ThreadedServer

# the webhook tests' app, emulator and helpers (fixtures are found by name in this module)
emulator, webhook_settings, webhook_app = (
    webhook_tests.emulator,
    webhook_tests.webhook_settings,
    webhook_tests.webhook_app,
)
redis, sessionmaker = webhook_tests.redis, webhook_tests.sessionmaker
deliver, deliveries, run_followup = webhook_tests.deliver, webhook_tests.deliveries, webhook_tests.run_followup


async def _commits(maker: async_sessionmaker[AsyncSession]) -> int:
    async with maker() as db:
        return int((await db.execute(text("SELECT count(*) FROM commits"))).scalar_one())


@pytest.mark.parametrize(("kind", "reset_in"), [("403", 120), ("429", 300)])
async def test_rate_limited_followup_is_retried_after_the_reset_then_stores(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
    kind: str,
    reset_in: int,
) -> None:
    delivery_id, response = deliver(webhook_app, "push", push_payload(emulator.state.dataset, "acme/api", count=3))
    assert response.status_code == 202
    # GitHub's rate-limit answer (x-ratelimit-remaining: 0, reset in `reset_in` s; the 429 with Retry-After too)
    emulator.state.add_fault("github", "commit", kind, count=50, after=1, retry_after=reset_in)
    try:
        with pytest.raises(Retry) as retry:
            await run_followup(webhook_settings, sessionmaker, delivery_id, job_try=1)
    finally:
        emulator.state.clear_faults()
    deferred_s = (retry.value.defer_score or 0) / 1000
    assert reset_in <= deferred_s <= reset_in + 3  # honours the reset time, not the 60 s backoff floor
    (row,) = await deliveries(sessionmaker)
    assert row[:3] == (delivery_id, "push", "received") and row[3] is None  # not marked failed
    assert redis.exists(payload_key(QUEUE, delivery_id))  # the payload waits for the retry
    assert await _commits(sessionmaker) == 0  # all or nothing

    outcome = await run_followup(webhook_settings, sessionmaker, delivery_id, job_try=2)  # arq's next try
    assert outcome["errors"] == [] and outcome["commits"] == await _commits(sessionmaker) > 0  # (merges dropped)
    (row,) = await deliveries(sessionmaker)
    assert row[2] == "processed" and row[4]
    assert not redis.exists(payload_key(QUEUE, delivery_id))
    redis.delete(f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))


async def test_the_last_try_marks_the_delivery_failed(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    delivery_id, _ = deliver(webhook_app, "push", push_payload(emulator.state.dataset, "acme/api", count=2))
    emulator.state.add_fault("github", "commit", "403", count=50, retry_after=600)
    try:
        outcome = await run_followup(webhook_settings, sessionmaker, delivery_id, job_try=FOLLOWUP_TRIES)
    finally:
        emulator.state.clear_faults()
    assert "rate limited" in outcome["errors"][0] and f"after {FOLLOWUP_TRIES} tries" in outcome["errors"][0]
    (row,) = await deliveries(sessionmaker)
    assert row[2] == "failed" and "rate limited" in row[3]
    assert await _commits(sessionmaker) == 0
    redis.delete(payload_key(QUEUE, delivery_id), f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))

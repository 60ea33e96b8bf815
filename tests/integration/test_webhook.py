"""POST /webhooks/github over HTTP on the real app, then the follow-up job against the GitHub emulator."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from arq import create_pool
from arq.connections import RedisSettings
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import DEMO_GITHUB_ORG, DEMO_GITHUB_TOKEN, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.emulators.webhook_sender import ping_payload, push_payload, webhook_request
from abacus.settings import Settings
from abacus.worker.webhook_jobs import FOLLOWUP_JOB, followup_job_id, github_webhook_followup, payload_key
from tests.support import QUEUE, ThreadedServer, app_settings

SECRET = "whsec_test_" + uuid.uuid4().hex
NOW = datetime(2026, 1, 20, 15, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def emulator() -> Iterator[EmulatorServer]:
    config = EmulatorConfig(seed=5, users=12, days=10, commits=120, today=NOW.date(), now=lambda: NOW)
    with EmulatorServer(config) as server:
        yield server


@pytest.fixture(scope="module")
def webhook_settings(services: Any, oidc_server: ThreadedServer, emulator: EmulatorServer) -> Settings:
    github = {
        "webhook_secret": SECRET,
        "org": DEMO_GITHUB_ORG,
        "api_url": f"{emulator.base_url}/github",
        "token": DEMO_GITHUB_TOKEN,
    }
    return app_settings(services, f"{oidc_server.url}/oidc", github=github, provider_pacing_ms=0)


@pytest.fixture(scope="module")
def webhook_app(webhook_settings: Settings) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    with ThreadedServer(create_app(webhook_settings), health_path="/healthz") as server:
        yield server


@pytest.fixture()
def redis(services: Any) -> Iterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    client.close()


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


def deliver(
    app: ThreadedServer,
    event: str,
    payload: dict[str, Any] | bytes,
    *,
    delivery_id: str | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> tuple[str, httpx.Response]:
    delivery_id = delivery_id or str(uuid.uuid4())
    body, sent = webhook_request(secret, event, payload, delivery_id)
    response = httpx.post(f"{app.url}/webhooks/github", content=body, headers={**sent, **(headers or {})}, timeout=30)
    return delivery_id, response


async def deliveries(sessionmaker: async_sessionmaker[AsyncSession]) -> list[tuple]:
    async with sessionmaker() as db:
        return [
            tuple(r)
            for r in await db.execute(
                text(
                    "SELECT delivery_id, event, status, error, processed_at IS NOT NULL FROM webhook_deliveries "
                    "ORDER BY received_at"
                )
            )
        ]


async def run_followup(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], delivery_id: str, **job_ctx: Any
) -> dict[str, Any]:
    """The worker's follow-up job for one delivery, run inline with the arq context it gets (its own Redis)."""
    async_redis = AsyncRedis.from_url(settings.redis.url)
    try:
        return await github_webhook_followup(
            {"redis": async_redis, "settings": settings, "sessionmaker": sessionmaker, **job_ctx}, delivery_id
        )
    finally:
        await async_redis.aclose()


async def versions(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, int]:
    """(data version, live version): what the page cache keys on."""
    async with sessionmaker() as db:
        row = (await db.execute(text("SELECT version, live_version FROM data_version"))).one()
    return int(row.version), int(row.live_version)


async def test_push_is_queued_then_the_followup_stores_commits_with_stats(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    newest_first = emulator.state.dataset.commits("acme/web")
    with_a_merge = next(i for i, c in enumerate(newest_first) if c.is_merge and i >= 3) + 1
    payload = push_payload(emulator.state.dataset, "acme/web", count=with_a_merge)
    delivery_id, response = deliver(webhook_app, "push", payload)
    assert response.status_code == 202, response.text
    assert response.json() == {"status": "queued", "deliveryId": delivery_id}
    assert await deliveries(sessionmaker) == [(delivery_id, "push", "received", None, False)]
    assert json.loads(redis.get(payload_key(QUEUE, delivery_id))) == payload
    assert 0 < redis.ttl(payload_key(QUEUE, delivery_id)) <= 7 * 24 * 3600
    assert redis.exists(f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    assert redis.zscore(QUEUE, followup_job_id(QUEUE, delivery_id)) is not None

    before = await versions(sessionmaker)
    outcome = await run_followup(webhook_settings, sessionmaker, delivery_id, backoff_base=0.01)
    assert outcome["errors"] == []
    # pushed commits are written like live telemetry: cached pages take them within a minute (docs/architecture.md)
    assert await versions(sessionmaker) == (before[0], before[1] + 1), "a push moves the live version only"

    dataset = emulator.state.dataset
    pushed = [dataset.commit("acme/web", c["id"]) for c in payload["commits"]]
    expected = {c.sha: c for c in pushed if c is not None and not c.is_merge}
    assert expected and len(expected) < len(payload["commits"]) and outcome["commits"] == len(expected)
    async with sessionmaker() as db:
        rows = {
            r.commit_id: r
            for r in await db.execute(
                text("SELECT commit_id, additions, deletions, ai_tool, author_id, committed_at FROM commits")
            )
        }
    assert set(rows) == set(expected), "merge commits are dropped"
    for sha, commit in expected.items():
        assert (rows[sha].additions, rows[sha].deletions) == (commit.additions, commit.deletions)
        assert rows[sha].ai_tool == commit.ai_tool
        assert rows[sha].committed_at == commit.author_date
    (row,) = await deliveries(sessionmaker)
    assert row == (delivery_id, "push", "processed", None, True)
    assert not redis.exists(payload_key(QUEUE, delivery_id))
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))
    redis.delete(f"arq:job:{followup_job_id(QUEUE, delivery_id)}")


async def test_redelivery_is_a_no_op(
    webhook_app: ThreadedServer, emulator: EmulatorServer, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = push_payload(emulator.state.dataset, "acme/api", count=2)
    delivery_id, first = deliver(webhook_app, "push", payload)
    _, second = deliver(webhook_app, "push", payload, delivery_id=delivery_id)
    assert first.status_code == 202
    assert second.status_code == 200 and second.json() == {"status": "duplicate", "deliveryId": delivery_id}
    assert len(await deliveries(sessionmaker)) == 1
    redis.delete(payload_key(QUEUE, delivery_id), f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))


@pytest.mark.parametrize(
    ("headers", "secret"),
    [({}, "not-the-secret"), ({"X-Hub-Signature-256": ""}, SECRET), ({"X-Hub-Signature-256": "sha256=00"}, SECRET)],
    ids=["wrong secret", "missing signature", "garbage signature"],
)
async def test_bad_signature_is_refused_and_nothing_stored(
    webhook_app: ThreadedServer,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
    headers: dict[str, str],
    secret: str,
) -> None:
    payload = push_payload(emulator.state.dataset, "acme/web", count=1)
    delivery_id, response = deliver(webhook_app, "push", payload, secret=secret, headers=headers)
    assert response.status_code == 401
    assert response.json() == {"error": "Invalid signature"}
    assert await deliveries(sessionmaker) == []
    assert not redis.exists(payload_key(QUEUE, delivery_id))


async def test_ping_other_events_and_other_branches(
    webhook_app: ThreadedServer, emulator: EmulatorServer, redis: Redis, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    ping_id, ping = deliver(webhook_app, "ping", ping_payload(emulator.state.dataset))
    assert ping.status_code == 200 and ping.json()["zen"] == "Keep it logically awesome."
    issue_id, issue = deliver(webhook_app, "issues", {"action": "opened"})
    assert issue.status_code == 202 and issue.json()["status"] == "ignored"
    branch_id, branch = deliver(
        webhook_app, "push", push_payload(emulator.state.dataset, "acme/web", count=1, ref="refs/heads/feature/x")
    )
    assert branch.status_code == 202 and branch.json()["status"] == "ignored"
    assert not redis.exists(payload_key(QUEUE, branch_id))
    assert not redis.exists(f"arq:job:{followup_job_id(QUEUE, branch_id)}")
    assert sorted(await deliveries(sessionmaker)) == sorted(
        [
            (ping_id, "ping", "processed", None, False),
            (issue_id, "issues", "ignored", None, False),
            (branch_id, "push", "ignored", None, False),
        ]
    )


async def test_unparsable_json_is_400(
    webhook_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, response = deliver(webhook_app, "push", b"{not json")
    assert response.status_code == 400 and response.json() == {"error": "Invalid JSON"}
    _, response = deliver(webhook_app, "push", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    assert response.status_code == 400 and response.json() == {"error": "Invalid JSON: nested too deeply"}
    assert await deliveries(sessionmaker) == []


async def test_oversized_body_is_413(
    webhook_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = b'{"pad":"' + b"x" * (25 * 1024 * 1024) + b'"}'
    _, response = deliver(webhook_app, "push", body)
    assert response.status_code == 413
    assert await deliveries(sessionmaker) == []


async def test_no_secret_configured_is_503(
    live_app: ThreadedServer, emulator: EmulatorServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    _, response = deliver(live_app, "ping", ping_payload(emulator.state.dataset))
    assert response.status_code == 503
    assert response.json() == {"error": "Webhook not configured"}
    assert await deliveries(sessionmaker) == []


async def test_followup_failure_marks_the_delivery_and_keeps_the_payload(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    delivery_id, response = deliver(webhook_app, "push", push_payload(emulator.state.dataset, "acme/api", count=3))
    assert response.status_code == 202
    emulator.state.add_fault("github", "commit", "500", count=3, after=1)
    try:
        outcome = await run_followup(webhook_settings, sessionmaker, delivery_id, backoff_base=0.01)
    finally:
        emulator.state.clear_faults()
    assert "HTTP 500" in outcome["errors"][0]
    (row,) = await deliveries(sessionmaker)
    assert row[:3] == (delivery_id, "push", "failed") and "HTTP 500" in row[3]
    async with sessionmaker() as db:
        assert (await db.execute(text("SELECT count(*) FROM commits"))).scalar_one() == 0
    assert redis.exists(payload_key(QUEUE, delivery_id))
    redis.delete(payload_key(QUEUE, delivery_id), f"arq:job:{followup_job_id(QUEUE, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))


async def test_followup_without_payload_marks_the_delivery_failed(
    webhook_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    outcome = await run_followup(webhook_settings, sessionmaker, "gone-delivery")
    assert outcome["commits"] == 0 and "payload missing" in outcome["errors"][0]
    (row,) = await deliveries(sessionmaker)
    assert row[:3] == ("gone-delivery", "push", "failed") and row[4]


async def test_another_install_on_the_same_redis_does_not_swallow_a_delivery(
    webhook_app: ThreadedServer,
    webhook_settings: Settings,
    emulator: EmulatorServer,
    redis: Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Two installs (two queues) on one Redis, subscribed to one GitHub org, receive the same delivery id: arq's job
    ids and the parked payload are global to the Redis, so each install's must name its queue."""
    other = f"abacus:test:other-install:{uuid.uuid4().hex[:6]}"
    delivery_id = str(uuid.uuid4())
    redis.set(payload_key(other, delivery_id), b"the other install's copy")
    arq = await create_pool(RedisSettings.from_dsn(webhook_settings.redis.url or ""), default_queue_name=other)
    try:
        assert await arq.enqueue_job(FOLLOWUP_JOB, delivery_id, _job_id=followup_job_id(other, delivery_id))
    finally:
        await arq.aclose()

    payload = push_payload(emulator.state.dataset, "acme/web", count=1)
    _, response = deliver(webhook_app, "push", payload, delivery_id=delivery_id)
    assert response.status_code == 202, response.text
    assert redis.zscore(QUEUE, followup_job_id(QUEUE, delivery_id)) is not None, "ours is queued too"
    assert json.loads(redis.get(payload_key(QUEUE, delivery_id))) == payload
    assert redis.get(payload_key(other, delivery_id)) == b"the other install's copy"
    redis.delete(payload_key(QUEUE, delivery_id), payload_key(other, delivery_id), other)
    redis.delete(f"arq:job:{followup_job_id(QUEUE, delivery_id)}", f"arq:job:{followup_job_id(other, delivery_id)}")
    redis.zrem(QUEUE, followup_job_id(QUEUE, delivery_id))

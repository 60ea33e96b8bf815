"""The emulators' Claude Code OTel stream against the real receiver (issue 14 item 3): what the stream sent is stored
exactly once whatever was duplicated, delta and cumulative people both arrive, and the subscription person (absent
from the Admin API) shows up in usage from OTel alone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from abacus.emulators.dataset import EmulatorConfig
from abacus.emulators.otel import DEMO_OTLP_LABEL, DEMO_OTLP_TOKEN, demo_stream
from abacus.settings import ProviderKey, Settings
from tests.support import QUEUE, ThreadedServer, app_settings, run_async


@pytest.fixture(scope="module")
def stream_app(services: Any, oidc_server: ThreadedServer) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    settings: Settings = app_settings(
        services,
        f"{oidc_server.url}/oidc",
        otlp={"tokens": (ProviderKey(DEMO_OTLP_LABEL, DEMO_OTLP_TOKEN),)},
        jobs={"queue": f"{QUEUE}:otel-stream"},  # the rebuild jobs it queues are nobody else's (the test runs it)
    )
    with ThreadedServer(create_app(settings), health_path="/healthz") as server:
        yield server
    from redis import Redis

    client = Redis.from_url(services.redis_url)
    client.delete(settings.jobs.queue)
    client.close()


async def _rows(database_url: str, sql: str) -> list[Any]:
    from abacus.db import create_engine

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


async def _rebuild(database_url: str) -> None:
    """The rebuild job's work (the worker does it in the demo)."""
    from abacus.db import create_engine, session_factory
    from abacus.provisional import rebuild_dirty_days

    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            await rebuild_dirty_days(db)
    finally:
        await engine.dispose()


def test_stream_is_stored_exactly_once(stream_app: ThreadedServer, database_url: str, clean_db: None) -> None:
    stream = demo_stream(stream_app.url, EmulatorConfig(users=40), people=6)
    stream.duplicate_share = 0.5
    assert stream.subscription_email is not None
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    with httpx.Client() as client:
        for minute in range(12, -1, -1):
            stream.push(client, now - timedelta(minutes=minute))
    assert stream.sent > 13  # duplicates went out
    [(points, cumulative)] = run_async(
        _rows(database_url, "SELECT count(*), count(*) FILTER (WHERE cumulative) FROM otel_points")
    )
    assert points == stream.accepted_points
    assert 0 < cumulative < points
    run_async(_rebuild(database_url))
    people = {
        r.email
        for r in run_async(
            _rows(database_url, "SELECT DISTINCT email FROM usage_records WHERE tool_record_id = 'otel'")
        )
    }
    assert stream.subscription_email in people
    assert people <= set(stream.emails)
    cost = {
        r.email: float(r.cost)
        for r in run_async(
            _rows(
                database_url, "SELECT email, sum(cost) AS cost FROM usage_daily WHERE tool = 'claude_code' GROUP BY 1"
            )
        )
    }
    assert cost == pytest.approx(stream.cost_by_email, abs=1e-5)  # cumulative restarts included

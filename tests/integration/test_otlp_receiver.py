"""POST /otlp/v1/metrics over HTTP against the real app, PostgreSQL and Redis (beyond.md §7): status codes, exactly-once
storage, delta and cumulative temporality (restarts, out-of-order arrival), partial success, the rate limit, and the
rebuild job the receiver queues (a real arq worker turns the stored points into provisional rows)."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceResponse
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.emulators.otel import Sample, build_export, encode, ns
from abacus.provisional import rebuild_dirty_days
from abacus.settings import ProviderKey, Settings
from tests.support import QUEUE, ThreadedServer, app_settings, run_async

TOKEN = "otlp-test-token-0123456789"
OTHER = "otlp-other-token-9876543210"
URL = "/otlp/v1/metrics"


@pytest.fixture(scope="module")
def otlp_settings(services: Any, oidc_server: ThreadedServer) -> Settings:
    tokens = (ProviderKey("acme", TOKEN), ProviderKey("beta", OTHER))
    return app_settings(
        services,
        f"{oidc_server.url}/oidc",
        otlp={"tokens": tokens, "max_body_bytes": 64 * 1024},
        jobs={"queue": f"{QUEUE}:otlp"},  # the rebuild jobs this module's exports queue stay out of other tests' way
    )


@pytest.fixture(scope="module")
def otlp_app(otlp_settings: Settings, services: Any) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    with ThreadedServer(create_app(otlp_settings), health_path="/healthz") as server:
        yield server
    client = Redis.from_url(services.redis_url)
    client.delete(otlp_settings.jobs.queue)
    client.close()


@pytest.fixture()
async def sessionmaker(database_url: str, clean_db: None) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture(autouse=True)
def fresh_rate_limits(services: Any) -> Iterator[None]:
    client = Redis.from_url(services.redis_url)
    for key in client.scan_iter("abacus:otlp:rate:*"):
        client.delete(key)
    yield
    client.close()


def post(server: ThreadedServer, body: bytes, headers: dict[str, str], token: str | None = TOKEN) -> httpx.Response:
    if token is not None:
        headers = {**headers, "Authorization": f"Bearer {token}"}
    return httpx.post(f"{server.url}{URL}", content=body, headers=headers, timeout=20)


NOW = datetime.now(UTC).replace(microsecond=0)
START = ns(NOW - timedelta(minutes=30))


def samples(email: str = "ada@example.com", minute: int = 1, cost: float = 0.5) -> list[Sample]:
    at = START + minute * 60_000_000_000
    attrs = {"user.email": email, "model": "claude-sonnet-4-5-20250929"}
    return [
        Sample(otlp.COST, cost, at - 60_000_000_000, at, attrs),
        Sample(otlp.TOKENS, 1000, at - 60_000_000_000, at, {**attrs, "type": "input"}),
        Sample(otlp.TOKENS, 200, at - 60_000_000_000, at, {**attrs, "type": "output"}),
        Sample(otlp.LINES, 12, at - 60_000_000_000, at, {"user.email": email, "type": "added"}),
    ]


async def scalar(sessionmaker: async_sessionmaker[AsyncSession], sql: str, **params: Any) -> Any:
    async with sessionmaker() as db:
        return (await db.execute(text(sql), params)).scalar()


async def rebuild(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """What the queued job does (the worker-driven path has its own test below)."""
    async with sessionmaker() as db, db.begin():
        await rebuild_dirty_days(db)


async def test_protobuf_export_is_stored_once_and_becomes_provisional_usage(
    otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body, headers = encode(build_export(samples()))
    first = post(otlp_app, body, headers)
    assert first.status_code == 200, first.content
    assert first.headers["content-type"].startswith("application/x-protobuf")
    answer = ExportMetricsServiceResponse.FromString(first.content)
    assert answer.partial_success.rejected_data_points == 0
    for _ in range(3):  # the exporter retries and duplicates: nothing changes
        assert post(otlp_app, body, headers).status_code == 200
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == 4
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_dirty_days") == 1  # one export stored points
    await rebuild(sessionmaker)
    assert await scalar(sessionmaker, "SELECT sum(cost) FROM usage_daily WHERE email = 'ada@example.com'") == 0.5
    tokens = await scalar(
        sessionmaker, "SELECT sum(input_tokens + output_tokens) FROM usage_daily WHERE email = 'ada@example.com'"
    )
    assert tokens == 1200
    assert await scalar(sessionmaker, "SELECT sum(lines_added) FROM activity_daily") == 12
    assert await scalar(sessionmaker, "SELECT count(*) FROM usage_records WHERE tool_record_id = 'otel'") == 1


async def test_json_and_gzip_bodies(otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    body, headers = encode(build_export(samples(minute=2)), json_body=True, gzipped=True)
    response = post(otlp_app, body, headers)
    assert response.status_code == 200, response.content
    assert response.headers["content-type"].startswith("application/json")
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == 4
    # OTLP/JSON as an exporter writes it: camelCase, int64 as strings, enum as a number
    raw = json_format.MessageToDict(build_export(samples(minute=3)))
    response = post(otlp_app, json.dumps(raw).encode(), {"Content-Type": "application/json"})
    assert response.status_code == 200
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == 8


async def test_cumulative_series_become_deltas_whatever_the_order_and_restarts_count(
    otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    attrs = {"user.email": "bo@example.com", "model": "claude-opus-4-1-20250805"}
    start, later_start = START, START + 20 * 60_000_000_000
    points = [
        Sample(otlp.COST, 1.0, start, start + 60_000_000_000, attrs, True),
        Sample(otlp.COST, 2.5, start, start + 120_000_000_000, attrs, True),
        Sample(otlp.COST, 2.5, start, start + 180_000_000_000, attrs, True),
        Sample(otlp.COST, 4.0, start, start + 240_000_000_000, attrs, True),
        Sample(otlp.COST, 0.75, later_start, later_start + 60_000_000_000, attrs, True),  # restart: new start
        Sample(otlp.COST, 1.25, later_start, later_start + 120_000_000_000, attrs, True),
        Sample(otlp.COST, 0.5, later_start, later_start + 180_000_000_000, attrs, True),  # value drops: restart
    ]
    for index in (3, 0, 6, 2, 4, 1, 5, 3, 0):  # out of order, with repeats
        body, headers = encode(build_export([points[index]]))
        assert post(otlp_app, body, headers).status_code == 200
    await rebuild(sessionmaker)
    cost = await scalar(sessionmaker, "SELECT sum(cost) FROM usage_daily WHERE email = 'bo@example.com'")
    assert float(cost) == pytest.approx(4.0 + 1.25 + 0.5)
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == 7


async def test_implausible_points_are_a_partial_success(
    otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    good = samples(minute=4)
    at = good[0].time_ns
    bad = [
        Sample(otlp.COST, -1.0, at - 1, at, {"user.email": "ada@example.com"}),
        Sample(otlp.COST, 200_000.0, at - 1, at, {"user.email": "ada@example.com", "model": "x"}),
        Sample(otlp.TOKENS, 1e11, at - 1, at, {"user.email": "ada@example.com", "type": "input"}),
        Sample(otlp.COST, 1.0, at + 2 * 86_400 * 10**9 - 1, at + 2 * 86_400 * 10**9, {"user.email": "a@b.co"}),
    ]
    body, headers = encode(build_export([*good, *bad]), json_body=True)
    response = post(otlp_app, body, headers)
    assert response.status_code == 200
    assert response.json()["partialSuccess"]["rejectedDataPoints"] == "4"
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == len(good)


@pytest.mark.parametrize(
    ("token", "headers", "body", "status"),
    [
        (None, {"Content-Type": "application/x-protobuf"}, b"", 401),
        ("wrong-token", {"Content-Type": "application/x-protobuf"}, b"", 401),
        (TOKEN, {"Content-Type": "text/plain"}, b"hello", 415),
        (TOKEN, {"Content-Type": "application/x-protobuf", "Content-Encoding": "br"}, b"x", 415),
        (TOKEN, {"Content-Type": "application/x-protobuf"}, b"\xff\xff\xff\xff", 400),
        (TOKEN, {"Content-Type": "application/json"}, b"{not json", 400),
        (TOKEN, {"Content-Type": "application/json"}, b"[1,2]", 400),
        (TOKEN, {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}, b"not gzip", 400),
        (TOKEN, {"Content-Type": "application/x-protobuf"}, b"\x00" * (65 * 1024), 413),
        (TOKEN, {"Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(b" " * 10**6), 413),
    ],
)
async def test_refusals_store_nothing(
    otlp_app: ThreadedServer,
    sessionmaker: async_sessionmaker[AsyncSession],
    token: str | None,
    headers: dict[str, str],
    body: bytes,
    status: int,
) -> None:
    response = post(otlp_app, body, headers, token=token)
    assert response.status_code == status, response.content
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == 0


def test_declared_length_over_the_cap_is_413_before_the_body(otlp_app: ThreadedServer) -> None:
    """Only the headers and 1 KB of a declared 100 MB body are sent: the answer comes without the rest."""
    url = httpx.URL(otlp_app.url)
    with socket.create_connection((url.host, url.port), timeout=10) as sock:
        sock.sendall(
            (
                f"POST {URL} HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/x-protobuf\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: {10**8}\r\n\r\n"
            ).encode()
            + b"\x00" * 1024
        )
        status_line = sock.recv(4096).split(b"\r\n", 1)[0]
    assert status_line.split()[1] == b"413"


async def test_rate_limit_is_per_token_with_retry_after(
    otlp_app: ThreadedServer, services: Any, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    client = Redis.from_url(services.redis_url)
    window = int(time.time() // 60)
    for offset in (0, 1):  # this minute and the next, in case the clock turns during the test
        client.set(f"abacus:otlp:rate:acme:{window + offset}", 10**6, ex=180)
    client.close()
    body, headers = encode(build_export(samples(minute=5)))
    limited = post(otlp_app, body, headers)
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["retry-after"]) <= 61
    assert post(otlp_app, body, headers, token=OTHER).status_code == 200  # another token is not limited
    assert await scalar(sessionmaker, "SELECT count(DISTINCT organization_label) FROM otel_points") == 1


FUZZ_EXAMPLES = 10_000 if os.environ.get("ABACUS_FUZZ_LONG") == "1" else 300


def test_fuzzed_bodies_over_http_get_only_otlp_statuses_and_invalid_ones_store_nothing(
    otlp_app: ThreadedServer, database_url: str, clean_db: None
) -> None:
    """Hostile and valid bodies, protobuf and JSON, plain and gzipped: only 200/400/401/413/429, never a 500, and a
    refused body adds no point (ABACUS_FUZZ_LONG=1 runs the acceptance's 10,000)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from tests.unit.test_otlp_parse import hostile, hostile_json

    valid = st.builds(
        lambda minute, email, json_body: encode(build_export(samples(email, minute)), json_body=json_body),
        st.integers(0, 25),
        st.sampled_from(["ada@example.com", "bo@example.com"]),
        st.booleans(),
    )
    bodies = st.one_of(
        hostile.map(lambda b: (b, {"Content-Type": "application/x-protobuf"})),
        hostile_json.map(lambda b: (b, {"Content-Type": "application/json"})),
        valid,
    )

    def count() -> int:
        return int(run_async(_count_points(database_url)))

    client = httpx.Client(base_url=otlp_app.url, timeout=30)

    @settings(max_examples=FUZZ_EXAMPLES, suppress_health_check=list(HealthCheck), deadline=None)
    @given(bodies, st.booleans(), st.sampled_from([TOKEN, OTHER, "nope", "x y"]))
    def check(body_headers: tuple[bytes, dict[str, str]], gzipped: bool, token: str) -> None:
        body, headers = body_headers
        headers = {**headers, "Authorization": f"Bearer {token}"}
        if gzipped:
            body, headers = gzip.compress(body), {**headers, "Content-Encoding": "gzip"}
        before = count()
        response = client.post(URL, content=body, headers=headers)
        assert response.status_code in (200, 400, 401, 413, 429), (response.status_code, response.content[:200])
        if response.status_code != 200:
            assert count() == before

    try:
        check()
    finally:
        client.close()


async def _count_points(database_url: str) -> int:
    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM otel_points"))).scalar() or 0)
    finally:
        await engine.dispose()


async def test_nul_characters_are_rejected_points_not_a_500(
    otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Found by the 10,000-body fuzz: a NUL in an attribute made PostgreSQL refuse the jsonb (a 500)."""
    at = START + 60_000_000_000
    bad = Sample(otlp.COST, 1.0, at - 1, at, {"user.email": "ada@example.com", "session.id": "a\x00b"})
    good = samples(minute=7)
    for json_body in (False, True):
        body, headers = encode(build_export([bad, *good]), json_body=json_body)
        response = post(otlp_app, body, headers)
        assert response.status_code == 200, response.content
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_points") == len(good)


async def test_a_hostile_token_cannot_overflow_a_day(
    otlp_app: ThreadedServer, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Every point plausible ($100,000, 10^10 tokens) but a thousand of them: the day's provisional row is clamped
    to its column's bounds instead of failing the export with a 500."""
    at = START + 60_000_000_000
    attrs = {"user.email": "eve@example.com", "model": "m"}
    many = [Sample(otlp.COST, 100_000.0, at - 1, at + i, attrs) for i in range(1001)]
    many += [Sample(otlp.TOKENS, 1e10, at - 1, at + i, {**attrs, "type": "input"}) for i in range(1001)]
    for start in range(0, len(many), 250):  # under this app's 64 KB cap
        body, headers = encode(build_export(many[start : start + 250]))
        assert post(otlp_app, body, headers).status_code == 200
    await rebuild(sessionmaker)
    cost = await scalar(sessionmaker, "SELECT cost FROM usage_records WHERE email = 'eve@example.com'")
    assert cost == Decimal("99999999.999999")
    assert (
        await scalar(sessionmaker, "SELECT input_tokens FROM usage_records WHERE email = 'eve@example.com'")
        == 10**13 + 10**10
    )


async def test_the_receiver_queues_one_rebuild_that_a_worker_runs(
    otlp_app: ThreadedServer, otlp_settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A burst of exports within one coalescing window queues one rebuild job; a real arq worker runs it and the
    provisional rows appear, the marks gone."""
    from arq.connections import RedisSettings
    from arq.worker import Worker

    from abacus.worker.otel_jobs import COALESCE_SECONDS
    from abacus.worker.tasks import FUNCTIONS

    redis = Redis.from_url(otlp_settings.redis.url or "")
    queue = otlp_settings.jobs.queue
    redis.delete(queue)  # earlier tests' jobs; and a window of their own, which the app has queued nothing for yet
    await asyncio.sleep(COALESCE_SECONDS - time.time() % COALESCE_SECONDS + 0.05)
    for minute in (8, 9, 10):
        body, headers = encode(build_export(samples(minute=minute)))
        assert post(otlp_app, body, headers).status_code == 200
    queued = redis.zcard(queue)
    redis.close()
    assert 1 <= queued <= 2  # one per window (the burst may straddle a window's end)
    assert await scalar(sessionmaker, "SELECT count(*) FROM usage_records") == 0
    worker = Worker(
        functions=FUNCTIONS,
        redis_settings=RedisSettings.from_dsn(otlp_settings.redis.url or ""),
        queue_name=queue,
        burst=True,
        handle_signals=False,
        poll_delay=0.05,
        ctx={"settings": otlp_settings, "sessionmaker": sessionmaker},
    )
    await worker.async_run()
    await worker.close()
    assert await scalar(sessionmaker, "SELECT count(*) FROM otel_dirty_days") == 0
    assert await scalar(sessionmaker, "SELECT sum(cost) FROM usage_daily WHERE email = 'ada@example.com'") == 1.5

"""Receiver throughput (issue 14 acceptance): data points per second through POST /otlp/v1/metrics into PostgreSQL
(parse, insert, delta, provisional rows and rollups), with the receiver's p99. Prints the figures for the README;
asserts only that the ingest is complete and not absurdly slow (the machine is shared)."""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from abacus.domain import otlp
from abacus.emulators.otel import Sample, build_export, encode, ns
from abacus.settings import ProviderKey
from tests.support import ThreadedServer, app_settings, run_async

TOKEN = "bench-token-0123456789abcdef"


def _export(index: int, points: int, now: datetime) -> bytes:
    at = ns(now - timedelta(minutes=5))
    samples = [
        Sample(
            otlp.TOKENS,
            float(100 + i),
            at - 60_000_000_000,
            at + index * 1000 + i,
            {"user.email": f"p{i % 50}@example.com", "model": "claude-sonnet-4-5-20250929", "type": "input",
             "session.id": f"s{index}"},
        )
        for i in range(points)
    ]  # fmt: skip
    body, _ = encode(build_export(samples), gzipped=True)
    return body


async def _count(database_url: str) -> int:
    from abacus.db import create_engine

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(text("SELECT count(*) FROM otel_points"))).scalar() or 0)
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("points_per_export", "exports"), [(50, 120), (2000, 30)])
def test_receiver_throughput(
    services: Any, oidc_server: ThreadedServer, database_url: str, clean_db: None, points_per_export: int, exports: int
) -> None:
    from abacus.app import create_app

    settings = app_settings(
        services,
        f"{oidc_server.url}/oidc",
        otlp={"tokens": (ProviderKey("bench", TOKEN),), "requests_per_minute": 1_000_000},
    )
    now = datetime.now(UTC)
    bodies = [_export(i, points_per_export, now) for i in range(exports)]
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "Authorization": f"Bearer {TOKEN}",
    }
    with ThreadedServer(create_app(settings), health_path="/healthz") as server:
        client = httpx.Client(base_url=server.url, timeout=60)

        def send(body: bytes) -> float:
            started = time.perf_counter()
            response = client.post("/otlp/v1/metrics", content=body, headers=headers)
            assert response.status_code == 200, response.content
            return time.perf_counter() - started

        client.post("/otlp/v1/metrics", content=_export(10**6, 10, now), headers=headers)  # warm up
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=4) as pool:
            latencies = list(pool.map(send, bodies))
        elapsed = time.perf_counter() - started
        client.close()
    total = points_per_export * exports
    assert run_async(_count(database_url)) == total + 10
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    rate = total / elapsed
    print(
        f"\nOTLP ingest, {points_per_export} points per export, 4 concurrent senders: {total} points in "
        f"{elapsed:.2f} s = {rate:,.0f} points/s; receiver p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms"
    )
    assert rate > 100

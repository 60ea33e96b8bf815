"""Receiver throughput (issue 14 acceptance): data points per second through POST /otlp/v1/metrics into PostgreSQL
(parse, insert, dirty marks, the rebuild job queued), with the receiver's p50 and p99, against the app as it is
deployed: `abacus serve --workers 2` and an `abacus worker` running the rebuild jobs (provisional rows and rollups)
beside it, as separate processes; then how long after the last export the provisional rows were complete. Prints the
figures for the README; asserts that the ingest and the rows are complete and that the rate is not absurdly slow
(the machine is shared). Because other work shares the machine, it also prints the CPU the pipeline itself used
(web workers, the worker and this database's PostgreSQL backends): points per CPU-second, what one idle core does."""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import text

from abacus.domain import otlp
from abacus.emulators.otel import Sample, build_export, encode, ns
from tests.support import QUEUE, ThreadedServer, dev_env, free_port, run_async

TOKEN = "bench-token-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]
SENDERS = 4


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


async def _state(database_url: str) -> tuple[int, int, int, float, float]:
    """Stored points, dirty marks left, pending deltas, input tokens in the points and in the provisional rows."""
    from abacus.db import create_engine

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM otel_points) AS points, "
                        "(SELECT count(*) FROM otel_dirty_days) AS marks, "
                        "(SELECT count(*) FROM otel_points WHERE delta IS NULL) AS pending, "
                        "(SELECT sum(value) FROM otel_points) AS sent, "
                        "(SELECT sum(input_tokens) FROM usage_records WHERE tool_record_id = 'otel') AS provisional"
                    )
                )
            ).one()
            return int(row.points), int(row.marks), int(row.pending), float(row.sent or 0), float(row.provisional or 0)
    finally:
        await engine.dispose()


async def _backend_pids(database_url: str) -> list[int]:
    from abacus.db import create_engine

    engine = create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            sql = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            return [int(r.pid) for r in await conn.execute(text(sql))]
    finally:
        await engine.dispose()


def _cpu(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process still running."""
    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


def _pipeline_pids(procs: list[subprocess.Popen[bytes]], database_url: str) -> list[int]:
    """The web workers (serve and its children), the worker, and the database's backends."""
    pids = [p.pid for p in procs]
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            pids += [child.pid for child in psutil.Process(proc.pid).children(recursive=True)]
    backends: list[int] = run_async(_backend_pids(database_url))
    return pids + backends


@pytest.fixture(scope="module")
def deployed(
    services: Any, oidc_server: ThreadedServer, database_url: str
) -> Iterator[tuple[str, list[subprocess.Popen[bytes]]]]:
    """`abacus serve --workers 2` and `abacus worker` on this run's database, a queue of their own; yields the URL
    and the two processes. Started once for the module (three processes take seconds of CPU to start); each test
    empties the tables itself (`clean_db`), which the running processes do not notice."""
    port = free_port()
    env = {
        **os.environ,
        **dev_env(f"{oidc_server.url}/oidc"),
        "DATABASE_URL": database_url,
        "REDIS_URL": services.redis_url,
        "ABACUS_QUEUE": f"{QUEUE}:otlp-bench",
        "ABACUS_OTLP_TOKENS": f"bench={TOKEN}",
        "ABACUS_OTLP_REQUESTS_PER_MINUTE": "1000000",
    }
    command = [sys.executable, "-m", "abacus"]
    serve = [*command, "serve", "--port", str(port), "--workers", "2", "--no-migrate"]
    procs = [
        subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for args in (serve, [*command, "worker"])
    ]
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "abacus serve did not start"
            time.sleep(0.2)
        yield url, procs
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        from redis import Redis

        client = Redis.from_url(services.redis_url)
        client.delete(env["ABACUS_QUEUE"])
        client.close()


@pytest.mark.parametrize(("points_per_export", "exports"), [(50, 120), (2000, 30)])
def test_receiver_throughput(
    deployed: tuple[str, list[subprocess.Popen[bytes]]],
    clean_db: None,
    database_url: str,
    points_per_export: int,
    exports: int,
) -> None:
    url, procs = deployed
    now = datetime.now(UTC)
    bodies = [_export(i, points_per_export, now) for i in range(exports)]
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "Authorization": f"Bearer {TOKEN}",
    }
    client = httpx.Client(base_url=url, timeout=60)

    def send(body: bytes) -> float:
        started = time.perf_counter()
        response = client.post("/otlp/v1/metrics", content=body, headers=headers)
        assert response.status_code == 200, response.content
        return time.perf_counter() - started

    for warm in range(4):  # every web worker's pool and prepared statement
        client.post("/otlp/v1/metrics", content=_export(10**6 + warm, 10, now), headers=headers)
    cpu_before = _cpu(_pipeline_pids(procs, database_url))
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        latencies = list(pool.map(send, bodies))
    elapsed = time.perf_counter() - started
    client.close()
    total = points_per_export * exports
    deadline = time.perf_counter() + 120
    while (state := run_async(_state(database_url)))[1:3] != (0, 0):  # the worker's rebuilds catch up
        assert time.perf_counter() < deadline, f"provisional rows not rebuilt: {state}"
        time.sleep(0.1)
    caught_up = time.perf_counter() - started - elapsed
    cpu_after = _cpu(_pipeline_pids(procs, database_url))
    cpu = sum(after - cpu_before.get(pid, 0.0) for pid, after in cpu_after.items())
    points, _, _, sent, provisional = state
    assert points == total + 40
    assert provisional == sent  # every point is in its day's provisional rows
    p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) >= 2 else latencies[0]
    rate = total / elapsed
    print(
        f"\nOTLP ingest, {points_per_export} points per export, {SENDERS} concurrent senders: {total} points in "
        f"{elapsed:.2f} s = {rate:,.0f} points/s; receiver p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {p99 * 1000:.0f} ms; provisional rows complete {caught_up:.1f} s after the last export; "
        f"{cpu:.2f} CPU-s used by web + worker + PostgreSQL = {total / cpu:,.0f} points per CPU-second; "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )
    assert rate > 100

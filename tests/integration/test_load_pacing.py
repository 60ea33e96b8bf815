"""The load loop of `abacus loadtest` / `abacus bench` against a trivial loopback server: back to back, clients send
as fast as answers come; with a think time each client pauses about that long between requests."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from abacus.bench.web import get_route, run_load
from tests.support import ThreadedServer


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok"})


def test_think_time_paces_each_client_and_back_to_back_does_not():
    with ThreadedServer(hello) as server:
        cookies = httpx.Cookies()
        routes = [get_route("hello", "/")]
        busy = run_load(server.url, cookies, routes, clients=2, seconds=1.0)
        paced = run_load(server.url, cookies, routes, clients=2, seconds=2.0, think_seconds=0.5)
    busy_requests, paced_requests = busy.routes[0].requests, paced.routes[0].requests
    assert busy.routes[0].errors == paced.routes[0].errors == 0
    # 2 clients pausing 0.5 s on average for 2 s: about 8 requests (Poisson-like, so a wide margin), never hundreds
    assert 2 <= paced_requests <= 30, paced_requests
    assert busy_requests > 3 * paced_requests, (busy_requests, paced_requests)


def test_warmup_is_not_measured_and_the_background_runs_beside_the_clients():
    calls: list[float] = []

    async def beside() -> None:
        while True:
            calls.append(time.monotonic())
            await asyncio.sleep(0.2)

    served = 0

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        nonlocal served
        served += scope["type"] == "http"
        await hello(scope, receive, send)

    with ThreadedServer(counting) as server:
        routes = [get_route("hello", "/")]
        started = time.monotonic()
        result = run_load(
            server.url, httpx.Cookies(), routes, clients=2, seconds=1.0, think_seconds=0.05, warmup_seconds=1.0,
            background=beside,
        )  # fmt: skip
        ran = time.monotonic() - started
    assert 1.9 <= ran < 4, ran  # warm-up and measured window
    assert 0.9 <= result.seconds < 2, result.seconds  # only the measured window is reported...
    counted = result.routes[0].requests
    assert 4 <= counted <= 0.75 * served, (counted, served)  # ...and counted, not the warm-up's requests
    assert len(calls) >= 8 and calls[-1] - calls[0] >= 1.5  # the background ran the whole time, then stopped

"""The load loop of `abacus loadtest` / `abacus bench` against a trivial loopback server: back to back, clients send
as fast as answers come; with a think time each client pauses about that long between requests."""

from __future__ import annotations

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

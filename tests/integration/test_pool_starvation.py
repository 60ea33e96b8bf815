"""A saturated connection pool queues requests, it never deadlocks them (issue 10's 50-client load: requests fanned
out over several pooled connections while holding one, and 503'd after the pool timeout).

The rule under test (`abacus.db.borrowed_session`): a request holds at most one connection of the main pool and
whoever holds one never waits for a second. With a pool of ONE connection and no fan-out connections, any page that
broke the rule would wait for itself until the pool timeout and answer 503; every GET route the app registers
(enumerated, not a hand list) must answer without one. Then many concurrent clients on a tiny pool with the page
cache off (every request reads PostgreSQL) must all be answered.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest

from abacus.app import create_app
from tests.integration.attack_support import app_routes
from tests.support import ThreadedServer, app_settings, free_port, run_async, sign_in

POOL_TIMEOUT = 4.0
SKIP_PREFIXES = ("/auth/", "/static", "/otlp/", "/webhooks/")


def _server(services: Any, oidc_url: str, **database: Any) -> tuple[ThreadedServer, Any]:
    """An app whose pool gives up after `pool_timeout_seconds` (POOL_TIMEOUT unless given)."""
    port = free_port()
    settings = app_settings(
        services,
        f"{oidc_url}/oidc",
        base_url=f"http://127.0.0.1:{port}",
        database={"pool_timeout_seconds": POOL_TIMEOUT} | database,
        redis={"page_cache_seconds": 0},  # every request computes from the tables
    )
    app = create_app(settings)
    return ThreadedServer(app, health_path="/healthz", port=port), app


def _concrete(path: str) -> str:
    values = {"email": "ada@example.com", "owner": "acme", "repo": "api", "slug": "plan-mode", "path": "openapi.json"}
    return re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values.get(m.group(1), "x"), path)


def test_every_get_route_answers_with_one_pooled_connection(services, oidc_server, seeded):
    server, app = _server(services, oidc_server.url, pool_size=1, pool_overflow=0, fanout=0)
    routes = [r for r in app_routes(app) if r.method == "GET" and not r.path.startswith(SKIP_PREFIXES)]
    assert len(routes) > 30  # the enumeration found the app's pages, fragments, exports and API
    failures = []
    with server:
        client = sign_in(server.url, "ada@example.com")
        for route in routes:
            for headers in ({}, {"HX-Request": "true", "HX-Target": "page-body"}):
                response = client.get(_concrete(route.path), headers=headers, timeout=POOL_TIMEOUT * 4)
                if response.status_code >= 500:
                    failures.append(f"{route.path} {headers or ''} → {response.status_code}")
        client.close()
    assert not failures, "held a connection while waiting for another:\n" + "\n".join(failures)


@pytest.mark.parametrize("fanout", [0, 2])
def test_many_concurrent_clients_on_a_tiny_pool_are_all_answered(services, oidc_server, seeded, fanout):
    # a queue of 48 requests on 2 connections may take a while on a busy machine: only a deadlock waits 60 s
    server, _ = _server(
        services, oidc_server.url, pool_size=2, pool_overflow=0, fanout=fanout, pool_timeout_seconds=60.0
    )
    paths = ["/", "/?range=1y", "/usage", "/team", "/users/ada@example.com", "/status", "/commits", "/api/v1/users"]
    with server:
        signed = sign_in(server.url, "ada@example.com")
        cookies = dict(signed.cookies)
        signed.close()

        async def load() -> list[tuple[str, int]]:
            async with httpx.AsyncClient(base_url=server.url, cookies=cookies, timeout=120) as client:

                async def one(i: int) -> tuple[str, int]:
                    path = paths[i % len(paths)]
                    return path, (await client.get(path)).status_code

                return await asyncio.gather(*(one(i) for i in range(48)))

        answers = run_async(load())
    assert len(answers) == 48
    assert {status for _, status in answers} == {200}, [a for a in answers if a[1] != 200]

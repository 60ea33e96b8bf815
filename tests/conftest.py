"""Shared fixtures: real PostgreSQL + Redis (machine's or embedded), a fresh database per run, loopback emulators
and the real app served over HTTP."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

RUN_ID = uuid.uuid4().hex[:8]
os.environ.setdefault("ABACUS_QUEUE", f"abacus:test:{RUN_ID}")

from abacus import migrate  # noqa: E402
from abacus.embedded import BackingServices, ensure_database_exists, resolve_backing_services  # noqa: E402
from abacus.emulators.oidc import OIDCState, create_oidc_router  # noqa: E402
from abacus.settings import Settings, load_settings  # noqa: E402
from tests.support import ThreadedServer, free_port  # noqa: E402


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last (and are marked), after every async test has used the event loop."""
    for item in items:
        if "/tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))


DEMO_USERS = [("ada@example.com", "Ada Lovelace"), ("grace@example.com", "Grace Hopper")]
TABLES = (
    "usage_records",
    "usage_daily",
    "usage_tool_daily",
    "usage_user_daily",
    "identity_mappings",
    "sync_state",
    "commit_attributions",
    "commits",
    "repositories",
    "webhook_deliveries",
)


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion in its own thread and loop (safe even while Playwright owns this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def _drop_database(services: BackingServices, name: str) -> None:
    engine = create_async_engine(services.with_database("postgres"), isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    await engine.dispose()


@pytest.fixture(scope="session")
def services() -> Iterator[BackingServices]:
    """A freshly created, migrated database on the real server for this test run; dropped afterwards."""
    name = f"abacus_test_{RUN_ID}"
    resolved, stop = resolve_backing_services(database_name=name)
    run_async(ensure_database_exists(resolved.database_url))
    migrate.upgrade(resolved.database_url)
    os.environ["DATABASE_URL"] = resolved.database_url
    os.environ["REDIS_URL"] = resolved.redis_url
    yield resolved
    run_async(_drop_database(resolved, name))
    stop()


@pytest.fixture(scope="session")
def database_url(services: BackingServices) -> str:
    return services.database_url


@pytest.fixture()
def clean_db(database_url: str) -> Iterator[None]:
    """Tests that write rows start from empty tables (truncate, not a shared state)."""

    async def truncate() -> None:
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        await engine.dispose()

    run_async(truncate())
    yield


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[ThreadedServer]:
    from litestar import Litestar

    app = Litestar(route_handlers=[create_oidc_router(OIDCState(demo_users=DEMO_USERS))])
    with ThreadedServer(app, health_path="/oidc/.well-known/openid-configuration") as server:
        yield server


def app_settings(services: BackingServices, issuer: str, **overrides: object) -> Settings:
    env = {
        "ABACUS_ENV": "dev",
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
        "ABACUS_ALLOWED_DOMAINS": "example.com",
        "ABACUS_ADMIN_EMAILS": "ada@example.com",
    }
    settings = load_settings(env)
    return replace(settings, database_url=services.database_url, redis_url=services.redis_url, **overrides)


@pytest.fixture(scope="session")
def live_app(services: BackingServices, oidc_server: ThreadedServer) -> Iterator[ThreadedServer]:
    """The real Abacus app over HTTP, signing in against the OIDC emulator."""
    from abacus.app import create_app

    port = free_port()
    settings = app_settings(services, f"{oidc_server.url}/oidc", base_url=f"http://127.0.0.1:{port}")
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        yield server


def sign_in(base_url: str, email: str, **switches: str) -> httpx.Client:
    """An httpx client that went through /auth/login → emulator → /auth/callback (redirects followed)."""
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=20)
    response = client.get("/auth/login", params={"login_hint": email})
    assert response.status_code == 302, response.text
    authorize = httpx.URL(response.headers["location"])
    if switches:
        authorize = authorize.copy_merge_params(switches)
    to_callback = httpx.get(authorize, follow_redirects=False, timeout=20)
    assert to_callback.status_code == 302, to_callback.text
    final = client.get(to_callback.headers["location"])
    client.last_response = final  # type: ignore[attr-defined]
    return client


@pytest.fixture()
def signed_in(live_app: ThreadedServer) -> Callable[..., httpx.Client]:
    clients: list[httpx.Client] = []

    def factory(email: str = "ada@example.com", **switches: str) -> httpx.Client:
        client = sign_in(live_app.url, email, **switches)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture()
def seeded(clean_db: None, database_url: str) -> None:
    """The tests/seed.py data set, written through the real store path (today = seed.TODAY)."""
    from abacus.db import create_engine, session_factory
    from tests.seed import seed

    async def run() -> None:
        engine = create_engine(database_url)
        async with session_factory(engine)() as db, db.begin():
            await seed(db)
        await engine.dispose()

    run_async(run())

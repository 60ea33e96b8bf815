"""A realistic app for browser and crawler tests: the provider emulators synced into the test database through the
REAL sync code (mappings → backfill until complete → incremental), then the real app served over HTTP.

Use in a test module with `from tests.browser.demo_fixtures import demo_app  # noqa: F401` (found by name).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from abacus.emulators.dataset import EmulatorConfig, demo_environment
from abacus.emulators.server import EmulatorServer
from abacus.settings import Settings, load_settings
from tests.conftest import TABLES, run_async
from tests.support import ThreadedServer, free_port

ADMIN = "ada@example.com"
MAX_BACKFILL_STEPS = 40  # per provider; the 45-day demo history needs a handful


@dataclass
class DemoApp:
    url: str
    emulator: EmulatorServer
    database_url: str
    settings: Settings


def demo_settings(database_url: str, redis_url: str, issuer: str, emulator_url: str, base_url: str) -> Settings:
    env = {
        "ABACUS_ENV": "dev",
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
        "ABACUS_ALLOWED_DOMAINS": "example.com",
        "ABACUS_ADMIN_EMAILS": ADMIN,
        **demo_environment(emulator_url),
    }
    return replace(load_settings(env), database_url=database_url, redis_url=redis_url, base_url=base_url)


async def sync_call(settings: Settings, call: Any, *args: Any, now: Any = None) -> Any:
    """Run one `abacus.providers.runner` function with a fresh engine and a fast-retry SyncContext."""
    from abacus.db import create_engine, session_factory
    from abacus.sync.context import SyncContext

    engine = create_engine(settings.database_url or "")
    try:
        ctx = SyncContext(settings=settings, sessionmaker=session_factory(engine), backoff_base=0.01)
        if now is not None:
            ctx.now = now
        return await call(ctx, *args)
    finally:
        await engine.dispose()


async def _truncate(database_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    async with engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
    await engine.dispose()


async def full_sync(settings: Settings) -> None:
    """What a fresh deployment does: identities, the whole history, then the forward sync, for every provider."""
    from abacus.db import create_engine, session_factory
    from abacus.providers import registry, runner
    from abacus.sync.context import SyncContext

    engine = create_engine(settings.database_url or "")
    ctx = SyncContext(settings=settings, sessionmaker=session_factory(engine), backoff_base=0.01)
    try:
        for provider in registry.PROVIDERS:
            results = await runner.run_mappings(ctx, provider)
            assert all(r.ok for r in results), results
        for provider in registry.PROVIDERS:
            for _ in range(MAX_BACKFILL_STEPS):
                results = await runner.run_backfill_step(ctx, provider)
                assert all(r.ok for r in results), results
                if all(r.complete for r in results):
                    break
            else:
                raise AssertionError(f"{provider.name} backfill not complete after {MAX_BACKFILL_STEPS} steps")
        for provider in registry.PROVIDERS:
            results = await runner.run_incremental(ctx, provider)
            assert all(r.ok for r in results), results
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def demo_app(services: Any, oidc_server: ThreadedServer) -> Iterator[DemoApp]:
    """Emulators (12 people, 45 days, no provider lag) synced into emptied tables; the app served on loopback."""
    from abacus.app import create_app

    started = time.monotonic()
    run_async(_truncate(services.database_url))
    with EmulatorServer(EmulatorConfig(users=12, days=45, lag=False)) as emulator:
        port = free_port()
        settings = demo_settings(
            services.database_url,
            services.redis_url,
            f"{oidc_server.url}/oidc",
            emulator.base_url,
            f"http://127.0.0.1:{port}",
        )
        run_async(full_sync(settings))
        with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
            print(f"demo_app ready in {time.monotonic() - started:.1f}s at {datetime.now(UTC):%H:%M:%S}Z")
            yield DemoApp(url=server.url, emulator=emulator, database_url=services.database_url, settings=settings)

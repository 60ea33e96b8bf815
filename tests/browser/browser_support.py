"""Helpers of the browser and crawler tests, imported by name (the fixtures `browser`, `page`, `demo_app` are in
tests/browser/conftest.py): screenshots, signing in as a person does, and the demo data set — the provider emulators
synced through the REAL sync code (mappings → backfill until complete → incremental).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abacus.emulators.dataset import EmulatorConfig, demo_environment
from abacus.emulators.server import EmulatorServer
from abacus.settings import Settings, load_settings
from tests.support import dev_env

SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
ADMIN = "ada@example.com"
# The demo company: 12 people, 45 days, 900 commits (about one and a half a person a day), no provider lag (real
# clock). Every commit costs the GitHub sync one detail request: the emulators' default 3,000 took 11 of the 25 s the
# sync of this data set takes, for pages that look the same with fewer.
DEMO_CONFIG = EmulatorConfig(users=12, days=45, commits=900, lag=False)
MAX_BACKFILL_STEPS = 40  # per provider; the 45-day demo history needs a handful


@dataclass
class DemoApp:
    """The app served over a database of its own, copied from the synced demo data set."""

    url: str
    emulator: EmulatorServer
    database_url: str
    settings: Settings


def demo_settings(database_url: str, redis_url: str, issuer: str, emulator_url: str, base_url: str) -> Settings:
    env = {**dev_env(issuer), **demo_environment(emulator_url)}
    return load_settings(env).with_services(database_url, redis_url).replace(base_url=base_url)


async def sync_call(settings: Settings, call: Any, *args: Any, now: Any = None) -> Any:
    """Run one `abacus.providers.runner` function with a fresh engine and a fast-retry SyncContext."""
    from abacus.db import create_engine, session_factory
    from abacus.sync.context import SyncContext

    engine = create_engine(settings.database.url or "")
    try:
        ctx = SyncContext(settings=settings, sessionmaker=session_factory(engine), backoff_base=0.01)
        if now is not None:
            ctx.now = now
        return await call(ctx, *args)
    finally:
        await engine.dispose()


async def full_sync(settings: Settings) -> None:
    """What a fresh deployment does: identities, the whole history, the forward sync, then teams, for every
    provider."""
    from abacus.db import create_engine, session_factory
    from abacus.providers import registry, runner
    from abacus.sync.context import SyncContext

    engine = create_engine(settings.database.url or "")
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
        for provider in registry.PROVIDERS:
            results = await runner.run_teams(ctx, provider)
            assert all(r.ok for r in results), results
    finally:
        await engine.dispose()


SETTLED = """() => document.readyState === "complete"
    && !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, [hx-trigger="load"]')"""
"""The page has loaded, its lazy fragments (`hx-trigger="load"`, the live strip) have been swapped in, and htmx has
nothing in flight or settling. Cheaper than Playwright's "networkidle", which always waits 500 ms more."""


def settle(page: Any) -> None:
    """Wait until the page is as a person would read it (`SETTLED`)."""
    page.wait_for_function(SETTLED)


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_sign_in(page: Any, base_url: str, email: str = ADMIN) -> None:
    """Sign in the way a person does: sign-in page → identity provider's chooser → back on Abacus."""
    page.goto(f"{base_url}/sign-in")
    page.get_by_role("link", name="Continue with").click()
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")

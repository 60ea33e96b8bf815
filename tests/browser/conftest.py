"""Fixtures of the browser and crawler tests: Playwright (Python) driving the system Chromium, skipped with a reason
when it is missing (CI installs it), and the demo app over data synced from the emulators.

The demo data set is synced ONCE per session into a template database (`demo_template`); each module that uses
`demo_app` gets its own copy (`CREATE DATABASE … TEMPLATE …`, about a second), so a module may write (a sync, "Sync
now") without another module seeing it. Helpers that are not fixtures are in tests/browser/browser_support.py.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from abacus.emulators.server import EmulatorServer
from tests.browser.browser_support import DEMO_CONFIG, DemoApp, demo_settings, full_sync
from tests.support import (
    RUN_ID,
    SHARED_RUN_ID,
    ThreadedServer,
    admin_sql,
    drop_database,
    free_port,
    run_async,
    shared_demo_template,
)

ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        if os.environ.get("ABACUS_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required here (ABACUS_REQUIRE_BROWSER=1) but `chromium` is not on PATH")
        pytest.skip("no Chromium found (install Debian's `chromium` package to run browser tests)")
    return path


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    # Module-scoped: Playwright's sync API owns an event loop while it runs, which async tests cannot share.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture()
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()


@pytest.fixture(scope="session")
def demo_emulator() -> Iterator[EmulatorServer]:
    """The demo company's provider emulators (12 people, 45 days up to today, no provider lag), for the session."""
    with EmulatorServer(DEMO_CONFIG) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def demo_template(services: Any, demo_emulator: EmulatorServer) -> Iterator[str]:
    """A migrated database holding the emulators synced through the real sync code; only ever copied, never served.

    Yields its name. Nothing may stay connected to it (CREATE DATABASE … TEMPLATE needs that). Under pytest-xdist
    the workers share one (named after the controller's SHARED_RUN_ID): the first to need it syncs it while holding
    a file lock, the others wait and copy the same one, and the controller drops it after the last worker is done.
    Every worker's emulator serves the same data (DEMO_CONFIG is seeded), so any worker's copy matches its own.
    """
    shared = os.environ.get(SHARED_RUN_ID)
    if not shared:
        name = f"abacus_test_{RUN_ID}_demo"
        _sync_demo_template(services, demo_emulator, name)
        yield name
        run_async(drop_database(services, name))
        return
    name = shared_demo_template(shared)
    with open(Path(tempfile.gettempdir()) / f"{name}.lock", "a+", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            lock.seek(0)
            if lock.read() != "synced":
                _sync_demo_template(services, demo_emulator, name)
                lock.seek(0)
                lock.truncate()
                lock.write("synced")
                lock.flush()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    yield name


def _sync_demo_template(services: Any, demo_emulator: EmulatorServer, name: str) -> None:
    from abacus import migrate

    started = time.monotonic()
    run_async(admin_sql(services, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'))
    url = services.with_database(name)
    migrate.upgrade(url)
    # The sync needs no sign-in or served app: issuer and base URL are never contacted here.
    settings = demo_settings(
        url, services.redis_url, "http://127.0.0.1:9/oidc", demo_emulator.base_url, "http://127.0.0.1:9"
    )
    run_async(full_sync(settings))
    print(f"demo data synced in {time.monotonic() - started:.1f}s")


@pytest.fixture(scope="module")
def demo_app(
    services: Any, oidc_server: ThreadedServer, demo_emulator: EmulatorServer, demo_template: str
) -> Iterator[DemoApp]:
    """The real app served on loopback over this module's own copy of the synced demo data."""
    from abacus.app import create_app

    started = time.monotonic()
    name = f"{demo_template}_{uuid.uuid4().hex[:6]}"
    run_async(admin_sql(services, f'CREATE DATABASE "{name}" TEMPLATE "{demo_template}"'))
    url = services.with_database(name)
    port = free_port()
    settings = demo_settings(
        url, services.redis_url, f"{oidc_server.url}/oidc", demo_emulator.base_url, f"http://127.0.0.1:{port}"
    )
    try:
        with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
            print(f"demo_app ready in {time.monotonic() - started:.1f}s at {datetime.now(UTC):%H:%M:%S}Z")
            yield DemoApp(url=server.url, emulator=demo_emulator, database_url=url, settings=settings)
    finally:
        run_async(drop_database(services, name))

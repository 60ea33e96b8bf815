"""Session fixtures: real PostgreSQL + Redis (machine's or embedded), a fresh database per run, the OIDC emulator and
the real app served over HTTP.

Every fixture is lazy: importing this file (or running `pytest tests/unit`) contacts no server and starts nothing;
a server is resolved, a database created or an app started only when a test asks for the fixture. Helpers that are
not fixtures are imported by name from tests/support.py.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.support import (
    DEMO_USERS,
    RUN_ID,
    SHARED_RUN_ID,
    ThreadedServer,
    app_settings,
    drop_database,
    free_port,
    run_async,
    shared_demo_template,
    sign_in,
    truncate_tables,
    worker_redis_url,
)

if TYPE_CHECKING:
    from abacus.embedded import BackingServices


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last (and are marked), after every async test has used the event loop."""
    for item in items:
        if "/tests/browser/" in str(item.path):
            item.add_marker(pytest.mark.browser)
    items.sort(key=lambda item: "/tests/browser/" in str(item.path))


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`-n N`) the controller, which outlives every worker, finds or starts the backing services
    once and hands them to the workers as DATABASE_URL / REDIS_URL (workers inherit its environment). Else the
    first worker would own a project-local (embedded) server and stop it at its end while another still runs tests.
    The machine's own servers are only probed here; nothing is started then."""
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", None):
        return
    from abacus.runtime import resolve_runtime_settings
    from abacus.settings import load_settings

    configured = load_settings(web=False, env_files=[])
    runtime = resolve_runtime_settings(configured, database_name="postgres")  # each worker picks its own database
    if runtime.services.embedded:
        os.environ["DATABASE_URL"] = runtime.services.database_url
        os.environ["REDIS_URL"] = runtime.services.redis_url
        config.add_cleanup(runtime.stop)
    os.environ[SHARED_RUN_ID] = RUN_ID  # what the workers share: the demo data template (tests/browser/conftest.py)
    config.add_cleanup(lambda: _drop_shared(runtime.services))


def _drop_shared(services: BackingServices) -> None:
    """After the last xdist worker: the databases and files the workers shared."""
    name = shared_demo_template(RUN_ID)
    run_async(drop_database(services, name))
    (Path(tempfile.gettempdir()) / f"{name}.lock").unlink(missing_ok=True)


@pytest.fixture(scope="session")
def services() -> Iterator[BackingServices]:
    """A freshly created, migrated database on the real server for this test run; dropped afterwards."""
    from abacus import migrate
    from abacus.embedded import ensure_database_exists
    from abacus.runtime import resolve_runtime_settings
    from abacus.settings import load_settings

    name = f"abacus_test_{RUN_ID}"  # RUN_ID differs per process, so each xdist worker has a database of its own
    configured = load_settings(web=False, env_files=[])  # DATABASE_URL, REDIS_URL, ABACUS_EMBEDDED; never a .env
    runtime = resolve_runtime_settings(configured, database_name=name)
    found, stop = runtime.services, runtime.stop
    # Always this run's own database (also when DATABASE_URL names one) and this xdist worker's Redis database.
    resolved = dataclasses.replace(
        found, database_url=found.with_database(name), redis_url=worker_redis_url(found.redis_url)
    )
    run_async(ensure_database_exists(resolved.database_url))
    migrate.upgrade(resolved.database_url)
    os.environ["DATABASE_URL"] = resolved.database_url
    os.environ["REDIS_URL"] = resolved.redis_url
    yield resolved
    run_async(drop_database(resolved, name))
    stop()


@pytest.fixture(scope="session")
def database_url(services: BackingServices) -> str:
    return services.database_url


@pytest.fixture()
def clean_db(database_url: str) -> Iterator[None]:
    """Tests that write rows start from empty tables (truncate, not a shared state)."""
    run_async(truncate_tables(database_url))
    yield


@pytest.fixture(scope="session")
def oidc_server() -> Iterator[ThreadedServer]:
    from litestar import Litestar

    from abacus.emulators.oidc import OIDCState, create_oidc_router

    app = Litestar(route_handlers=[create_oidc_router(OIDCState(demo_users=DEMO_USERS))])
    with ThreadedServer(app, health_path="/oidc/.well-known/openid-configuration") as server:
        yield server


@pytest.fixture(scope="session")
def live_app(services: BackingServices, oidc_server: ThreadedServer) -> Iterator[ThreadedServer]:
    """The real Abacus app over HTTP, signing in against the OIDC emulator."""
    from abacus.app import create_app

    port = free_port()
    settings = app_settings(services, f"{oidc_server.url}/oidc", base_url=f"http://127.0.0.1:{port}")
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        yield server


@pytest.fixture()
def signed_in(live_app: ThreadedServer) -> Iterator[Callable[..., httpx.Client]]:
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

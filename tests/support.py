"""Test plumbing imported by name (fixtures live in the conftest.py files): uvicorn on a free loopback port in a
background thread, a fresh loop per coroutine, the test run's id, database helpers and signing in over HTTP.

Importing this module contacts no server; everything that does is a function called by a fixture or a test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

if TYPE_CHECKING:
    from abacus.embedded import BackingServices
    from abacus.settings import Settings

RUN_ID = uuid.uuid4().hex[:8]  # one per process: each pytest-xdist worker has its own (and so its own databases)
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1"… in a pytest-xdist worker, "" otherwise
# Before anything reads settings: this run's jobs go to a queue of their own. An xdist worker inherits the
# controller's environment (its ABACUS_QUEUE too), so each worker suffixes it with its id.
os.environ.setdefault("ABACUS_QUEUE", f"abacus:test:{RUN_ID}")
if WORKER and not os.environ["ABACUS_QUEUE"].endswith(f":{WORKER}"):
    os.environ["ABACUS_QUEUE"] += f":{WORKER}"
QUEUE = os.environ["ABACUS_QUEUE"]  # app_settings() and the CLI/worker processes tests start use it

SHARED_RUN_ID = "ABACUS_TEST_SHARED_RUN_ID"  # set by the xdist controller for its workers (tests/conftest.py)


def shared_demo_template(shared_id: str) -> str:
    """The demo data template the xdist workers of run `shared_id` share (tests/browser/conftest.py)."""
    return f"abacus_test_{shared_id}_demo"


DEMO_USERS = [("ada@example.com", "Ada Lovelace"), ("grace@example.com", "Grace Hopper")]
TABLES = (
    "usage_records",
    "activity_daily",
    "usage_daily",
    "usage_tool_daily",
    "usage_user_daily",
    "usage_tool_totals_daily",
    "usage_user_tools",
    "usage_tool_weekly_users",
    "usage_user_monthly",
    "usage_person_monthly",
    "usage_user_weekly",
    "usage_person_weekly",
    "identity_mappings",
    "bot_identities",
    "sync_state",
    "commit_attributions",
    "commit_daily",
    "commit_author_daily",
    "commit_authors",
    "commits",
    "repositories",
    "webhook_deliveries",
    "audit_events",
    "seats",
    "team_unmapped_members",
    "team_members",
    "teams",
    "alert_deliveries",
    "alerts",
    "budgets",
    "otel_points",
    "otel_dirty_days",
)


def worker_redis_url(redis_url: str, worker: str = WORKER) -> str:
    """The Redis database of this xdist worker: `redis_url`'s database number + 1 + the worker's number (gw0 → 1
    for a URL on /0), so sessions, rate-limit counters, webhook payloads and queues of two workers never meet
    (the app's key names are fixed). Outside xdist, `redis_url` itself."""
    if not worker:
        return redis_url
    offset = 1 + int(worker.removeprefix("gw"))
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        query = dict(parse_qsl(parts.query))
        query["db"] = str(int(query.get("db") or 0) + offset)
        return urlunsplit(parts._replace(query=urlencode(query)))
    base = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{base + offset}"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThreadedServer:
    def __init__(self, app: Any, *, health_path: str = "/", port: int | None = None) -> None:
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._health_path = health_path
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.server.started:
                try:
                    httpx.get(self.url + self._health_path, timeout=2)
                    return self
                except httpx.HTTPError:
                    pass
            time.sleep(0.05)
        raise RuntimeError(f"server on {self.url} did not start")

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def run_async(coro: Any) -> Any:
    """Run a coroutine to completion in its own thread and loop (safe even while Playwright owns this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


async def admin_sql(services: BackingServices, *statements: str) -> None:
    """Run statements on the server's `postgres` database outside a transaction (CREATE/DROP DATABASE)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(services.with_database("postgres"), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def drop_database(services: BackingServices, name: str) -> None:
    await admin_sql(services, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


TRUNCATE_USED = """
DO $$
DECLARE
    name text;
    used text[] := '{}';
    has_rows boolean;
BEGIN
    FOREACH name IN ARRAY ARRAY[@tables] LOOP
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I)', name) INTO has_rows;
        IF has_rows OR EXISTS (
            SELECT 1 FROM pg_depend d JOIN pg_sequence s ON s.seqrelid = d.objid
            WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid = name::regclass
                AND pg_sequence_last_value(s.seqrelid) IS NOT NULL
        ) THEN
            used := used || name;
        END IF;
    END LOOP;
    IF cardinality(used) > 0 THEN
        EXECUTE 'TRUNCATE ' || array_to_string(used, ', ') || ' RESTART IDENTITY CASCADE';
    END IF;
END $$
""".replace("@tables", ", ".join(f"'{name}'" for name in TABLES))
"""Truncate only the data tables that hold a row or whose identity sequence has moved: TRUNCATE makes new files for
a table and each of its indexes, so emptying all of them cost 200–300 ms before each test that writes, most of
them already empty. The result is the same: every table empty, every identity starting at 1 again."""


async def truncate_tables(database_url: str) -> None:
    """Empty every data table (the schema and alembic's version stay)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(TRUNCATE_USED))
    finally:
        await engine.dispose()


def dev_env(issuer: str) -> dict[str, str]:
    """The variables of a dev app of this test run signing in at `issuer` (example.com people, Ada an admin)."""
    return {
        "ABACUS_ENV": "dev",
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
        "ABACUS_ALLOWED_DOMAINS": "example.com",
        "ABACUS_ADMIN_EMAILS": "ada@example.com",
        "ABACUS_QUEUE": QUEUE,
    }


def app_settings(services: BackingServices, issuer: str, **overrides: Any) -> Settings:
    """Settings of a dev app signing in at `issuer`; `overrides` as `Settings.replace()` takes them."""
    from abacus.settings import load_settings

    settings = load_settings(dev_env(issuer)).with_services(services.database_url, services.redis_url)
    return settings.replace(**overrides)


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


@contextlib.contextmanager
def captured_log_lines() -> Iterator[list[dict[str, Any]]]:
    """Every log line written while the block runs (any logger, any thread), as the production JSON formatter
    renders it, parsed: the list fills as lines are written."""
    import json
    import logging

    from abacus.logging_setup import log_formatter

    lines: list[dict[str, Any]] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(self.format(record)))

    handler = Collect(level=logging.DEBUG)
    handler.setFormatter(log_formatter("production"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield lines
    finally:
        root.removeHandler(handler)

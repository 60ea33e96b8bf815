"""Page-test plumbing shared by the page test modules: the real app in-process (Litestar TestClient) with the clock
fixed at seed.NOW, signed in through the OIDC emulator, over the seed data set written once per module.

Use in a test module with `from tests.integration.pages_fixtures import *  # noqa: F403` (fixtures are found by name),
or import the fixtures one by one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from litestar.testing import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests import seed
from tests.conftest import TABLES, app_settings

__all__ = ["get_ok", "page_app", "page_client", "seeded_module", "sign_in_test_client", "sql_rows", "sql_value"]


def sql_rows(database_url: str, statement: str, **params: Any) -> list[Any]:
    """Run one SQL statement on its own connection (for computing expected values independently of the app)."""

    async def run() -> list[Any]:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(statement), params)).all())
        finally:
            await engine.dispose()

    return asyncio.run(run())


def sql_value(database_url: str, statement: str, **params: Any) -> Any:
    rows = sql_rows(database_url, statement, **params)
    return rows[0][0] if rows else None


def get_ok(client: Any, url: str, **kwargs: Any) -> str:
    """The body of a GET that must answer 200 (else the assertion shows the start of the body)."""
    response = client.get(url, **kwargs)
    assert response.status_code == 200, response.text[:500]
    return response.text


@pytest.fixture(scope="module")
def seeded_module(database_url: str) -> None:
    """Truncate every table and write tests/seed.py once for the whole module (tests must not write rows)."""
    from abacus.db import create_engine, session_factory

    async def run() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        async with session_factory(engine)() as db, db.begin():
            await seed.seed(db)
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="module")
def page_app(services: Any, oidc_server: Any) -> Any:
    """The real app with `app.state.now` fixed at seed.NOW (today = seed.TODAY)."""
    from abacus.app import create_app

    app = create_app(app_settings(services, f"{oidc_server.url}/oidc"))
    app.state.now = lambda: seed.NOW
    return app


def sign_in_test_client(client: TestClient, email: str) -> None:
    """/auth/login on the app → the emulator over HTTP → /auth/callback on the app; leaves the session cookie set."""
    login = client.get("/auth/login", params={"login_hint": email}, follow_redirects=False)
    assert login.status_code == 302, login.text
    back = httpx.get(login.headers["location"], follow_redirects=False, timeout=20)
    assert back.status_code == 302, back.text
    parts = urlsplit(back.headers["location"])
    done = client.get(f"{parts.path}?{parts.query}", follow_redirects=False)
    assert done.status_code == 303, done.text


@pytest.fixture(scope="module")
def page_client(page_app: Any, seeded_module: None) -> Iterator[TestClient]:
    """A TestClient signed in as ada@example.com (admin) over the seeded data."""
    with TestClient(page_app, base_url="http://testserver.local") as client:
        sign_in_test_client(client, "ada@example.com")
        yield client

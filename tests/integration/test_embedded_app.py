"""ABACUS_EMBEDDED=1: migrations run and a signed-in Overview renders on the project-local PostgreSQL 18 + Valkey."""

import uuid

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from abacus import migrate
from abacus.app import create_app
from abacus.embedded import ensure_database_exists, resolve_backing_services
from abacus.migrate import HEAD_REVISION
from tests.support import ThreadedServer, app_settings, drop_database, free_port, run_async, sign_in


@pytest.fixture(scope="module")
def embedded_services():
    name = f"abacus_embedded_{uuid.uuid4().hex[:8]}"
    services, stop = resolve_backing_services(force_embedded=True, database_name=name)
    run_async(ensure_database_exists(services.database_url))
    yield services
    run_async(drop_database(services, name))
    stop()


async def _version(url):
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version()"))).scalar_one()
    await engine.dispose()
    return version


def test_signed_in_overview_on_embedded_servers(embedded_services, oidc_server):
    services = embedded_services
    assert services.embedded
    assert "PostgreSQL 18" in run_async(_version(services.database_url))
    assert "valkey_version" in Redis.from_url(services.redis_url).info("server")
    migrate.upgrade(services.database_url)
    assert migrate.current_revision(services.database_url) == HEAD_REVISION

    port = free_port()
    settings = app_settings(services, f"{oidc_server.url}/oidc", base_url=f"http://127.0.0.1:{port}")
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        client = sign_in(server.url, "ada@example.com")
        assert client.last_response.status_code == 303
        page = client.get("/")
        assert page.status_code == 200
        assert "ada@example.com" in page.text and "Overview" in page.text

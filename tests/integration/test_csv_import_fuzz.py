"""Generated Cursor CSV files through the real store path and the real upload form (bounded; ×25 with
ABACUS_FUZZ_LONG=1): never a 500, never a partial write (a refused file leaves every table as it was, an accepted
one adds exactly the rows it reports as new and keeps the rollups exact), every error names its line."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from abacus.providers.cursor_csv import CsvImportError, import_cursor_csv
from abacus.rollups import rollup_mismatches
from tests import dom
from tests.csv_fuzz import ERROR_LINE, csv_files, fuzz_examples

FINGERPRINT = text(
    "SELECT (SELECT COUNT(*) FROM usage_records), "
    "(SELECT COALESCE(SUM(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens), 0) "
    "FROM usage_records), (SELECT COALESCE(SUM(cost), 0) FROM usage_records), "
    "(SELECT COALESCE(SUM(total_tokens), 0) FROM usage_daily)"
)


@pytest.fixture()
def loop_and_engine(clean_db: None, database_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, AsyncEngine]]:
    loop = asyncio.new_event_loop()
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield loop, engine
    loop.run_until_complete(engine.dispose())
    loop.close()


async def fingerprint(sessionmaker: async_sessionmaker[Any]) -> tuple[Any, ...]:
    async with sessionmaker() as db:
        return tuple((await db.execute(FINGERPRINT)).one())


@settings(max_examples=fuzz_examples(40), deadline=None, suppress_health_check=list(HealthCheck))
@given(generated=csv_files())
def test_generated_files_through_the_store_are_all_or_nothing(loop_and_engine, generated):
    loop, engine = loop_and_engine
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    data, _, _ = generated

    async def run() -> None:
        before = await fingerprint(sessionmaker)
        try:
            result = await import_cursor_csv(sessionmaker, data, organization_id="cursor:core")
        except CsvImportError as exc:
            assert exc.errors and all(ERROR_LINE.match(e) for e in exc.errors), exc.errors
            assert await fingerprint(sessionmaker) == before, "a refused file wrote something"
            return
        after = await fingerprint(sessionmaker)
        assert after[0] - before[0] == result.new
        async with sessionmaker() as db:
            assert await rollup_mismatches(db) == 0

    loop.run_until_complete(run())


@settings(max_examples=fuzz_examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(generated=csv_files())
def test_generated_files_through_the_upload_form_never_500(signed_in, database_url, generated):
    data, _, _ = generated
    client: httpx.Client = upload_client(signed_in)
    before = count(database_url)
    response = client.post(
        "/mappings/import",
        files={"file": ("fuzz.csv", data, "text/csv")},
        data={"_csrf_token": client.cookies.get("abacus_csrf") or ""},
        headers={"HX-Request": "true", "HX-Target": "mapping-tables"},
    )
    assert response.status_code == 200, response.text[:300]
    page = dom.text(dom.parse(response.text)) if response.text.strip() else ""
    if "was not imported" in page:
        assert count(database_url) == before
        listed = [dom.text(li) for li in dom.parse(response.text).cssselect(".error-list li")]
        assert listed and all(ERROR_LINE.match(e) for e in listed), listed
    else:
        assert "Imported fuzz.csv: " in page


_clients: dict[int, httpx.Client] = {}


def upload_client(signed_in: Any) -> httpx.Client:
    """One signed-in admin per test function (hypothesis calls the body many times with the same fixtures)."""
    key = id(signed_in)
    if key not in _clients:
        _clients.clear()
        client = signed_in("ada@example.com")
        client.get("/mappings")
        _clients[key] = client
    return _clients[key]


def count(database_url: str) -> int:
    from tests.integration.pages_support import sql_value

    return int(sql_value(database_url, "SELECT COUNT(*) FROM usage_records"))

"""The page cache never shows old figures: every write of page data — a sync store, a mapping change, a TRUNCATE —
moves the data version in the writer's transaction, so the next request computes afresh; a transaction that has
written never fills the cache; every table is either versioned or named as read by no cached page."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from litestar.testing import TestClient
from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from abacus.db import create_engine, session_factory
from abacus.queries import cache
from abacus.queries.lifetime import lifetime_stats
from abacus.records import UsageRow
from abacus.services.mappings import set_mapping
from abacus.sync.usage_store import store_usage
from tests import dom
from tests.integration.pages_support import card_value_title, sign_in_test_client, stat_card, store_usage_rows
from tests.support import app_settings, run_async, truncate_tables

DAY = date(2026, 3, 4)
UNVERSIONED = {
    "alembic_version": "migration bookkeeping",
    "data_version": "the version itself",
    "sync_state": "the Status page's sync cursors are read uncached",
    "webhook_deliveries": "delivery log, read by no page",
    "audit_events": "the audit log is read uncached",
    "otel_points": "read uncached (live figures); pages see OTel through the rebuild job's usage rows",
    "otel_dirty_days": "the OTel rebuild job's bookkeeping",
}
"""Tables no cached query reads; every other table must carry the data version triggers."""

TRIGGERS = (
    "bump_data_version",
    "bump_data_version_lock",
    "bump_data_version_insert",
    "bump_data_version_update",
    "bump_data_version_delete",
)
"""What migration 0024 puts on each versioned table (TRUNCATE, the lock, a bump after each changing statement)."""


def usage(identity: str, tokens: int, record: str) -> UsageRow:
    return UsageRow(
        date=DAY,
        identity=identity,
        tool="cursor",
        model="gpt-5",
        raw_model="gpt-5",
        input_tokens=tokens,
        cost=Decimal("0.50"),
        tool_record_id=record,
        organization_id="cursor:default",
    )


async def _map(database_url: str, external_id: str, email: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as db, db.begin():
            await set_mapping(db, "cursor", external_id, email, updated_by="test")
    finally:
        await engine.dispose()


@pytest.fixture()
def client(services: Any, oidc_server: Any, database_url: str, clean_db: None) -> Iterator[TestClient]:
    from abacus.app import create_app

    run_async(_forget_live_sample(services.redis_url, database_url))
    app = create_app(app_settings(services, f"{oidc_server.url}/oidc"))
    with TestClient(app, base_url="http://testserver.local") as test_client:
        sign_in_test_client(test_client, "ada@example.com")
        yield test_client


async def _forget_live_sample(redis_url: str, database_url: str) -> None:
    """The live sample is filed per database epoch, which outlives a test: one filed by an earlier test of this
    worker would expire at a moment this test does not choose, and move the live version tests count on."""
    engine = create_engine(database_url)
    redis = Redis.from_url(redis_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(cache.VERSION_SQL)).first()
        if row is not None:
            await redis.delete(f"{cache.KEY_PREFIX}:{row.epoch}:live-sample")
    finally:
        await redis.aclose()
        await engine.dispose()


def _lifetime(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/v1/stats/lifetime")
    assert response.status_code == 200, response.text
    return dict(response.json())


def _users(client: TestClient) -> dict[str, int]:
    response = client.get("/api/v1/users", params={"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert response.status_code == 200, response.text
    return {u["email"]: u["total_tokens"] for u in response.json()}


def _page_cache(client: TestClient) -> cache.PageCache:
    found = cache.cache_of(client.app.state.engine)
    assert found is not None, "the app attaches a page cache by default"
    return found


def test_sync_mapping_and_truncate_show_at_once(client: TestClient, database_url: str) -> None:
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _lifetime(client)["total_tokens"] == 100
    hits = _page_cache(client).hits
    assert _lifetime(client)["total_tokens"] == 100
    assert _page_cache(client).hits == hits + 1, "the second request is served from the cache"

    store_usage_rows(database_url, usage("cursor:ada@example.com", 40, "a2"))  # the sync store path
    assert _lifetime(client)["total_tokens"] == 140

    store_usage_rows(database_url, usage("cursor:bob-laptop", 7, "b1"))  # not an email: unmapped
    assert _users(client) == {"ada@example.com": 140}
    assert _users(client) == {"ada@example.com": 140}  # cached
    run_async(_map(database_url, "bob-laptop", "bob@example.com"))
    assert _users(client) == {"ada@example.com": 140, "bob@example.com": 7}
    assert _lifetime(client)["total_users"] == 2

    run_async(truncate_tables(database_url))  # what tests do between cases: TRUNCATE moves the version too
    assert _lifetime(client)["total_tokens"] == 0
    assert _users(client) == {}


async def _versions(database_url: str) -> tuple[int, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            row = (await conn.execute(text("SELECT version, live_version FROM data_version"))).one()
            return int(row.version), int(row.live_version)
    finally:
        await engine.dispose()


def test_a_write_that_changes_no_row_keeps_every_cached_page(client: TestClient, database_url: str) -> None:
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _lifetime(client)["total_tokens"] == 100
    before = run_async(_versions(database_url))
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))  # a sync re-reading the same day
    run_async(_sql(database_url, "DELETE FROM usage_records WHERE tool_record_id = 'no-such-record'"))
    run_async(_sql(database_url, "UPDATE identity_mappings SET email = email WHERE false"))
    assert run_async(_versions(database_url)) == before, "nothing changed: the version stays"
    hits = _page_cache(client).hits
    assert _lifetime(client)["total_tokens"] == 100
    assert _page_cache(client).hits == hits + 1

    store_usage_rows(database_url, usage("cursor:ada@example.com", 120, "a1"))  # the provider corrected the day
    assert run_async(_versions(database_url))[0] == before[0] + 1, "one changing transaction: one step"
    assert _lifetime(client)["total_tokens"] == 120
    run_async(_sql(database_url, "DELETE FROM usage_records WHERE tool_record_id = 'a1'"))
    assert run_async(_versions(database_url))[0] == before[0] + 2


def test_live_telemetry_shows_within_the_refresh_window_and_never_hides_a_sync(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _lifetime(client)["total_tokens"] == 100
    monkeypatch.setattr(cache, "LIVE_REFRESH_SECONDS", 3600.0)
    before = run_async(_versions(database_url))
    store_usage_rows(database_url, usage("cursor:ada@example.com", 5, "live-1"), live=True)
    after = run_async(_versions(database_url))
    assert after == (before[0], before[1] + 1), "a live write moves the live version only"
    assert _lifetime(client)["total_tokens"] == 100, "within the window: the cached figure"

    store_usage_rows(database_url, usage("cursor:ada@example.com", 40, "a2"))  # a sync shows at once
    assert _lifetime(client)["total_tokens"] == 145, "with the live rows written before it"

    store_usage_rows(database_url, usage("cursor:ada@example.com", 5, "live-2"), live=True)
    assert _lifetime(client)["total_tokens"] == 145
    monkeypatch.setattr(cache, "LIVE_REFRESH_SECONDS", 0.0)  # the window has passed
    stale = _page_cache(client).stale
    assert _lifetime(client)["total_tokens"] == 145, "stale by live telemetry only: answered at once..."
    assert _page_cache(client).stale == stale + 1
    deadline = time.monotonic() + 20
    while (tokens := _lifetime(client)["total_tokens"]) != 150 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert tokens == 150, "...while it is recomputed in the background"
    assert not _page_cache(client).refreshing


def test_a_stale_entry_is_recomputed_once_and_a_sync_is_never_served_stale(
    client: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache, "LIVE_REFRESH_SECONDS", 0.0)  # every live write shows as soon as it is recomputed
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _lifetime(client)["total_tokens"] == 100
    store_usage_rows(database_url, usage("cursor:ada@example.com", 5, "live-1"), live=True)
    page_cache = _page_cache(client)
    misses, stale = page_cache.misses, page_cache.stale
    seen = {_lifetime(client)["total_tokens"] for _ in range(5)}  # a burst: old or new, never a third figure
    assert seen <= {100, 105}
    assert page_cache.misses == misses, "nobody waits for the database: stale entries answer"
    deadline = time.monotonic() + 20
    while _lifetime(client)["total_tokens"] != 105 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert page_cache.stale - stale >= 1 and not page_cache.refreshing

    store_usage_rows(database_url, usage("cursor:ada@example.com", 5, "live-2"), live=True)
    store_usage_rows(database_url, usage("cursor:ada@example.com", 40, "a2"))  # a sync after it: a new data version
    stale = page_cache.stale
    assert _lifetime(client)["total_tokens"] == 150, "a sync's rows are never served from an older entry"
    assert page_cache.stale == stale


def test_a_csv_import_shows_at_once(client: TestClient, database_url: str) -> None:
    from abacus.providers.cursor_csv import REQUIRED_COLUMNS, import_cursor_csv

    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _lifetime(client)["total_tokens"] == 100
    assert _lifetime(client)["total_tokens"] == 100  # cached
    row = {
        "Date": f"{DAY.isoformat()}T10:00:00.000Z",
        "User": "ada@example.com",
        "Kind": "Included in Business",
        "Model": "gpt-5",
        "Max Mode": "No",
        "Input (w/ Cache Write)": "0",
        "Input (w/o Cache Write)": "50",
        "Cache Read": "0",
        "Output Tokens": "0",
        "Total Tokens": "50",
        "Cost": "$0.10",
    }
    data = (",".join(REQUIRED_COLUMNS) + "\n" + ",".join(row[c] for c in REQUIRED_COLUMNS) + "\n").encode()

    async def run() -> None:
        engine = create_engine(database_url)
        try:
            await import_cursor_csv(session_factory(engine), data, organization_id="cursor:default")
        finally:
            await engine.dispose()

    run_async(run())
    assert _lifetime(client)["total_tokens"] == 150


def _overview_tokens(client: TestClient) -> str:
    response = client.get("/", params={"start": DAY.isoformat(), "end": DAY.isoformat()})
    assert response.status_code == 200, response.text
    return card_value_title(stat_card(dom.parse(response.text), "Total Tokens"))[0]


def test_the_overview_body_is_rendered_again_after_a_sync(client: TestClient, database_url: str) -> None:
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    assert _overview_tokens(client) == "100"
    assert _overview_tokens(client) == "100"  # the rendered body of this worker
    store_usage_rows(database_url, usage("cursor:ada@example.com", 40, "a2"))
    assert _overview_tokens(client) == "140"
    run_async(_map(database_url, "ada@example.com", "ada@example.com"))  # a mapping write alone moves it too
    run_async(truncate_tables(database_url))
    empty = client.get("/", params={"start": DAY.isoformat(), "end": DAY.isoformat()}).text
    assert "No usage data yet" in empty and "140" not in empty


def _without_tip(html: str) -> str:
    return "\n".join(line for line in html.splitlines() if 'class="tipbar"' not in line)


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/", "pages/dashboard.html"),
        ("/?range=7d&trend=0", "pages/dashboard.html"),
        (f"/?start={DAY.isoformat()}&end={DAY.isoformat()}", "pages/dashboard.html"),
        ("/team", "pages/team.html"),
        ("/team?sort=cursorTokens&dir=asc&cols=email,totalTokens,daysActive", "pages/team.html"),
        (f"/team?search=ada&start={DAY.isoformat()}&end={DAY.isoformat()}", "pages/team.html"),
        ("/usage", "pages/usage.html"),
        ("/usage?view=tools&trend=0", "pages/usage.html"),
        (f"/usage?view=tools&start={DAY.isoformat()}&end={DAY.isoformat()}", "pages/usage.html"),
    ],
)
def test_a_rendered_body_makes_the_same_page(client: TestClient, database_url: str, path: str, template: str) -> None:
    """The second request takes the body rendered by the first and renders only the shell: the same HTML (but for
    the random tip)."""
    store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
    first, second = client.get(path), client.get(path)
    assert first.status_code == second.status_code == 200
    assert any(name == template for name, _ in client.app.state.rendered_bodies.items)
    assert _without_tip(first.text) == _without_tip(second.text)


async def _sql(database_url: str, statement: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


def test_without_a_version_row_nothing_is_cached(client: TestClient, database_url: str) -> None:
    run_async(_sql(database_url, "DELETE FROM data_version"))
    try:
        store_usage_rows(database_url, usage("cursor:ada@example.com", 100, "a1"))
        assert _lifetime(client)["total_tokens"] == 100
        store_usage_rows(database_url, usage("cursor:ada@example.com", 40, "a2"))
        assert _lifetime(client)["total_tokens"] == 140
        assert _overview_tokens(client) == "140"
    finally:  # a new epoch: entries cached before the row went away are never read again
        run_async(_sql(database_url, "INSERT INTO data_version (id) VALUES (1) ON CONFLICT DO NOTHING"))


def test_a_transaction_that_wrote_never_fills_the_cache(services: Any, database_url: str, clean_db: None) -> None:
    async def run() -> tuple[int, int, int]:
        engine = create_engine(database_url)
        redis = Redis.from_url(services.redis_url)
        cache.attach(engine, redis, 60)
        sessionmaker = session_factory(engine)
        try:
            async with sessionmaker() as db:
                before = (await lifetime_stats(db)).tokens
            async with sessionmaker() as db:
                await db.begin()
                await store_usage(db, [usage("cursor:ada@example.com", 500, "r1")])
                inside = (await lifetime_stats(db)).tokens  # its own uncommitted rows
                await db.rollback()
            async with sessionmaker() as db:
                after = (await lifetime_stats(db)).tokens
            return before, inside, after
        finally:
            cache.detach(engine)
            await redis.aclose()
            await engine.dispose()

    assert run_async(run()) == (0, 500, 0)


def test_every_table_is_versioned_or_named_unread(database_url: str) -> None:
    async def tables() -> tuple[set[str], set[str]]:
        engine = create_engine(database_url)
        try:
            async with engine.connect() as conn:
                every = {
                    r[0]
                    for r in await conn.execute(
                        text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                    )
                }
                versioned = {
                    r[0]
                    for r in await conn.execute(
                        text(
                            "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                            "WHERE t.tgname = ANY(:names) GROUP BY c.relname HAVING count(*) = :n"
                        ),
                        {"names": list(TRIGGERS), "n": len(TRIGGERS)},
                    )
                }
                return every, versioned
        finally:
            await engine.dispose()

    every, versioned = run_async(tables())
    missing = every - versioned - set(UNVERSIONED)
    assert not missing, (
        f"tables without the data version triggers: {sorted(missing)} — a cached page reading them would show "
        "old figures; add the triggers in their migration (see 0024_data_version_on_change.py) or name them in "
        "UNVERSIONED"
    )
    assert not versioned & set(UNVERSIONED)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (((date(2026, 1, 1),), {}), ((date(2026, 1, 2),), {})),
        (((1, "x"), {}), ((1, "y"), {})),
        ((("a",), {"page": 1}), (("a",), {"page": 2})),
        (((), {"limit": 50, "offset": 0}), ((), {"limit": 50, "offset": 50})),
    ],
)
def test_other_arguments_other_keys(first: Any, second: Any) -> None:
    version = ("epoch", 3, 7)
    assert cache._key("f", version, *first) != cache._key("f", version, *second)
    assert cache._key("f", version, *first) == cache._key("f", version, *first)
    assert cache._key("f", version, *first) != cache._key("f", ("epoch", 4, 7), *first)
    assert cache._key("f", version, *first) == cache._key("f", ("epoch", 3, 8), *first), "live version: in the entry"
    assert cache._key("f", version, *first) != cache._key("g", version, *first)


def test_two_processes_compute_a_missing_entry_once(services: Any, database_url: str, clean_db: None) -> None:
    """Two engines with a cache each, as two web workers have: a burst on a missing entry computes it once."""
    calls: list[str] = []

    @cache.cached
    async def slow_count(db: AsyncSession, label: str) -> int:
        calls.append(label)
        await asyncio.sleep(0.3)
        return int((await db.execute(text("SELECT count(*) FROM usage_records"))).scalar_one())

    async def burst() -> tuple[list[int], list[int]]:
        engines = [create_engine(database_url) for _ in range(2)]
        redis = Redis.from_url(services.redis_url)
        caches = [cache.attach(engine, redis, 60) for engine in engines]
        label = uuid.uuid4().hex

        async def read(engine: AsyncEngine) -> int:
            async with session_factory(engine)() as db:
                return await slow_count(db, label)

        try:
            results = await asyncio.gather(*(read(engine) for engine in engines for _ in range(3)))
            return results, [c.joined for c in caches if c is not None]
        finally:
            for engine in engines:
                cache.detach(engine)
                await engine.dispose()
            await redis.aclose()

    results, joined = run_async(burst())
    assert results == [0] * 6
    assert len(calls) == 1, calls
    assert sorted(joined) == [0, 1], "the other process waited for the first one's result"


def test_a_copy_of_the_database_never_answers_from_the_originals_entries(services: Any, database_url: str) -> None:
    """`CREATE DATABASE … TEMPLATE` copies the epoch and the version numbers: two copies that each wrote once stand
    at the same (epoch, version), and with one Redis the second must not be served the first one's figures."""
    from abacus import migrate
    from tests.support import admin_sql, drop_database

    original, copy = f"abacus_cache_original_{uuid.uuid4().hex[:6]}", f"abacus_cache_copy_{uuid.uuid4().hex[:6]}"

    async def lifetime_tokens(url: str, redis: Redis) -> int:
        engine = create_engine(url)
        cache.attach(engine, redis, 60)
        try:
            async with session_factory(engine)() as db:
                return (await lifetime_stats(db)).tokens
        finally:
            await engine.dispose()

    async def run() -> tuple[int, int]:
        redis = Redis.from_url(services.redis_url)
        try:
            assert await lifetime_tokens(services.with_database(original), redis) == 100
            return (
                await lifetime_tokens(services.with_database(copy), redis),
                await lifetime_tokens(services.with_database(original), redis),
            )
        finally:
            await redis.aclose()

    run_async(admin_sql(services, f'CREATE DATABASE "{original}"'))
    try:
        migrate.upgrade(services.with_database(original))
        run_async(admin_sql(services, f'CREATE DATABASE "{copy}" TEMPLATE "{original}"'))
        store_usage_rows(services.with_database(original), usage("cursor:ada@example.com", 100, "a1"))
        store_usage_rows(services.with_database(copy), usage("cursor:ada@example.com", 40, "a1"))
        assert run_async(run()) == (40, 100)
    finally:
        run_async(drop_database(services, copy))
        run_async(drop_database(services, original))

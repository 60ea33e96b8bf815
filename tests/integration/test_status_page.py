"""Status page: provider cards from sync_state, attention cards, live panel fragment, admin "sync now"."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
from redis import Redis
from sqlalchemy import text

from abacus.app import create_app
from abacus.providers import registry
from abacus.queries.status import KeyStatus, ProviderStatus, _key_status, backfill_status, sync_status
from abacus.settings import AnthropicSettings, CursorSettings, ProviderKey, Settings
from tests.support import QUEUE, ThreadedServer, app_settings, free_port, run_async, sign_in

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("provider", "success_ago", "error_ago", "expected"),
    [
        ("anthropic", None, None, "never_synced"),
        ("anthropic", timedelta(hours=11), None, "up_to_date"),
        ("anthropic", timedelta(hours=13), None, "behind"),
        ("cursor", timedelta(hours=1, minutes=59), None, "up_to_date"),
        ("cursor", timedelta(hours=3), None, "behind"),
        ("cursor", timedelta(hours=1), timedelta(minutes=5), "failing"),
        ("cursor", timedelta(minutes=5), timedelta(hours=1), "up_to_date"),
        ("cursor", None, timedelta(hours=1), "failing"),
    ],
)
def test_sync_status_rule(provider, success_ago, error_ago, expected):
    success = NOW - success_ago if success_ago else None
    error = NOW - error_ago if error_ago else None
    assert sync_status(registry.get(provider).fresh_within, success, error, NOW) == expected


@pytest.mark.parametrize(
    ("oldest", "complete", "expected"),
    [(None, False, "not_started"), (NOW.date(), False, "in_progress"), (NOW.date(), True, "complete")],
)
def test_backfill_status_rule(oldest, complete, expected):
    assert backfill_status(oldest, complete) == expected


@pytest.mark.parametrize(
    ("keys", "expected"),
    [(("complete", "none"), "complete"), (("complete", "in_progress", "none"), "in_progress"),
     (("none",), "not_started"), (("not_started", "not_started"), "not_started"), ((), "not_started")],
)  # fmt: skip
def test_a_seat_list_has_no_backfill_and_never_holds_a_provider_in_progress(keys, expected):
    rows = [KeyStatus(f"k{i}", f"k{i}", "up_to_date", None, None, None, None, 0, status, None)
            for i, status in enumerate(keys)]  # fmt: skip
    assert ProviderStatus("cursor", "Cursor", True, rows, None).backfill_status == expected


def test_the_cursor_card_is_synced_to_its_usage_hour_not_its_activity_day():
    """The daily-activity state marks the first hour of its last day read and a seat list keeps no mark: neither holds
    the card's "last synced" at midnight (nor at "never"); their rows show their last success."""
    cursor = registry.get("cursor")
    settings = Settings(cursor=CursorSettings(keys=(ProviderKey("core", "key_x"),)))
    usage_hour = NOW.replace(minute=0) - timedelta(hours=1)
    states = {
        "cursor:core": SimpleNamespace(
            last_success_at=NOW - timedelta(minutes=3), last_error_at=None, last_error=None, records_last_run=9,
            backfill_oldest_date=None, backfill_complete=False, last_synced_hour_end=usage_hour,
        ),
        "cursor-activity:core": SimpleNamespace(
            last_success_at=NOW - timedelta(minutes=2), last_error_at=None, last_error=None, records_last_run=4,
            backfill_oldest_date=None, backfill_complete=False, last_synced_hour_end=NOW.replace(hour=0),
        ),
        "cursor-seats:core": SimpleNamespace(
            last_success_at=NOW - timedelta(minutes=1), last_error_at=None, last_error=None, records_last_run=40,
            backfill_oldest_date=None, backfill_complete=False, last_synced_hour_end=None,
        ),
    }  # fmt: skip
    rows = cursor.rows_for_status(settings, states)
    assert [row.state_id for row in rows] == list(states)
    keys = [
        _key_status(cursor, r.state_id, r.label, states[r.state_id], NOW, backfills=r.backfills, hourly=r.hourly)
        for r in rows
    ]
    assert [k.last_synced for k in keys] == [usage_hour, NOW - timedelta(minutes=2), NOW - timedelta(minutes=1)]
    assert ProviderStatus("cursor", "Cursor", True, keys, None).last_synced == usage_hour


@pytest.fixture(scope="module")
def configured_app(services, oidc_server):
    port = free_port()
    settings = app_settings(
        services,
        f"{oidc_server.url}/oidc",
        base_url=f"http://127.0.0.1:{port}",
        anthropic=AnthropicSettings(keys=(ProviderKey("acme", "sk-ant-admin01-x"),)),
        cursor=CursorSettings(keys=(ProviderKey("core", "key_x"),)),
    )
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        yield server


async def _state(database_url, **rows):
    from abacus.db import create_engine

    engine = create_engine(database_url)
    async with engine.begin() as conn:
        for state_id, values in rows.items():
            await conn.execute(
                text(
                    "INSERT INTO sync_state (id, last_success_at, last_error, last_error_at, backfill_oldest_date, "
                    "backfill_complete, records_last_run, last_synced_hour_end) VALUES (:id, :s, :e, :ea, :o, :c, :r,"
                    " :h)"
                ),
                {"id": state_id, **values},
            )
    await engine.dispose()


def test_status_page_shows_each_key_and_errors(configured_app, seeded, database_url):
    now = datetime.now(UTC)
    run_async(
        _state(
            database_url,
            **{
                "anthropic:acme": {
                    "s": now - timedelta(hours=1),
                    "e": None,
                    "ea": None,
                    "o": None,
                    "c": True,
                    "r": 42,
                    "h": None,
                },
                "cursor:core": {
                    "s": now - timedelta(hours=5),
                    "e": "cursor core (key core): HTTP 500 after 3 tries",
                    "ea": now - timedelta(minutes=1),
                    "o": now.date(),
                    "c": False,
                    "r": 0,
                    "h": now - timedelta(hours=5),
                },
            },
        )
    )
    client = sign_in(configured_app.url, "grace@example.com")
    page = client.get("/status")
    assert page.status_code == 200
    body = page.text
    assert "Claude Code" in body and "Cursor" in body
    assert "Up to date" in body and "Failing" in body
    assert "HTTP 500 after 3 tries" in body
    assert "Unattributed Usage" in body and "claude_code:ci-deploy-key" in body
    assert "Sync now" not in body  # grace is not an admin
    # "Records" says what it counts: the key's last run (a key with 0 there may hold plenty from earlier runs)
    assert body.count('<th class="num">Records (last run)<a class="info" href="/definitions#records"') == 2
    fragment = client.get("/status", headers={"HX-Request": "true", "HX-Target": "status-panel"})
    assert fragment.text.lstrip().startswith('<div id="status-panel"')
    assert "<html" not in fragment.text


def test_sync_now_enqueues_for_admins_only(configured_app, services):
    redis = Redis.from_url(services.redis_url)
    before = redis.zcard(QUEUE)
    grace = sign_in(configured_app.url, "grace@example.com")
    grace.get("/status")
    token = grace.cookies.get("abacus_csrf")
    refused = grace.post("/status/sync", data={"provider": "cursor", "kind": "sync", "_csrf_token": token})
    assert refused.status_code == 403
    ada = sign_in(configured_app.url, "ada@example.com")
    ada.get("/status")
    token = ada.cookies.get("abacus_csrf")
    assert ada.post("/status/sync", data={"provider": "cursor", "kind": "sync"}).status_code == 403  # no CSRF
    queued = ada.post(
        "/status/sync",
        data={"provider": "cursor", "kind": "sync", "_csrf_token": token},
        headers={"HX-Request": "true", "HX-Target": "status-panel"},
    )
    assert queued.status_code == 200
    assert "Queued sync cursor" in queued.text
    assert redis.zcard(QUEUE) == before + 1
    bad = ada.post("/status/sync", data={"provider": "github", "kind": "sync", "_csrf_token": token})
    assert bad.status_code == 400 and "provider" in bad.text
    redis.delete(QUEUE)


def test_status_without_providers_says_how_to_enable(live_app, signed_in, clean_db):
    body = signed_in("grace@example.com").get("/status").text
    assert "Set ANTHROPIC_ADMIN_KEY or CURSOR_ADMIN_KEY to enable tracking" in body
    assert httpx.get(f"{live_app.url}/status").status_code == 303


def test_running_jobs_are_the_registered_jobs_whose_lock_is_held(services):
    from redis.asyncio import Redis as AsyncRedis

    from abacus.queries.status import worker_status
    from abacus.queue_keys import lock_prefix

    queue = f"{QUEUE}:running"
    names = [job.name for _, job in registry.all_jobs()]
    raw = Redis.from_url(services.redis_url)
    try:
        raw.set(f"{lock_prefix(queue)}{names[0]}", "token", ex=30)
        raw.set(f"{lock_prefix(queue)}not_a_job", "token", ex=30)
        raw.set(f"{lock_prefix(queue + ':other')}{names[1]}", "token", ex=30)  # another queue's lock

        async def read():
            redis = AsyncRedis.from_url(services.redis_url)
            try:
                return await worker_status(redis, queue)
            finally:
                await redis.aclose()

        assert run_async(read()).running == [names[0]]
    finally:
        raw.delete(f"{lock_prefix(queue)}{names[0]}", f"{lock_prefix(queue)}not_a_job")
        raw.delete(f"{lock_prefix(queue + ':other')}{names[1]}")
        raw.close()

"""Audit log: every admin change (web and CLI) writes exactly one audit_events row in its own transaction, with the
right actor, before and after; a refused or failed change writes none; /status and `abacus audit list` show them."""

from __future__ import annotations

import json

import pytest
from redis import Redis
from sqlalchemy import text
from typer.testing import CliRunner

from abacus.cli import app as cli
from abacus.db import create_engine, session_factory
from abacus.services.audit import cli_actor
from tests import dom
from tests.integration.pages_support import laptop_key_usage, store_usage_rows
from tests.support import QUEUE, run_async, sign_in


def _events(database_url: str) -> list[dict]:
    async def run() -> list[dict]:
        engine = create_engine(database_url)
        async with engine.connect() as conn:
            rows = await conn.execute(
                text("SELECT actor, action, target, before, after, request_id FROM audit_events ORDER BY id")
            )
            found = [dict(r._mapping) for r in rows]
        await engine.dispose()
        return found

    return run_async(run())


def _execute(database_url: str, sql: str) -> None:
    async def run() -> None:
        engine = create_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(text(sql))
        await engine.dispose()

    run_async(run())


def _csrf(client, page: str = "/mappings") -> str:
    client.get(page)
    return client.cookies.get("abacus_csrf")


def _cli(database_url: str, *args: str):
    env = {"DATABASE_URL": database_url, "ABACUS_ENV": "dev"}
    return CliRunner().invoke(cli, list(args), env=env)


def test_web_mapping_set_change_and_delete_each_write_one_event(signed_in, seeded, database_url):
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    form = {"source": "claude_code", "external_id": "CI-Deploy-Key", "_csrf_token": token}
    assert ada.post("/mappings", data={**form, "email": "Ken@Example.com"}).status_code in (200, 303)
    events = _events(database_url)
    assert len(events) == 1
    first = events[0]
    assert (first["actor"], first["action"], first["target"]) == (
        "ada@example.com",
        "mapping.set",
        "claude_code:ci-deploy-key",
    )
    assert first["before"] == {"email": None} and first["after"] == {"email": "ken@example.com"}
    assert first["request_id"]

    ada.post("/mappings", data={**form, "email": "grace@example.com"})
    ada.post("/mappings/delete", data={**form, "confirm": "yes"})  # the first step only asks
    events = _events(database_url)
    assert [(e["action"], e["before"], e["after"]) for e in events[1:]] == [
        ("mapping.set", {"email": "ken@example.com"}, {"email": "grace@example.com"}),
        ("mapping.delete", {"email": "grace@example.com"}, {"email": None}),
    ]


def test_failed_or_refused_mapping_changes_write_no_event(signed_in, seeded, database_url):
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    bad = ada.post(
        "/mappings", data={"source": "claude_code", "external_id": "x", "email": "not-an-email", "_csrf_token": token}
    )
    assert bad.status_code == 400 and "not an email address" in bad.text
    unknown = ada.post(
        "/mappings/delete", data={"source": "nope", "external_id": "x", "confirm": "yes", "_csrf_token": token}
    )
    assert unknown.status_code == 400 and "unknown source" in unknown.text
    grace = signed_in("grace@example.com")
    refused = grace.post(
        "/mappings",
        data={"source": "claude_code", "external_id": "x", "email": "x@example.com", "_csrf_token": _csrf(grace)},
    )
    assert refused.status_code == 403
    assert _events(database_url) == []


def test_accept_all_writes_one_event_listing_every_accepted_mapping(signed_in, seeded, database_url):
    store_usage_rows(database_url, laptop_key_usage())
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    asked = ada.post("/mappings/accept-all", data={"_csrf_token": token}, headers={"HX-Request": "true"})
    assert asked.status_code == 200 and _events(database_url) == [], "the first step only asks"
    confirm = dom.one(dom.parse(asked.text), ".confirm-step form")
    fields = {i.get("name"): i.get("value") for i in confirm.cssselect("input[type=hidden]")}
    assert ada.post("/mappings/accept-all", data=fields, headers={"HX-Request": "true"}).status_code == 200
    events = _events(database_url)
    assert len(events) == 1
    (event,) = events
    assert event["action"] == "mapping.accept_all" and event["actor"] == "ada@example.com"
    assert event["after"]["claude_code:grace-laptop"] == "grace@example.com"
    assert event["before"]["claude_code:grace-laptop"] is None
    assert set(event["before"]) == set(event["after"])


@pytest.fixture(scope="module")
def configured_app(services, oidc_server):
    from abacus.app import create_app
    from abacus.settings import CursorSettings, ProviderKey
    from tests.support import ThreadedServer, app_settings, free_port

    port = free_port()
    settings = app_settings(
        services,
        f"{oidc_server.url}/oidc",
        base_url=f"http://127.0.0.1:{port}",
        cursor=CursorSettings(keys=(ProviderKey("core", "key_x"),)),
    )
    with ThreadedServer(create_app(settings), health_path="/healthz", port=port) as server:
        yield server


def test_sync_now_and_backfill_buttons_write_one_event_each(configured_app, services, clean_db, database_url):
    redis = Redis.from_url(services.redis_url)
    ada = sign_in(configured_app.url, "ada@example.com")
    token = _csrf(ada, "/status")
    for kind in ("sync", "backfill"):
        done = ada.post("/status/sync", data={"provider": "cursor", "kind": kind, "_csrf_token": token})
        assert done.status_code == 200
    assert (
        ada.post("/status/sync", data={"provider": "anthropic", "kind": "sync", "_csrf_token": token}).status_code
        == 400
    )
    grace = sign_in(configured_app.url, "grace@example.com")
    assert (
        grace.post("/status/sync", data={"provider": "cursor", "_csrf_token": _csrf(grace, "/status")}).status_code
        == 403
    )
    events = _events(database_url)
    assert [(e["actor"], e["action"], e["target"]) for e in events] == [
        ("ada@example.com", "sync.enqueue", "cursor"),
        ("ada@example.com", "backfill.enqueue", "cursor"),
    ]
    assert events[0]["after"]["queued"] is True and "cursor" in events[0]["after"]["job"]
    assert events[0]["before"] == {}  # the provider's sync state when the job was queued: none yet
    redis.delete(QUEUE)

    page = ada.get("/status")
    rows = dom.texts(dom.one(dom.parse(page.text), "#audit-log"), "tbody tr")
    assert len(rows) == 2
    assert "backfill.enqueue" in rows[0] and "ada@example.com" in rows[0] and "cursor" in rows[0]  # newest first
    assert "sync.enqueue" in rows[1] and '"queued": true' in rows[1]  # the whole before → after, on demand
    summary = dom.text(dom.select(dom.one(dom.parse(page.text), "#audit-log"), "td.audit-change")[1])
    assert summary.startswith("job: sync_cursor · queued: yes Before → after")  # the change in one line
    ada.close()
    grace.close()


def test_cli_mapping_commands_write_events_as_the_cli_user(seeded, database_url):
    done = _cli(database_url, "mappings", "set", "claude_code", "ci-deploy-key", "ken@example.com")
    assert done.exit_code == 0, done.output
    failed = _cli(database_url, "mappings", "set", "claude_code", "ci-deploy-key", "nope")
    assert failed.exit_code == 1
    removed = _cli(database_url, "mappings", "delete", "claude_code", "ci-deploy-key")
    assert removed.exit_code == 0, removed.output
    events = _events(database_url)
    assert [(e["actor"], e["action"], e["before"], e["after"]) for e in events] == [
        (cli_actor(), "mapping.set", {"email": None}, {"email": "ken@example.com"}),
        (cli_actor(), "mapping.delete", {"email": "ken@example.com"}, {"email": None}),
    ]
    assert all(e["request_id"] is None for e in events)
    assert cli_actor().startswith("cli:")

    listed = _cli(database_url, "audit", "list", "--json")
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert [line["action"] for line in lines] == ["mapping.delete", "mapping.set"]  # newest first


def test_cli_backfill_state_changes_record_before_and_after(clean_db, database_url):
    _execute(
        database_url,
        "INSERT INTO sync_state (id, backfill_oldest_date, backfill_complete) "
        "VALUES ('cursor:core', '2026-01-01', false)",
    )
    assert _cli(database_url, "backfill", "complete", "cursor").exit_code == 0
    assert _cli(database_url, "backfill", "reset", "cursor").exit_code == 0
    assert _cli(database_url, "backfill", "reset", "anthropic").exit_code == 0  # no state rows: nothing changed
    events = _events(database_url)
    assert [(e["action"], e["target"]) for e in events] == [
        ("backfill.complete", "cursor"),
        ("backfill.reset", "cursor"),
    ]
    complete, reset = events
    assert complete["before"]["cursor:core"]["backfill_complete"] is False
    assert complete["after"]["cursor:core"]["backfill_complete"] is True
    assert reset["after"]["cursor:core"] == {
        **reset["before"]["cursor:core"],
        "backfill_complete": False,
        "backfill_oldest_date": None,
    }


CSV_HEADER = (
    "Date,User,Kind,Model,Max Mode,Input (w/ Cache Write),Input (w/o Cache Write),Cache Read,Output Tokens,"
    "Total Tokens,Cost\n"
)
CSV_ROW = "2025-11-20T18:23:45.123Z,ana@example.com,Usage-based,gpt-5,No,10,20,30,40,100,$0.12\n"


def test_csv_imports_web_and_cli_write_one_event_each_and_a_refused_file_none(
    signed_in, clean_db, database_url, tmp_path
):
    ada = signed_in("ada@example.com")
    token = _csrf(ada)
    bad = CSV_HEADER + "2025-13-01T10:00,ana@example.com,Usage-based,gpt-5,No,10,20,30,40,100,0.12\n"
    refused = ada.post(
        "/mappings/import", files={"file": ("bad.csv", bad.encode(), "text/csv")}, data={"_csrf_token": token}
    )
    assert refused.status_code == 200 and "line 2" in refused.text
    assert _events(database_url) == []

    done = ada.post(
        "/mappings/import",
        files={"file": ("usage.csv", (CSV_HEADER + CSV_ROW).encode(), "text/csv")},
        data={"_csrf_token": token},
    )
    assert done.status_code == 200 and "1 new" in done.text
    (web,) = _events(database_url)
    assert (web["actor"], web["action"], web["target"], web["before"]) == (
        "ada@example.com",
        "import.cursor_csv",
        "usage.csv",
        None,
    )
    assert web["after"]["new"] == 1 and web["after"]["rows"] == 1 and web["request_id"]

    (tmp_path / "bad.csv").write_text(bad)
    assert _cli(database_url, "import", "cursor-csv", str(tmp_path / "bad.csv")).exit_code == 1
    (tmp_path / "again.csv").write_text(CSV_HEADER + CSV_ROW)
    again = _cli(database_url, "import", "cursor-csv", str(tmp_path / "again.csv"))
    assert again.exit_code == 0, again.output
    events = _events(database_url)
    assert len(events) == 2
    cli_event = events[1]
    assert (cli_event["actor"], cli_event["target"]) == (cli_actor(), "again.csv")
    assert cli_event["after"]["new"] == 0 and cli_event["after"]["already_present"] == 1


def test_a_csv_import_run_as_a_job_records_the_uploader(services, clean_db, database_url):
    """Big uploads are imported by the worker: the event is still the uploader's, written in the import's
    transaction (the job function run here as the worker runs it)."""
    import uuid

    from arq import create_pool
    from arq.connections import RedisSettings

    from abacus.settings import load_settings
    from abacus.worker.csv_import_jobs import import_cursor_csv_file, start_import

    queue = f"abacus:test:audit:{uuid.uuid4().hex[:8]}"
    settings = load_settings(
        {"DATABASE_URL": database_url, "REDIS_URL": services.redis_url, "ABACUS_QUEUE": queue}, web=False
    )

    async def run() -> dict:
        pool = await create_pool(RedisSettings.from_dsn(services.redis_url), default_queue_name=queue)
        engine = create_engine(database_url)
        try:
            job = await start_import(
                pool,
                pool,
                queue,
                (CSV_HEADER + CSV_ROW).encode(),
                filename="big.csv",
                organization_id="cursor:default",
                actor="ada@example.com",
            )
            ctx = {"redis": pool, "settings": settings, "sessionmaker": session_factory(engine)}
            return await import_cursor_csv_file(ctx, job.import_id)
        finally:
            await pool.delete(queue)
            await pool.aclose()
            await engine.dispose()

    assert run_async(run())["state"] == "done"
    (event,) = _events(database_url)
    assert (event["actor"], event["action"], event["target"]) == ("ada@example.com", "import.cursor_csv", "big.csv")
    assert event["after"]["new"] == 1

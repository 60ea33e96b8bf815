"""The Cursor CSV upload over HTTP on the real app with two Cursor teams configured: the team is required, errors
are counted right, a NUL byte is a line-and-column error, and a big file becomes an arq job whose progress the page
polls (htmx) or shows behind a refresh link (no JS), still all-or-nothing."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from redis import Redis
from redis.asyncio import Redis as AsyncRedis
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.db import create_engine, session_factory
from abacus.providers.cursor_csv import REQUIRED_COLUMNS
from abacus.queue_keys import heartbeat_key
from abacus.settings import ProviderKey, Settings
from abacus.worker.csv_import_jobs import (
    INLINE_BYTES,
    file_key,
    import_cursor_csv_file,
    job_id,
    status_key,
)
from tests import dom
from tests.integration.pages_support import sql_value
from tests.support import QUEUE, ThreadedServer, app_settings, free_port, sign_in

HEADER = ",".join(REQUIRED_COLUMNS)


def row(n: int, user: str = "ana@example.com", **cells: str) -> str:
    values = {
        "Date": f"2025-11-20T10:{n // 60000 % 60:02d}:{n // 1000 % 60:02d}.{n % 1000:03d}Z",
        "User": user,
        "Kind": "Usage-based",
        "Model": "gpt-5",
        "Max Mode": "No",
        "Input (w/ Cache Write)": "10",
        "Input (w/o Cache Write)": str(20 + n),
        "Cache Read": "30",
        "Output Tokens": "40",
        "Total Tokens": "100",
        "Cost": "$0.12",
    }
    values.update(cells)
    return ",".join(values[c] for c in REQUIRED_COLUMNS)


def csv_file(rows: list[str]) -> bytes:
    return ("\r\n".join([HEADER, *rows]) + "\r\n").encode()


PORT = free_port()


@pytest.fixture(scope="module")
def teams_settings(services: Any, oidc_server: ThreadedServer) -> Settings:
    keys = (ProviderKey("core", "key-core"), ProviderKey("mobile", "key-mobile"))
    issuer = f"{oidc_server.url}/oidc"
    return app_settings(services, issuer, base_url=f"http://127.0.0.1:{PORT}", cursor={"keys": keys})


@pytest.fixture(scope="module")
def teams_app(teams_settings: Settings) -> Iterator[ThreadedServer]:
    from abacus.app import create_app

    with ThreadedServer(create_app(teams_settings), health_path="/healthz", port=PORT) as server:
        yield server


@pytest.fixture()
def admin(teams_app: ThreadedServer, clean_db: None) -> Iterator[httpx.Client]:
    client = sign_in(teams_app.url, "ada@example.com")
    client.get("/mappings")
    yield client
    client.close()


@pytest.fixture()
def redis(services: Any) -> Iterator[Redis]:
    client = Redis.from_url(services.redis_url)
    yield client
    client.close()


@pytest.fixture()
async def sessionmaker(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(database_url, pool_size=2)
    yield session_factory(engine)
    await engine.dispose()


def upload(client: httpx.Client, data: bytes, *, team: str | None = "core", htmx: bool = True) -> httpx.Response:
    form = {"_csrf_token": client.cookies.get("abacus_csrf") or ""}
    if team is not None:
        form["organization_id"] = team
    return client.post(
        "/mappings/import",
        files={"file": ("usage.csv", data, "text/csv")},
        data=form,
        headers={"HX-Request": "true", "HX-Target": "mapping-tables"} if htmx else {},
        timeout=60,
    )


def usage_rows(database_url: str) -> int:
    return int(sql_value(database_url, "SELECT COUNT(*) FROM usage_records"))


def test_with_two_teams_the_upload_names_them_and_requires_one(admin, database_url):
    page = admin.get("/mappings").text
    assert 'name="organization_id" required' in page
    assert '<option value="core">core</option>' in page and '<option value="mobile">mobile</option>' in page
    for team in (None, ""):
        response = upload(admin, csv_file([row(1)]), team=team)
        assert response.status_code == 200
        assert "2 Cursor teams are configured (core, mobile): say which one the file belongs to" in response.text
    response = upload(admin, csv_file([row(1)]), team="lab")
    assert 'team "lab" is not a configured Cursor team (configured: core, mobile)' in dom.text(dom.parse(response.text))
    assert usage_rows(database_url) == 0


def test_an_unchanged_reimport_under_any_team_says_0_new_and_writes_nothing(admin, database_url):
    data = csv_file([row(n) for n in range(3)])
    assert "Imported usage.csv: 3 new, 0 already present" in upload(admin, data).text
    again = dom.text(dom.parse(upload(admin, data, team="core").text))
    assert "Imported usage.csv: 0 new, 3 already present" in again
    other = dom.text(dom.parse(upload(admin, data, team="mobile").text))
    assert "0 new, 3 already present (3 of them under another team, not written again)" in other
    assert usage_rows(database_url) == 3
    assert sql_value(database_url, "SELECT SUM(input_tokens) FROM usage_records") == 20 + 21 + 22


def test_the_error_header_counts_every_problem_and_lists_the_first_50(admin, database_url):
    response = upload(admin, csv_file([row(n, Date="not a date") for n in range(200)]))
    text = dom.text(dom.parse(response.text))
    assert "usage.csv was not imported — 200 problems; the first 50 are listed:" in text
    assert len(dom.parse(response.text).cssselect(".error-list li")) == 50
    assert usage_rows(database_url) == 0


@pytest.mark.parametrize("column", ["User", "Model", "Kind", "Cost", "Date"])
def test_a_nul_byte_in_a_cell_is_a_line_and_column_error_not_a_500(admin, database_url, column):
    value = {"User": "ana@exam\x00ple.com", "Model": "gpt\x00", "Kind": "\x00", "Cost": "0.1\x00", "Date": "\x00"}
    response = upload(admin, csv_file([row(1), row(2, **{column: value[column]})]))
    assert response.status_code == 200
    assert f'line 3: column "{column}": contains a NUL byte' in dom.text(dom.parse(response.text))
    assert "\x00" not in response.text
    assert usage_rows(database_url) == 0


async def test_a_big_file_becomes_a_job_with_a_polled_progress_bar(admin, redis, teams_settings, sessionmaker):
    rows = [row(n, user=f"dev{n % 40}@example.com") for n in range(4000)]
    data = csv_file(rows)
    assert len(data) > INLINE_BYTES
    redis.delete(heartbeat_key(QUEUE))  # no worker alive on this queue: the panel says why nothing moves
    response = upload(admin, data)
    assert response.status_code == 200
    panel = dom.parse(response.text).cssselect("#import-progress")[0]
    import_id = panel.get("hx-get").rsplit("/", 1)[1]
    assert panel.get("hx-trigger") == "every 1s" and panel.get("data-poll") is not None
    assert panel.cssselect("progress")[0].get("value") == "0"
    assert "No worker is running for this queue, so the import waits." in dom.text(panel)
    assert f'href="/mappings/imports/{import_id}"' in response.text  # the no-JS refresh link
    assert redis.zscore(QUEUE, job_id(import_id)) is not None, "queued on the app's arq queue"
    assert redis.get(file_key(QUEUE, import_id)) == data
    assert await count_rows(sessionmaker) == 0

    polled = admin.get(f"/mappings/imports/{import_id}", headers={"HX-Request": "true", "HX-Target": "import-progress"})
    assert 'id="import-progress"' in polled.text and "Importing usage.csv" in polled.text
    assert "<nav" not in polled.text, "the poll answers with the panel only"

    outcome = await run_job(teams_settings, sessionmaker, import_id)
    assert outcome == {"import_id": import_id, "state": "done", "new": 4000, "already_present": 0}
    assert await count_rows(sessionmaker) == 4000
    assert redis.get(file_key(QUEUE, import_id)) is None, "the parked file is dropped once imported"

    done = admin.get(f"/mappings/imports/{import_id}", headers={"HX-Request": "true", "HX-Target": "import-progress"})
    finished = dom.parse(done.text).cssselect("#import-progress")[0]
    assert finished.get("hx-trigger") is None, "polling stops when the import is done"
    assert "Imported usage.csv: 4,000 new, 0 already present" in dom.text(finished)
    redis.zrem(QUEUE, job_id(import_id))
    redis.delete(f"arq:job:{job_id(import_id)}")


async def test_without_js_the_upload_redirects_to_a_page_with_a_refresh_link(
    admin, redis, teams_settings, sessionmaker
):
    data = csv_file([row(n) for n in range(4000)])
    response = upload(admin, data, team="mobile", htmx=False)
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/mappings/imports/[0-9a-f]{32}", location)
    page = admin.get(location)
    assert page.status_code == 200
    assert "Importing usage.csv" in page.text and f'<a href="{location}">Refresh</a>' in page.text
    import_id = location.rsplit("/", 1)[1]
    await run_job(teams_settings, sessionmaker, import_id)
    assert "Imported usage.csv: 4,000 new" in dom.text(dom.parse(admin.get(location).text))
    redis.zrem(QUEUE, job_id(import_id))
    redis.delete(f"arq:job:{job_id(import_id)}")


async def test_a_big_bad_file_fails_in_the_job_writes_nothing_and_lists_its_problems(
    admin, redis, teams_settings, sessionmaker
):
    rows = [row(n) for n in range(4000)]
    rows[3999] = row(3999, Model="gpt\x00")
    rows[10] = row(10, Date="2025-02-30T00:00:00Z")
    response = upload(admin, csv_file(rows))
    import_id = dom.parse(response.text).cssselect("#import-progress")[0].get("hx-get").rsplit("/", 1)[1]
    outcome = await run_job(teams_settings, sessionmaker, import_id)
    assert outcome["state"] == "failed" and outcome["problems"] == 2
    assert await count_rows(sessionmaker) == 0
    page = dom.parse(admin.get(f"/mappings/imports/{import_id}").text)
    text = dom.text(page.cssselect("#import-progress")[0])
    assert "usage.csv was not imported — 2 problems:" in text
    assert 'line 12: column "Date": "2025-02-30T00:00:00Z" is not an ISO 8601 timestamp' in text
    assert 'line 4001: column "Model": contains a NUL byte' in text
    redis.zrem(QUEUE, job_id(import_id))
    redis.delete(f"arq:job:{job_id(import_id)}", status_key(QUEUE, import_id))


def test_an_unknown_import_id_is_a_404_and_members_cannot_see_imports(admin, teams_app):
    assert admin.get("/mappings/imports/" + "0" * 32).status_code == 404
    assert admin.get("/mappings/imports/%00").status_code in (400, 404)
    member = sign_in(teams_app.url, "grace@example.com")
    assert member.get("/mappings/imports/" + "0" * 32).status_code == 403
    member.close()


async def count_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    from sqlalchemy import text

    async with sessionmaker() as db:
        return int((await db.execute(text("SELECT COUNT(*) FROM usage_records"))).scalar_one())


async def run_job(settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], import_id: str) -> dict[str, Any]:
    """The worker's import job, run inline with the arq context it gets (its own Redis connection)."""
    client = AsyncRedis.from_url(settings.redis.url or "")
    try:
        return await import_cursor_csv_file(
            {"redis": client, "settings": settings, "sessionmaker": sessionmaker}, import_id
        )
    finally:
        await client.aclose()


def test_a_real_worker_runs_the_queued_import_while_the_page_polls(admin, services, database_url, redis):
    """`abacus worker` (a real process on the app's queue) picks the job up; the upload itself answers at once."""
    import os
    import subprocess
    import sys
    import time

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": services.redis_url,
        "ABACUS_ENV": "dev",
        "ABACUS_QUEUE": QUEUE,
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
    }
    for name in ("CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY", "ANTHROPIC_ADMIN_KEYS", "ANTHROPIC_ADMIN_KEY"):
        env.pop(name, None)
    env.pop("GITHUB_TOKEN", None)
    data = csv_file([row(n, user=f"dev{n % 50}@example.com") for n in range(20_000)])
    started = time.monotonic()
    response = upload(admin, data)
    answered = time.monotonic() - started
    assert response.status_code == 200 and answered < 10, f"the upload answered in {answered:.1f} s"
    url = dom.parse(response.text).cssselect("#import-progress")[0].get("hx-get")
    worker = subprocess.Popen(
        [sys.executable, "-m", "abacus", "worker"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            panel = dom.parse(admin.get(url, headers={"HX-Request": "true", "HX-Target": "import-progress"}).text)
            node = panel.cssselect("#import-progress")[0]
            seen.append(node.cssselect("progress")[0].get("value") if node.cssselect("progress") else "done")
            if node.get("hx-trigger") is None:
                break
            time.sleep(0.5)
        text = dom.text(node)
        assert "Imported usage.csv: 20,000 new, 0 already present" in text, text
        assert usage_rows(database_url) == 20_000
        assert seen[-1] == "done" and len(seen) >= 2
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)

"""`abacus status` prints the status page's figures: it runs the same query (queries/status.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from abacus.cli import app, common
from tests.support import run_async


def _set_state(database_url: str) -> None:
    async def write() -> None:
        engine = create_async_engine(database_url)
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO sync_state (id, last_success_at, records_last_run, backfill_oldest_date)"
                    " VALUES ('cursor:core', :ok, 1234, :oldest)"
                ),
                {"ok": now - timedelta(minutes=30), "oldest": (now - timedelta(days=20)).date()},
            )
            await conn.execute(
                text(
                    "INSERT INTO sync_state (id, last_success_at, last_error, last_error_at)"
                    " VALUES ('cursor:mobile', :ok, 'cursor (mobile): HTTP 401 from /teams/members', :err)"
                ),
                {"ok": now - timedelta(hours=5), "err": now - timedelta(hours=1)},
            )
        await engine.dispose()

    run_async(write())


def test_status_lists_each_key_as_the_status_page_does(clean_db, database_url, monkeypatch):
    _set_state(database_url)
    env = {
        "DATABASE_URL": database_url,
        "ABACUS_ENV": "dev",
        "CURSOR_ADMIN_KEYS": "core=key_core,mobile=key_mobile",
        "ANTHROPIC_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEY": "",
        "GITHUB_TOKEN": "",
    }
    monkeypatch.setattr(common.console, "width", 220)  # one table row per line
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[2].strip(): line for line in result.output.splitlines() if line.count("│") > 6}
    assert "up to date" in lines["core"]
    assert "in progress" in lines["core"]
    assert "1,234" in lines["core"]
    assert "failing" in lines["mobile"]
    assert "HTTP 401" in lines["mobile"]
    assert any("Claude Code" in line and "not configured" in line for line in result.output.splitlines())

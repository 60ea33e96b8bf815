"""`abacus` commands run next to a running demo use its `.abacus/demo.env` — and say so in one line — unless
settings of their own are given."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from abacus.cli import app
from abacus.emulators.dataset import DEMO_CURSOR_KEYS
from abacus.emulators.server import EmulatorServer
from abacus.runtime import GIVEN_VARIABLES, write_demo_env
from tests.support import run_async

USING = "using the running demo's settings from .abacus/demo.env"
DAY = "2025-12-08"  # inside the session emulator's history (provider_support.TODAY is 2025-12-10)


@pytest.fixture
def demo_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, services: Any, emulator: EmulatorServer
) -> Iterator[Path]:
    """A project directory whose demo "runs": its pid is this process, its web app a listening socket, and its
    demo.env points at the test database and the Cursor emulator. Nothing else is configured."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "abacus"\n')
    with socket.socket() as web_app:
        web_app.bind(("127.0.0.1", 0))
        web_app.listen()
        write_demo_env(
            {
                "ABACUS_ENV": "demo",
                "ABACUS_BASE_URL": f"http://127.0.0.1:{web_app.getsockname()[1]}",
                "DATABASE_URL": services.database_url,
                "REDIS_URL": services.redis_url,
                "CURSOR_ADMIN_KEYS": ",".join(f"{label}={key}" for label, key in DEMO_CURSOR_KEYS.items()),
                "CURSOR_API_URL": f"{emulator.base_url}/cursor",
                "ABACUS_PROVIDER_PACING_MS": "0",
            },
            root=tmp_path,
        )
        monkeypatch.chdir(tmp_path)
        for name in GIVEN_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        yield tmp_path


def cursor_rows(database_url: str) -> int:
    async def count() -> int:
        engine = create_async_engine(database_url)
        try:
            async with engine.connect() as conn:
                return (await conn.execute(text("SELECT count(*) FROM usage_records WHERE tool = 'cursor'"))).scalar()
        finally:
            await engine.dispose()

    return run_async(count())


def test_sync_all_next_to_a_running_demo_syncs_the_demo_s_providers(demo_project: Path, database_url: str):
    result = CliRunner().invoke(app, ["sync", "all", "--since", DAY, "--until", DAY], terminal_width=200)

    assert result.exit_code == 0, result.output
    assert result.output.count(USING) == 1
    assert "anthropic: not configured" in result.output and "github: not configured" in result.output
    rows = [line for line in result.output.splitlines() if line.count("│") >= 5 and "cursor" in line]
    assert {line.split("│")[2].strip() for line in rows} == {"core", "mobile"}
    assert all("ok" in line for line in rows)
    assert cursor_rows(database_url) > 0


def test_settings_of_their_own_keep_the_demo_s_away(demo_project: Path, database_url: str):
    result = CliRunner().invoke(
        app, ["sync", "cursor", "--since", DAY, "--until", DAY], env={"DATABASE_URL": database_url}
    )

    assert result.exit_code == 0, result.output
    assert USING not in result.output
    assert "cursor: not configured" in result.output  # the demo's keys were not read
    assert (demo_project / ".abacus" / "demo.env").exists()

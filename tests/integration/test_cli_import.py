"""`abacus import cursor-csv` (and `abacus mappings fix`) on the real database: with two Cursor teams `--org` is
required and must be one of them, a refused file is counted right and writes nothing, a re-import under any team
says "0 new, N already present", and the progress bar names each stage; `mappings fix` skips ignored bots."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from abacus.cli import app, common
from abacus.providers.cursor_csv import REQUIRED_COLUMNS
from tests.integration.pages_support import sql_value


def row(n: int, **cells: str) -> str:
    cells_in_order = (
        *(f"2025-11-20T10:00:{n % 60:02d}.{n:03d}Z", "ana@example.com", "Usage-based", "gpt-5", "No"),
        *("10", str(20 + n), "30", "40", "100", "$0.12"),
    )
    values = dict(zip(REQUIRED_COLUMNS, cells_in_order, strict=True))
    values.update(cells)
    return ",".join(values[c] for c in REQUIRED_COLUMNS)


@pytest.fixture()
def env(clean_db: None, database_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setattr(common.console, "width", 200)
    return {
        "DATABASE_URL": database_url,
        "ABACUS_ENV": "dev",
        "CURSOR_ADMIN_KEYS": "core=key_core,mobile=key_mobile",
        "ANTHROPIC_ADMIN_KEYS": "",
        "ANTHROPIC_ADMIN_KEY": "",
        "GITHUB_TOKEN": "",
    }


def csv_file(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "usage.csv"
    path.write_bytes(("\r\n".join([",".join(REQUIRED_COLUMNS), *rows]) + "\r\n").encode())
    return path


def run(env: dict[str, str], *args: str):
    return CliRunner().invoke(app, ["import", "cursor-csv", *args], env=env)


def test_org_is_required_with_two_teams_and_a_reimport_adds_nothing(env, tmp_path, database_url):
    path = csv_file(tmp_path, [row(n) for n in range(5)])
    missing = run(env, str(path))
    assert missing.exit_code == 1
    assert "2 Cursor teams are configured (core, mobile): say which one the file belongs to" in missing.output
    unknown = run(env, str(path), "--org", "lab")
    assert unknown.exit_code == 1 and 'team "lab" is not a configured Cursor team' in unknown.output
    assert sql_value(database_url, "SELECT COUNT(*) FROM usage_records") == 0

    first = run(env, str(path), "--org", "core")
    assert first.exit_code == 0, first.output
    assert "imported usage.csv into cursor:core: 5 new, 0 already present" in first.output
    assert "Refreshing totals ━" in first.output, "a rich bar per stage (each replaces the previous one)"
    again = run(env, str(path), "--org", "mobile")
    assert again.exit_code == 0, again.output
    assert "0 new, 5 already present (5 of them under another team, not written again)" in again.output
    assert sql_value(database_url, "SELECT COUNT(*) FROM usage_records") == 5


def test_a_refused_file_counts_every_problem_and_writes_nothing(env, tmp_path, database_url):
    path = csv_file(tmp_path, [row(n, Date="soon") for n in range(120)] + [row(999, Model="gpt\x00")])
    result = run(env, str(path), "--org", "core")
    assert result.exit_code == 1
    assert "usage.csv: 121 problems; the first 50 are listed; nothing was imported" in result.output
    assert 'line 2: column "Date": "soon" is not an ISO 8601 timestamp' in result.output
    assert sql_value(database_url, "SELECT COUNT(*) FROM usage_records") == 0


def test_mappings_fix_does_not_ask_about_identities_ignored_as_bots(env, database_url):
    from datetime import date
    from decimal import Decimal

    from abacus.db import create_engine, session_factory
    from abacus.records import UsageRow
    from abacus.services.bots import set_bot
    from abacus.sync.usage_store import store_usage
    from tests.support import run_async

    async def write() -> None:
        engine = create_engine(database_url)
        rows = [
            UsageRow(
                date=date(2026, 3, 4),
                identity=f"claude_code:{key}",
                tool="claude_code",
                model="sonnet-4",
                raw_model="claude-sonnet-4",
                input_tokens=10,
                cost=Decimal(1),
                tool_record_id=key,
                organization_id="claude_code:default",
            )
            for key in ("ci-bot", "ci-key")
        ]
        async with session_factory(engine)() as db, db.begin():
            await store_usage(db, rows)
            await set_bot(db, "claude_code", "ci-bot", True, updated_by="ada@example.com")
        await engine.dispose()

    run_async(write())
    result = CliRunner().invoke(app, ["mappings", "fix"], env=env, input="\n")
    assert result.exit_code == 0, result.output
    assert "claude_code:ci-key" in result.output and "ci-bot" not in result.output

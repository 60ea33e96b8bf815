"""abacus db backup / restore: a round trip on a real, separate database (backup, change data, restore → every
table equals the original), refusals that change nothing, and a clear error when the client tool is missing."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from typer.testing import CliRunner

from abacus import migrate
from abacus.cli import app as cli
from abacus.embedded import ensure_database_exists
from abacus.models import Base
from abacus.services.audit import cli_actor
from tests.support import drop_database, run_async


@pytest.fixture()
def scratch_db(services):
    name = f"abacus_bak_{uuid.uuid4().hex[:8]}"
    url = services.with_database(name)
    run_async(ensure_database_exists(url))
    migrate.upgrade(url)
    yield url
    run_async(drop_database(services, name))


def _cli(url: str, *args: str, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), env={"DATABASE_URL": url, "ABACUS_ENV": "dev"}, input=input)
    return result, result.output + (result.stderr if result.stderr_bytes else "")


async def _execute(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for sql in statements:
            await conn.execute(text(sql))
    await engine.dispose()


async def _contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table of the schema (and alembic's version), in a stable order."""
    engine = create_async_engine(url)
    found: dict[str, list[tuple]] = {}
    async with engine.connect() as conn:
        for table in [*Base.metadata.tables, "alembic_version"]:
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            order = (lambda r: r[0]) if table == "audit_events" else repr  # audit events by id: the newest last
            found[table] = sorted((tuple(r) for r in rows), key=order)
    await engine.dispose()
    return found


SEED = (
    "INSERT INTO identity_mappings (source, external_id, email, updated_by) VALUES "
    "('cursor', 'ana', 'ana@example.com', 'cli:test'), ('github', '42', 'bo@example.com', 'cli:test')",
    "INSERT INTO sync_state (id, backfill_oldest_date, backfill_complete) VALUES ('cursor:core', '2026-01-01', true)",
    "INSERT INTO audit_events (actor, action, target, before, after) "
    "VALUES ('ada@example.com', 'mapping.set', 'cursor:ana', '{\"email\": null}', '{\"email\": \"ana@example.com\"}')",
)
CHANGES = (
    "DELETE FROM identity_mappings WHERE external_id = 'ana'",
    "UPDATE identity_mappings SET email = 'changed@example.com' WHERE external_id = '42'",
    "INSERT INTO identity_mappings (source, external_id, email) VALUES ('claude_code', 'new', 'new@example.com')",
    "UPDATE sync_state SET backfill_complete = false",
    "TRUNCATE audit_events",
)


def test_backup_change_restore_gives_back_the_original(scratch_db, tmp_path):
    run_async(_execute(scratch_db, *SEED))
    original = run_async(_contents(scratch_db))
    archive = tmp_path / "abacus.dump"
    backed_up, output = _cli(scratch_db, "db", "backup", str(archive))
    assert backed_up.exit_code == 0, output
    assert archive.stat().st_size > 0 and "backed up database" in output
    assert not list(tmp_path.glob(".*partial"))

    run_async(_execute(scratch_db, *CHANGES))
    assert run_async(_contents(scratch_db)) != original
    restored, output = _cli(scratch_db, "db", "restore", str(archive), "--yes")
    assert restored.exit_code == 0, output
    after = run_async(_contents(scratch_db))
    restore_event = after["audit_events"].pop()  # the restore is recorded on top of the restored audit log
    assert restore_event[2:5] == (cli_actor(), "db.restore", "abacus.dump")
    # the data has a new epoch (cached pages of the abandoned versions are never read again); nothing else differs
    epoch = [c.name for c in Base.metadata.tables["data_version"].columns].index("epoch")
    (before_version,), (after_version,) = original.pop("data_version"), after.pop("data_version")
    assert after_version[epoch] != before_version[epoch]
    assert after_version[:epoch] + after_version[epoch + 1 :] == before_version[:epoch] + before_version[epoch + 1 :]
    assert after == original
    assert "restored" in output


def test_refusals_change_nothing(scratch_db, tmp_path):
    run_async(_execute(scratch_db, *SEED))
    original = run_async(_contents(scratch_db))
    archive = tmp_path / "abacus.dump"
    archive.write_text("not an archive")
    exists, output = _cli(scratch_db, "db", "backup", str(archive))
    assert exists.exit_code == 1 and "exists; pass --force" in output
    not_archive, output = _cli(scratch_db, "db", "restore", str(archive), "--yes")
    assert not_archive.exit_code == 1 and "is not a pg_dump custom-format archive" in output
    assert _cli(scratch_db, "db", "backup", str(archive), "--force")[0].exit_code == 0
    declined, output = _cli(scratch_db, "db", "restore", str(archive), input="n\n")
    assert declined.exit_code == 1 and "nothing changed" in output
    assert run_async(_contents(scratch_db)) == original


def test_a_missing_client_tool_is_a_clear_error(scratch_db, tmp_path):
    target = tmp_path / "x.dump"
    missing, output = _cli(scratch_db, "db", "backup", str(target), "--pg-bin", str(tmp_path))
    assert missing.exit_code == 1
    assert "no pg_dump for PostgreSQL" in output and "apt-get install postgresql-client-" in output
    assert not target.exists()

"""Alembic migrations on a real, separate database: up, twice (no-op), down to base, up again; CLI commands."""

import os
import subprocess
import sys
import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from abacus import migrate
from abacus.embedded import ensure_database_exists
from abacus.migrate import HEAD_REVISION
from abacus.models import Base
from tests.support import drop_database, run_async

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def scratch_db(services):
    name = f"abacus_mig_{uuid.uuid4().hex[:8]}"
    url = services.with_database(name)
    run_async(ensure_database_exists(url))
    yield url
    run_async(drop_database(services, name))


async def _tables(url):
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        rows = await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))
        names = {r[0] for r in rows}
    await engine.dispose()
    return names


def test_upgrade_twice_then_downgrade_to_base(scratch_db):
    migrate.upgrade(scratch_db)
    assert migrate.current_revision(scratch_db) == HEAD_REVISION
    assert set(Base.metadata.tables) <= run_async(_tables(scratch_db))
    migrate.upgrade(scratch_db)  # no-op
    assert migrate.current_revision(scratch_db) == HEAD_REVISION
    migrate.downgrade(scratch_db, "base")
    assert migrate.current_revision(scratch_db) is None
    assert run_async(_tables(scratch_db)) == {"alembic_version"}
    migrate.upgrade(scratch_db)
    assert migrate.current_revision(scratch_db) == HEAD_REVISION


def test_models_and_migrations_agree(scratch_db):
    """autogenerate finds nothing to add: the migration is exactly models.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    migrate.upgrade(scratch_db)

    async def diff():
        engine = create_async_engine(scratch_db)
        async with engine.connect() as conn:
            result = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
        await engine.dispose()
        return result

    assert run_async(diff()) == []


def test_cli_db_commands(scratch_db):
    env = {**os.environ, "DATABASE_URL": scratch_db}
    up = subprocess.run(
        [sys.executable, "-m", "abacus", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert up.returncode == 0, up.stderr
    current = subprocess.run(
        [sys.executable, "-m", "abacus", "db", "current"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert HEAD_REVISION in current.stdout
    again = subprocess.run(
        [sys.executable, "-m", "abacus", "db", "upgrade"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0 and HEAD_REVISION in again.stdout


def test_unreachable_configured_database_fails_in_one_line():
    env = {**os.environ, "DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/abacus"}
    result = subprocess.run(
        [sys.executable, "-m", "abacus", "db", "current"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and "DATABASE_URL" in lines[0]


def test_cli_help_lists_every_command():
    result = subprocess.run(
        [sys.executable, "-m", "abacus", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    for command in (
        "serve",
        "worker",
        "db",
        "emulators",
        "demo",
        "sync",
        "backfill",
        "gaps",
        "import",
        "mappings",
        "status",
        "stats",
        "github",
    ):
        assert command in result.stdout

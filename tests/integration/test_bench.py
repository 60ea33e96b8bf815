"""`abacus bench` at a tiny size: it runs end to end, its JSON has every required figure as a number, and the
database it created is gone afterwards."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from abacus.cli import app
from tests.support import RUN_ID, drop_database, run_async

REQUIRED = ["ingest_events_per_s", "ingest_peak_rss_mb"] + [
    f"page_{page}_{stat}_ms"
    for page in ("overview", "overview_1y", "users", "team", "user_profile", "commits", "commits_90d", "repository")
    for stat in ("p50", "p95")
]
WITH_REFERENCE = [name for name in REQUIRED if name.startswith("page_")]


async def _databases(services) -> set[str]:
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(services.with_database("postgres"))
    try:
        async with engine.connect() as conn:
            return set((await conn.execute(text("SELECT datname FROM pg_database"))).scalars())
    finally:
        await engine.dispose()


@pytest.mark.slow
def test_bench_at_a_tiny_size_writes_every_figure_and_drops_its_database(services, tmp_path):
    database = f"abacus_bench_{RUN_ID}"
    out = tmp_path / "bench.json"
    command = [
        sys.executable, "-m", "abacus", "bench", "--events", "2000", "--people", "5", "--days", "7",
        "--requests", "2", "--clients", "5", "--load-seconds", "1", "--web-workers", "1",
        "--database", database, "--json", str(out),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "page_overview_p50_ms" in done.stdout  # the table

    body = json.loads(out.read_text())
    figures = {figure["name"]: figure for figure in body["figures"]}
    for name in REQUIRED:
        assert isinstance(figures[name]["value"], int | float), name
        assert figures[name]["value"] > 0, name
    for name in WITH_REFERENCE:
        reference, ratio = figures[name]["reference_way"], figures[name]["ratio"]
        assert isinstance(reference, float) and reference > 0, name
        assert ratio == pytest.approx(figures[name]["value"] / reference, rel=1e-3), name
    assert figures["pages_failed"]["value"] == 0, done.stderr
    assert figures["dataset_usage_rows"]["value"] == 2000
    assert body["params"]["events"] == 2000 and body["params"]["people"] == 5
    assert body["params"]["web_workers"] == 1
    assert "EXPLAIN" not in body["explain"] and "Buffers" in body["explain"]  # plans with buffer counts
    assert database not in run_async(_databases(services))


async def _row_counts(url: str) -> dict[str, int]:
    """Every table's exact row count (and the migration revision) of the database `url` names."""
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            tables = (
                await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
            ).scalars()
            counts = {
                name: (await conn.execute(text(f'SELECT COUNT(*) FROM "{name}"'))).scalar_one() for name in tables
            }
            counts["revision:" + (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()] = 1
            return counts
    finally:
        await engine.dispose()


async def _make_bench_database(services, database: str, url: str) -> None:
    """A migrated database holding the bench's data set (1,000 usage rows, 4 people, 5 days), as `abacus bench
    --keep` leaves one."""
    from abacus import migrate
    from abacus.bench import dataset
    from abacus.bench.run import recreate
    from abacus.db import create_engine

    await recreate(services, database)
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        await dataset.build(engine, events=1000, people=4, days=5, seed=1, step=lambda _label: None)
    finally:
        await engine.dispose()


def _bench(*arguments: str, cwd) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "abacus", "bench", *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=os.environ, cwd=cwd)


@pytest.mark.slow
def test_bench_existing_times_a_database_as_it_is_and_leaves_it_untouched(services, tmp_path):
    database = f"abacus_bench_existing_{RUN_ID}"
    quick = ["--requests", "2", "--clients", "2", "--load-seconds", "0.5", "--web-workers", "1"]
    url = services.with_database(database)
    run_async(_make_bench_database(services, database, url))  # the bench's own data set, without a bench run
    try:
        before = run_async(_row_counts(url))
        assert before["usage_records"] == 1000 and before["commits"] > 0

        refused = CliRunner().invoke(app, ["bench", "--existing", "--database", database, "--events", "5", "--keep"])
        assert refused.exit_code == 1 and "--events, --keep" in refused.output  # refused before anything runs
        out = tmp_path / "existing.json"
        done = _bench("--existing", "--database", database, *quick, "--json", str(out), cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "page_overview_p95_ms" in done.stdout and "--existing" in done.stdout  # the table and its title

        body = json.loads(out.read_text())
        figures = {figure["name"]: figure for figure in body["figures"]}
        for name in WITH_REFERENCE:  # every page, with the original's way and the ratio
            assert figures[name]["value"] > 0, name
            assert figures[name]["reference_way"] > 0 and figures[name]["ratio"] is not None, name
        assert any(name.startswith("page_api_") for name in figures)
        assert figures["pages_failed"]["value"] == 0, done.stderr
        assert figures["dataset_usage_rows"]["value"] == 1000
        assert figures["load_overview_requests_per_s"]["value"] > 0
        assert "ingest_events_per_s" not in figures and "dataset_build_s" not in figures  # nothing written
        assert body["params"]["existing"] is True and body["params"]["database"] == database
        assert body["params"]["top_user"] and body["params"]["top_repo"]
        assert run_async(_row_counts(url)) == before  # not modified
        assert database in run_async(_databases(services))  # not dropped
    finally:
        run_async(drop_database(services, database))

    missing = _bench("--existing", "--database", database, cwd=tmp_path)
    assert missing.returncode == 1 and f"no database `{database}`" in missing.stderr
    assert database not in run_async(_databases(services))  # not created by asking either

"""`abacus bench` at a tiny size: it runs end to end, its JSON has every required figure as a number, and the
database it created is gone afterwards."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.support import RUN_ID, run_async

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
        "--requests", "2", "--clients", "5", "--load-seconds", "1", "--database", database, "--json", str(out),
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
    assert "EXPLAIN" not in body["explain"] and "Buffers" in body["explain"]  # plans with buffer counts
    assert database not in run_async(_databases(services))

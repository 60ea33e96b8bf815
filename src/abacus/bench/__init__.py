"""`abacus bench`: one command that builds a large data set in its own database and measures the app on it.

- `dataset.py` — usage rows, commits and mappings generated inside PostgreSQL; every rollup level built by
  `abacus.rollups.refresh_rollup`.
- `web.py` — the app served by uvicorn in a subprocess (its RSS measurable), signed in through the OIDC emulator;
  per-page cold and warm times from the app's own Server-Timing, concurrent load, a streamed export's memory.
- `reference.py` — the same figures computed "the original's way": aggregate SQL over raw `usage_records` and
  `commits` per request, timed on the same database in the same run.
- `explain.py` — the SQL statements of the slowest page, captured and run under EXPLAIN (ANALYZE, BUFFERS).
- `report.py` — the figures: one rich table and the JSON file.
- `run.py` — the whole run, step by step, with a progress bar; the CLI (`abacus.cli.bench`) calls it.
"""

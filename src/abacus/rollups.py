"""The usage rollups: rebuilding the three levels for touched (date, tool) slices, and proving them exact.

`usage_daily` (date, email, tool, model) is summed from `usage_records`; `usage_tool_daily` (date, tool, model) and
`usage_user_daily` (date, email, tool) from `usage_daily`. Every writer of usage rows (sync stores, CSV import,
identity mappings) calls `refresh_rollup` in its own transaction, so pages never see raw rows and rollups disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.modelnames import THINKING_SUFFIX

BATCH = 2000
Slice = tuple[date, str]

SLICES = "unnest(CAST(:dates AS date[]), CAST(:tools AS text[])) AS s(date, tool)"
COLUMNS = (
    "input_tokens, cache_write_tokens, cache_read_tokens, output_tokens, total_tokens, cost, record_count, "
    "thinking_records"
)
THINKING = f"r.raw_model ~* '{THINKING_SUFFIX}'"
"""thinking_records counts rows whose raw model is a thinking variant: the rule of `is_thinking_model`, in SQL."""
RAW_SUMS = (
    "SUM(r.input_tokens), SUM(r.cache_write_tokens), SUM(r.cache_read_tokens), SUM(r.output_tokens), "
    "SUM(r.input_tokens + r.cache_write_tokens + r.cache_read_tokens + r.output_tokens), SUM(r.cost), "
    "COUNT(*), COUNT(*) FILTER (WHERE " + THINKING + ")"
)
ROLLUP_SUMS = (
    "SUM(d.input_tokens), SUM(d.cache_write_tokens), SUM(d.cache_read_tokens), SUM(d.output_tokens), "
    "SUM(d.total_tokens), SUM(d.cost), SUM(d.record_count), SUM(d.thinking_records)"
)
ROLLUPS = ("usage_daily", "usage_tool_daily", "usage_user_daily")
ROLLUP_DELETE = {
    table: text(f"DELETE FROM {table} d USING {SLICES} WHERE d.date = s.date AND d.tool = s.tool") for table in ROLLUPS
}
ROLLUP_INSERT = {
    # level 1 from the raw rows; the two level-2 tables from level 1 of the same slices
    "usage_daily": text(
        f"INSERT INTO usage_daily (date, email, tool, model, {COLUMNS}) "
        f"SELECT r.date, r.email, r.tool, r.model, {RAW_SUMS} "
        f"FROM usage_records r JOIN {SLICES} ON r.date = s.date AND r.tool = s.tool "
        "GROUP BY r.date, r.email, r.tool, r.model"
    ),
    "usage_tool_daily": text(
        f"INSERT INTO usage_tool_daily (date, tool, model, {COLUMNS}) "
        f"SELECT d.date, d.tool, d.model, {ROLLUP_SUMS} "
        f"FROM usage_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
        "GROUP BY d.date, d.tool, d.model"
    ),
    "usage_user_daily": text(
        f"INSERT INTO usage_user_daily (date, email, tool, {COLUMNS}) "
        f"SELECT d.date, d.email, d.tool, {ROLLUP_SUMS} "
        f"FROM usage_daily d JOIN {SLICES} ON d.date = s.date AND d.tool = s.tool "
        "GROUP BY d.date, d.email, d.tool"
    ),
}


async def refresh_rollup(db: AsyncSession, slices: Iterable[Slice]) -> None:
    """Recompute every rollup level for the given (date, tool) slices, in the caller's transaction."""
    ordered = sorted(set(slices))
    for start in range(0, len(ordered), BATCH):
        chunk = ordered[start : start + BATCH]
        params = {"dates": [d for d, _ in chunk], "tools": [t for _, t in chunk]}
        for table in ROLLUPS:
            await db.execute(ROLLUP_DELETE[table], params)
            await db.execute(ROLLUP_INSERT[table], params)


VERIFY_SQL = text("""
WITH truth AS (
  SELECT date, email, tool, model, SUM(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens) t,
         SUM(cost) c, COUNT(*) n
  FROM usage_records GROUP BY date, email, tool, model
),
by_tool AS (SELECT date, tool, model, SUM(t) t, SUM(c) c, SUM(n) n FROM truth GROUP BY date, tool, model),
by_user AS (SELECT date, email, tool, SUM(t) t, SUM(c) c, SUM(n) n FROM truth GROUP BY date, email, tool)
SELECT
  (SELECT COUNT(*) FROM truth FULL OUTER JOIN usage_daily d USING (date, email, tool, model)
   WHERE truth.t IS DISTINCT FROM d.total_tokens OR truth.c IS DISTINCT FROM d.cost
      OR truth.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM by_tool FULL OUTER JOIN usage_tool_daily d USING (date, tool, model)
   WHERE by_tool.t IS DISTINCT FROM d.total_tokens OR by_tool.c IS DISTINCT FROM d.cost
      OR by_tool.n IS DISTINCT FROM d.record_count)
+ (SELECT COUNT(*) FROM by_user FULL OUTER JOIN usage_user_daily d USING (date, email, tool)
   WHERE by_user.t IS DISTINCT FROM d.total_tokens OR by_user.c IS DISTINCT FROM d.cost
      OR by_user.n IS DISTINCT FROM d.record_count)
""")


async def rollup_mismatches(db: AsyncSession) -> int:
    """Number of rollup rows (all three levels) that differ from the SQL sums of usage_records (0 = consistent)."""
    return int((await db.execute(VERIFY_SQL)).scalar_one())

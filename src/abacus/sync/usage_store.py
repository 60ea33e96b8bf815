"""Writing usage: bulk upsert on the dedupe key, email resolution, and the rollup refresh of touched slices.

Every function here runs inside the caller's transaction; the caller commits together with its sync_state advance,
so data, rollup and state are always consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.modelnames import THINKING_SUFFIX
from abacus.models import UNMAPPED_PREFIX, USAGE_KEY, IdentityMapping, UsageRecord
from abacus.records import UsageRow

BATCH = 2000
Slice = tuple[date, str]


def split_identity(identity: str) -> tuple[str, str]:
    source, _, external_id = identity.partition(":")
    return source, external_id


def own_email(identity: str) -> str | None:
    """The identity's own email when its external id is one (user_actor / Cursor rows), else None."""
    _, external_id = split_identity(identity)
    return external_id if external_id.count("@") == 1 and "." in external_id.split("@")[1] else None


def unmapped_email(identity: str) -> str:
    return f"{UNMAPPED_PREFIX}{identity}"


async def resolve_emails(db: AsyncSession, identities: Iterable[str]) -> dict[str, str]:
    """identity → email: an identity mapping wins, else the identity's own email, else `unmapped:<identity>`."""
    wanted = sorted(set(identities))
    pairs = [split_identity(i) for i in wanted]
    mapped: dict[tuple[str, str], str] = {}
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        rows = await db.execute(
            select(IdentityMapping.source, IdentityMapping.external_id, IdentityMapping.email).where(
                tuple_(IdentityMapping.source, IdentityMapping.external_id).in_(chunk)
            )
        )
        mapped.update({(r.source, r.external_id): r.email for r in rows})
    return {i: mapped.get(split_identity(i)) or own_email(i) or unmapped_email(i) for i in wanted}


async def upsert_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> set[Slice]:
    """INSERT … ON CONFLICT (dedupe key) DO UPDATE (values replaced, never added); returns touched slices."""
    if not rows:
        return set()
    emails = await resolve_emails(db, (r.identity for r in rows))
    unique: dict[tuple[object, ...], UsageRow] = {r.dedupe_key: r for r in rows}
    values = [
        {
            "date": r.date,
            "identity": r.identity,
            "email": emails[r.identity],
            "tool": r.tool,
            "model": r.model,
            "raw_model": r.raw_model,
            "input_tokens": r.input_tokens,
            "cache_write_tokens": r.cache_write_tokens,
            "cache_read_tokens": r.cache_read_tokens,
            "output_tokens": r.output_tokens,
            "cost": r.cost,
            "tool_record_id": r.tool_record_id,
            "timestamp_ms": r.timestamp_ms,
            "organization_id": r.organization_id,
            "customer_type": r.customer_type,
        }
        for r in unique.values()
    ]
    for start in range(0, len(values), BATCH):
        stmt = insert(UsageRecord).values(values[start : start + BATCH])
        excluded = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=list(USAGE_KEY),
            set_={
                "email": excluded.email,
                "model": excluded.model,
                "input_tokens": excluded.input_tokens,
                "cache_write_tokens": excluded.cache_write_tokens,
                "cache_read_tokens": excluded.cache_read_tokens,
                "output_tokens": excluded.output_tokens,
                "cost": excluded.cost,
                "customer_type": excluded.customer_type,
                "updated_at": func.now(),
            },
        )
        await db.execute(stmt)
    return {(r.date, r.tool) for r in unique.values()}


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


async def store_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> int:
    """Upsert rows and refresh their rollup slices; returns the number of distinct rows written."""
    slices = await upsert_usage(db, rows)
    await refresh_rollup(db, slices)
    return len({r.dedupe_key for r in rows})


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

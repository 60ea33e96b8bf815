"""Writing usage: bulk upsert on the dedupe key, email resolution, and the rollup refresh of touched slices.

Every function here runs inside the caller's transaction; the caller commits together with its sync_state advance,
so data, rollup and state are always consistent.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import own_email, split_identity, unmapped_email
from abacus.models import USAGE_KEY, IdentityMapping, UsageRecord
from abacus.records import UsageRow
from abacus.rollups import Slice, refresh_rollup

BATCH = 2000


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


async def store_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> int:
    """Upsert rows and refresh their rollup slices; returns the number of distinct rows written."""
    slices = await upsert_usage(db, rows)
    await refresh_rollup(db, slices)
    return len({r.dedupe_key for r in rows})

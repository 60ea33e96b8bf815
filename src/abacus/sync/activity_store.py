"""Writing activity: the days a sync re-read replace what was stored for them, inside the caller's transaction.

Activity rows are a vendor's daily aggregates, not events, so a re-read day is replaced whole for its (tool,
organization): every stored row of those days is deleted and the new rows inserted, and a person the vendor no longer
reports for that day disappears. Emails are resolved exactly as for usage (`usage_store.resolve_emails`: a mapping
wins, else the identity's own email, else `unmapped:<identity>`). The caller commits together with its sync state,
so a failed window leaves the stored activity as it was.
"""

from __future__ import annotations

from sqlalchemy import delete, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import unmapped_email
from abacus.models import ActivityDaily, IdentityMapping
from abacus.records import ActivityBatch, ActivityRow
from abacus.sync.usage_store import resolve_emails

BATCH = 2000


MappingKey = tuple[str, str] | None


async def resolve_mapped_emails(
    db: AsyncSession, pairs: set[tuple[str, MappingKey]]
) -> dict[tuple[str, MappingKey], str]:
    """(identity, mapping key) → email: a pair without a key resolves like usage; one with a key through the
    mapping it names (a Copilot login through its GitHub id), else `unmapped:<identity>`."""
    plain = await resolve_emails(db, {identity for identity, key in pairs if key is None})
    keys = sorted({key for _, key in pairs if key is not None})
    mapped: dict[tuple[str, str], str] = {}
    for start in range(0, len(keys), BATCH):
        chunk = keys[start : start + BATCH]
        found = await db.execute(
            select(IdentityMapping.source, IdentityMapping.external_id, IdentityMapping.email).where(
                tuple_(IdentityMapping.source, IdentityMapping.external_id).in_(chunk)
            )
        )
        mapped.update({(r.source, r.external_id): r.email for r in found})
    return {
        (identity, key): plain[identity] if key is None else mapped.get(key) or unmapped_email(identity)
        for identity, key in pairs
    }


def merge_same_key(rows: tuple[ActivityRow, ...]) -> list[ActivityRow]:
    """One row per (identity, date): a second row for the same key (a vendor listing a person twice) is an error
    in the caller's parse step, so this only guards the primary key by keeping the last one."""
    return list({(row.identity, row.date): row for row in rows}.values())


async def store_activity(db: AsyncSession, batch: ActivityBatch) -> int:
    """Replace the batch's days for its (tool, organization) with its rows; returns the rows written."""
    if batch.days:
        await db.execute(
            delete(ActivityDaily).where(
                ActivityDaily.tool == batch.tool,
                ActivityDaily.organization_id == batch.organization_id,
                ActivityDaily.date.in_(batch.days),
            )
        )
    rows = merge_same_key(batch.rows)
    if not rows:
        return 0
    outside = sorted({row.date for row in rows} - set(batch.days))
    if outside:
        raise ValueError(f"activity rows for days the batch does not replace: {', '.join(map(str, outside))}")
    emails = await resolve_mapped_emails(db, {(row.identity, row.mapping) for row in rows})
    values = [
        {
            "tool": batch.tool,
            "organization_id": batch.organization_id,
            "identity": row.identity,
            "date": row.date,
            "email": emails[(row.identity, row.mapping)],
            "sessions": row.sessions,
            "lines_added": row.lines_added,
            "lines_removed": row.lines_removed,
            "suggested": row.suggested,
            "accepted": row.accepted,
            "requests": row.requests,
            "commits": row.commits,
            "pull_requests": row.pull_requests,
            "active": row.active,
            "details": row.details,
        }
        for row in rows
    ]
    for start in range(0, len(values), BATCH):
        await db.execute(insert(ActivityDaily), values[start : start + BATCH])
    return len(values)

"""Writing activity: the days a sync re-read replace what was stored for them, inside the caller's transaction.

Activity rows are a vendor's daily aggregates, not events, so a re-read day is replaced whole for its (tool,
organization): a person the vendor no longer reports for that day disappears, a new one is inserted, a changed one
updated, and an unchanged row is left alone (a re-read that finds nothing new changes no row, so it leaves the cached
pages in place: migration 0024). Emails are resolved exactly as for usage (`usage_store.resolve_emails`: a mapping wins,
else the identity's own email, else `unmapped:<identity>`). The caller commits together with its sync state, so a failed
window leaves the stored activity as it was.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
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


DROP_UNLISTED = text(
    "DELETE FROM activity_daily a WHERE a.tool = :tool AND a.organization_id = :organization_id "
    "AND a.date = ANY(CAST(:days AS date[])) AND NOT EXISTS (SELECT 1 FROM unnest(CAST(:identities AS text[]), "
    "CAST(:dates AS date[])) AS k(identity, date) WHERE k.identity = a.identity AND k.date = a.date)"
)
"""The stored rows of the re-read days that the vendor no longer reports."""

DATA_COLUMNS = (
    "email",
    "sessions",
    "lines_added",
    "lines_removed",
    "suggested",
    "accepted",
    "requests",
    "commits",
    "pull_requests",
    "active",
    "details",
)


def _upsert() -> Any:
    """Insert a row, or update the stored one when any of its figures differ (an identical one is left alone)."""
    statement = insert(ActivityDaily)
    table = ActivityDaily.__table__.c
    return statement.on_conflict_do_update(
        index_elements=["tool", "organization_id", "identity", "date"],
        set_={**{name: statement.excluded[name] for name in DATA_COLUMNS}, "updated_at": func.now()},
        where=tuple_(*(table[name] for name in DATA_COLUMNS)).is_distinct_from(
            tuple_(*(statement.excluded[name] for name in DATA_COLUMNS))
        ),
    )


async def store_activity(db: AsyncSession, batch: ActivityBatch) -> int:
    """Make the batch's days for its (tool, organization) hold exactly its rows; returns the rows it listed."""
    rows = merge_same_key(batch.rows)
    outside = sorted({row.date for row in rows} - set(batch.days))
    if outside:
        raise ValueError(f"activity rows for days the batch does not replace: {', '.join(map(str, outside))}")
    if batch.days:
        await db.execute(
            DROP_UNLISTED,
            {
                "tool": batch.tool,
                "organization_id": batch.organization_id,
                "days": list(batch.days),
                "identities": [row.identity for row in rows],
                "dates": [row.date for row in rows],
            },
        )
    if not rows:
        return 0
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
    upsert = _upsert()
    for start in range(0, len(values), BATCH):
        await db.execute(upsert, values[start : start + BATCH])
    return len(values)

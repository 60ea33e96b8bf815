"""Identity mappings: set / delete re-point usage rows and commit authors and refresh rollups, in one transaction."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import own_email, unmapped_email
from abacus.domain.tools import CLAUDE_CODE
from abacus.models import ActivityDaily, Commit, IdentityMapping, Seat, UsageRecord
from abacus.provisional import OTEL_SOURCE, lock_provisional, reconcile_provisional
from abacus.rollups import CommitSlice, refresh_commit_rollup, refresh_rollup
from abacus.services.audit import record_audit

SOURCES = ("claude_code", "cursor", "github", "otel")
OTEL_ROWS_OF = text("SELECT count(*) FROM usage_records WHERE identity = :identity AND tool_record_id = 'otel'")


class MappingError(ValueError):
    """A mapping request that cannot be applied (bad source, email or id)."""


@dataclass(frozen=True)
class MappingChange:
    usage_rows: int
    commits: int
    before: str | None = None  # the email the mapping pointed to before (None: there was no mapping)
    after: str | None = None  # the email it points to now (None: removed)


def validate_email(email: str) -> str:
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or "@" in domain or not local or "." not in domain or domain.startswith(".") or domain.endswith("."):
        raise MappingError(f"{email!r} is not an email address (one @ and a dot in the domain)")
    if any(ch.isspace() for ch in email) or len(email) > 255:
        raise MappingError(f"{email!r} is not an email address")
    return email


def normalise_external_id(source: str, external_id: str) -> str:
    if source not in SOURCES:
        raise MappingError(f"unknown source {source!r} (expected one of {', '.join(SOURCES)})")
    external_id = external_id.strip()
    if not external_id or len(external_id) > 300:
        raise MappingError("external id must be 1–300 characters")
    return external_id if source == "github" else external_id.lower()


def _commit_slices(rows: Iterable[Any]) -> set[CommitSlice]:
    """(UTC day, repo_id) of re-pointed commits."""
    return {(r.committed_at.astimezone(UTC).date(), r.repo_id) for r in rows}


async def lock_for_claude_code_days(db: AsyncSession, *sources: str) -> None:
    """A change to identities of `sources` (mappings, bot flags) that can change who covers a Claude Code day takes
    the provisional lock before its first write: every writer of those days takes it first and the data-version row
    after it (the first write of a page-read table), so they queue in one order. Written the other way round — the
    mapping row first — a mapping refresh and a window store of a Claude Code day each held the lock the other
    waited for (a deadlock)."""
    if any(source in (CLAUDE_CODE, OTEL_SOURCE) for source in sources):
        await lock_provisional(db)


async def _repoint(db: AsyncSession, source: str, external_id: str, email: str) -> MappingChange:
    """Point the identity's rows at `email`; for a Claude Code or OTel identity the provisional OTel rows follow in
    this transaction (docs/schema.md §13), under the lock its caller took first (`lock_for_claude_code_days`)."""
    usage_rows = 0
    if source == OTEL_SOURCE:
        identity = {"identity": f"{OTEL_SOURCE}:{external_id}"}
        days = await db.execute(text("SELECT DISTINCT date FROM otel_points WHERE identity = :identity"), identity)
        await reconcile_provisional(db, [row.date for row in days])
        # its provisional rows were rewritten where the mapping now points: they are the rows it moved
        usage_rows = int((await db.execute(OTEL_ROWS_OF, identity)).scalar() or 0)
    if source in ("claude_code", "cursor"):
        usage_rows = await repoint_identity(db, f"{source}:{external_id}", email)
    commits = 0
    if source == "github":
        relinked = (
            await db.execute(
                update(Commit)
                .where(Commit.author_id == external_id, Commit.author_email.is_distinct_from(email))
                .values(author_email=email)
                .returning(Commit.committed_at, Commit.repo_id)
            )
        ).all()
        commits = len(relinked)
        await refresh_commit_rollup(db, _commit_slices(relinked))
        await _repoint_copilot(db, external_id, email)
    return MappingChange(usage_rows=usage_rows, commits=commits)


async def _repoint_copilot(db: AsyncSession, github_id: str, email: str | None) -> None:
    """Copilot activity rows of that GitHub user id follow its mapping (None: back to `unmapped:<identity>`)."""
    await db.execute(
        text(
            "UPDATE activity_daily SET email = COALESCE(CAST(:email AS text), 'unmapped:' || identity), "
            "updated_at = now() WHERE organization_id LIKE 'copilot:%' AND details->>'user_id' = :id "
            "AND email IS DISTINCT FROM COALESCE(CAST(:email AS text), 'unmapped:' || identity)"
        ),
        {"id": github_id, "email": email},
    )
    await db.execute(  # and so do their Copilot seats
        text(
            "UPDATE seats SET email = COALESCE(CAST(:email AS text), 'unmapped:' || identity) "
            "WHERE organization_id LIKE 'copilot:%' AND details->>'user_id' = :id "
            "AND email IS DISTINCT FROM COALESCE(CAST(:email AS text), 'unmapped:' || identity)"
        ),
        {"id": github_id, "email": email},
    )


async def set_mapping(
    db: AsyncSession,
    source: str,
    external_id: str,
    email: str,
    *,
    updated_by: str,
    only_if_absent: bool = False,
    display_name: str | None = None,
) -> MappingChange:
    """Upsert (source, external_id) → email and re-point that identity's rows (caller commits)."""
    external_id = normalise_external_id(source, external_id)
    email = validate_email(email)
    await lock_for_claude_code_days(db, source)
    before = (
        await db.execute(
            select(IdentityMapping.email).where(
                IdentityMapping.source == source, IdentityMapping.external_id == external_id
            )
        )
    ).scalar_one_or_none()
    stmt = insert(IdentityMapping).values(
        source=source, external_id=external_id, email=email, display_name=display_name, updated_by=updated_by
    )
    if only_if_absent:
        stmt = stmt.on_conflict_do_nothing(index_elements=["source", "external_id"])
    else:
        stmt = stmt.on_conflict_do_update(
            index_elements=["source", "external_id"],
            set_={
                "email": email,
                "updated_by": updated_by,
                "updated_at": func.now(),
                "display_name": func.coalesce(stmt.excluded.display_name, IdentityMapping.display_name),
            },
        )
    await db.execute(stmt)
    current = (
        await db.execute(
            select(IdentityMapping.email).where(
                IdentityMapping.source == source, IdentityMapping.external_id == external_id
            )
        )
    ).scalar_one()
    change = await _repoint(db, source, external_id, current)
    return MappingChange(change.usage_rows, change.commits, before=before, after=current)


async def delete_mapping(db: AsyncSession, source: str, external_id: str) -> MappingChange:
    """Remove a mapping; usage rows fall back to the identity's own email or `unmapped:<identity>`."""
    external_id = normalise_external_id(source, external_id)
    await lock_for_claude_code_days(db, source)
    before = (
        await db.execute(
            delete(IdentityMapping)
            .where(IdentityMapping.source == source, IdentityMapping.external_id == external_id)
            .returning(IdentityMapping.email)
        )
    ).scalar_one_or_none()
    if source == "github":
        result = (
            await db.execute(
                text(
                    "UPDATE commits SET author_email = author_raw_email WHERE author_id = :id "
                    "AND author_email IS DISTINCT FROM author_raw_email "
                    "RETURNING (committed_at AT TIME ZONE 'UTC')::date AS day, repo_id"
                ),
                {"id": external_id},
            )
        ).all()
        await refresh_commit_rollup(db, {(r.day, r.repo_id) for r in result})
        await _repoint_copilot(db, external_id, None)
        return MappingChange(usage_rows=0, commits=len(result), before=before)
    identity = f"{source}:{external_id}"
    change = await _repoint(db, source, external_id, own_email(identity) or unmapped_email(identity))
    return MappingChange(change.usage_rows, change.commits, before=before)


async def admin_set_mapping(
    db: AsyncSession, source: str, external_id: str, email: str, *, actor: str
) -> MappingChange:
    """set_mapping made by a person (web admin or CLI) with its audit event, in the caller's transaction."""
    change = await set_mapping(db, source, external_id, email, updated_by=actor)
    await record_audit(
        db,
        actor=actor,
        action="mapping.set",
        target=f"{source}:{normalise_external_id(source, external_id)}",
        before={"email": change.before},
        after={"email": change.after},
    )
    return change


async def admin_delete_mapping(db: AsyncSession, source: str, external_id: str, *, actor: str) -> MappingChange:
    """delete_mapping made by a person with its audit event, in the caller's transaction."""
    change = await delete_mapping(db, source, external_id)
    await record_audit(
        db,
        actor=actor,
        action="mapping.delete",
        target=f"{source}:{normalise_external_id(source, external_id)}",
        before={"email": change.before},
        after={"email": None},
    )
    return change


async def repoint_identity(db: AsyncSession, identity: str, email: str) -> int:
    """Point a usage identity's rows (usage, its activity and seats) at `email`, refresh the touched rollup slices and
    the provisional OTel days, in the caller's transaction; returns how many usage rows moved."""
    moved = (
        await db.execute(
            update(UsageRecord)
            .where(UsageRecord.identity == identity, UsageRecord.email != email)
            .values(email=email, updated_at=func.now())
            .returning(UsageRecord.date, UsageRecord.tool)
        )
    ).all()
    await db.execute(  # activity rows of the identity follow its usage (docs/providers.md §8)
        update(ActivityDaily)
        .where(ActivityDaily.identity == identity, ActivityDaily.email != email)
        .values(email=email, updated_at=func.now())
    )
    await db.execute(update(Seat).where(Seat.identity == identity, Seat.email != email).values(email=email))
    # Rollups and the provisional OTel days last: both read where the rows now point.
    await refresh_rollup(db, {(r.date, r.tool) for r in moved})
    await reconcile_provisional(db, {r.date for r in moved if r.tool == CLAUDE_CODE})
    return len(moved)

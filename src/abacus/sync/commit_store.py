"""Writing commits: repository get-or-create, commit + attribution upserts, author email (docs/providers.md §4.5, §4.6).

Every function runs inside the caller's transaction; the caller commits together with its sync_state advance or
webhook delivery update, so a window is either stored whole or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import func, or_, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.attribution import is_work_email
from abacus.domain.identities import is_default_bot
from abacus.models import Commit, CommitAttribution, IdentityMapping, Repository
from abacus.records import CommitRecord
from abacus.rollups import refresh_commit_rollup
from abacus.services.mappings import MappingError, set_mapping

SOURCE = "github"
BATCH = 1000
UPDATED_BY = "sync:github"


def _utc_day(moment: datetime) -> date:
    """The UTC day of a commit time (a naive time is UTC already)."""
    return moment.astimezone(UTC).date() if moment.tzinfo is not None else moment.date()


def _cut(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


async def get_or_create_repository(db: AsyncSession, full_name: str, *, source: str = SOURCE) -> int:
    """The id of repository (source, full_name), inserted when new."""
    await db.execute(
        insert(Repository)
        .values(source=source, full_name=full_name)
        .on_conflict_do_nothing(index_elements=["source", "full_name"])
    )
    return (
        await db.execute(select(Repository.id).where(Repository.source == source, Repository.full_name == full_name))
    ).scalar_one()


async def shas_with_stats(db: AsyncSession, full_name: str, shas: Iterable[str], *, source: str = SOURCE) -> set[str]:
    """Which of `shas` are already stored for the repository with known line stats (no G4 needed for them)."""
    wanted = sorted(set(shas))
    found: set[str] = set()
    for start in range(0, len(wanted), BATCH):
        rows = await db.execute(
            select(Commit.commit_id)
            .join(Repository, Repository.id == Commit.repo_id)
            .where(
                Repository.source == source,
                Repository.full_name == full_name,
                Commit.commit_id.in_(wanted[start : start + BATCH]),
                Commit.additions.is_not(None),
            )
        )
        found.update(rows.scalars())
    return found


async def _stored(db: AsyncSession, repo_id: int, shas: Sequence[str]) -> tuple[dict[str, str], set[datetime]]:
    """The stored author id of each of `shas` that has one, and the commit times of those already stored (their
    rollup days are touched too when an upsert moves them)."""
    out: dict[str, str] = {}
    times: set[datetime] = set()
    for start in range(0, len(shas), BATCH):
        rows = await db.execute(
            select(Commit.commit_id, Commit.author_id, Commit.committed_at).where(
                Commit.repo_id == repo_id, Commit.commit_id.in_(shas[start : start + BATCH])
            )
        )
        for r in rows:
            times.add(r.committed_at)
            if r.author_id is not None:
                out[r.commit_id] = r.author_id
    return out, times


async def github_mappings(db: AsyncSession, author_ids: Iterable[str]) -> dict[str, str]:
    """author id → mapped email for the `github` identity mappings among `author_ids`."""
    wanted = sorted(set(author_ids))
    out: dict[str, str] = {}
    for start in range(0, len(wanted), BATCH):
        rows = await db.execute(
            select(IdentityMapping.external_id, IdentityMapping.email).where(
                IdentityMapping.source == SOURCE, IdentityMapping.external_id.in_(wanted[start : start + BATCH])
            )
        )
        out.update({r.external_id: r.email for r in rows})
    return out


async def store_commits(
    db: AsyncSession, repo_id: int, records: Sequence[CommitRecord], *, work_domains: Sequence[str]
) -> int:
    """Upsert commits on (repo_id, sha) and their attributions per (commit, tool); returns the commits written.

    Author email (docs/providers.md §4.6): with an author id, a work email becomes the id's mapping if it has none, then
    the commit carries the mapped email; without a mapping (or without an id) the raw email, lower-cased.
    Idempotent: re-storing the same records changes nothing — no row is written and the rollups are not refreshed,
    so a re-read that finds nothing new leaves the cached pages in place (migration 0024).
    """
    # sorted keys: concurrent writers (webhook job, incremental sync) lock rows in the same order, never deadlock
    unique = sorted({r.sha: r for r in records}.values(), key=lambda r: r.sha)
    if not unique:
        return 0
    shas = [r.sha for r in unique]
    stored_ids, stored_times = await _stored(db, repo_id, shas)
    author_of = {r.sha: r.author_id or stored_ids.get(r.sha) for r in unique}

    claimed: set[str] = set()
    remapped = False
    for record in sorted(unique, key=lambda r: author_of[r.sha] or ""):
        author_id = author_of[record.sha]
        if not author_id or author_id in claimed or not is_work_email(record.author_raw_email, work_domains):
            continue
        try:
            change = await set_mapping(
                db, SOURCE, author_id, record.author_raw_email or "", updated_by=UPDATED_BY, only_if_absent=True
            )
        except MappingError:
            continue
        claimed.add(author_id)
        remapped = remapped or change.before != change.after or bool(change.usage_rows or change.commits)
    mapped = await github_mappings(db, (a for a in author_of.values() if a))

    values = []
    for r in unique:
        author_id = author_of[r.sha]
        raw = (r.author_raw_email or "").strip()
        email = mapped.get(author_id) if author_id else None
        values.append(
            {
                "repo_id": repo_id,
                "commit_id": r.sha,
                "author_email": _cut(email or raw.lower() or None, 255),
                "author_id": _cut(r.author_id, 64),
                "committed_at": r.committed_at,
                "message": r.message,
                "author_login": _cut(r.author_login, 255),
                "author_raw_email": _cut(raw or None, 255),
                "is_bot": r.is_bot or is_default_bot(SOURCE, None, raw),
                "ai_tool": _cut(r.ai_tool, 64),
                "ai_model": _cut(r.ai_model, 128),
                "additions": r.additions,
                "deletions": r.deletions,
            }
        )

    commit_ids: dict[str, int] = {}
    changed = remapped  # a new mapping re-pointed stored rows
    for start in range(0, len(values), BATCH):
        stmt = insert(Commit).values(values[start : start + BATCH])
        new = stmt.excluded
        assigned = {
            "author_email": new.author_email,
            "ai_tool": new.ai_tool,
            "ai_model": new.ai_model,
            "committed_at": new.committed_at,
            "author_id": func.coalesce(new.author_id, Commit.author_id),
            "message": func.coalesce(new.message, Commit.message),
            "additions": func.coalesce(new.additions, Commit.additions),
            "deletions": func.coalesce(new.deletions, Commit.deletions),
            "author_login": func.coalesce(new.author_login, Commit.author_login),
            "author_raw_email": func.coalesce(new.author_raw_email, Commit.author_raw_email),
            "is_bot": or_(Commit.is_bot, new.is_bot),
        }
        upsert = stmt.on_conflict_do_update(
            index_elements=["repo_id", "commit_id"],
            set_=assigned,
            where=tuple_(*(getattr(Commit, name) for name in assigned)).is_distinct_from(tuple_(*assigned.values())),
        ).returning(Commit.id, Commit.commit_id)
        written = {row.commit_id: row.id for row in await db.execute(upsert)}  # inserted or changed
        changed = changed or bool(written)
        commit_ids.update(written)
    unchanged = [sha for sha in shas if sha not in commit_ids]
    for start in range(0, len(unchanged), BATCH):
        found = await db.execute(
            select(Commit.id, Commit.commit_id).where(
                Commit.repo_id == repo_id, Commit.commit_id.in_(unchanged[start : start + BATCH])
            )
        )
        commit_ids.update({row.commit_id: row.id for row in found})

    changed = await apply_bot_flags(db, list(commit_ids.values())) or changed
    attributions = [
        {
            "commit_id": commit_ids[r.sha],
            "ai_tool": _cut(a.tool, 64),
            "ai_model": _cut(a.model, 128),
            "confidence": a.confidence,
            "source": a.source,
        }
        for r in unique
        for a in r.attributions
    ]
    for start in range(0, len(attributions), BATCH):
        stmt = insert(CommitAttribution).values(attributions[start : start + BATCH])
        new = stmt.excluded
        kept = CommitAttribution
        result = await db.execute(
            stmt.on_conflict_do_update(
                index_elements=["commit_id", "ai_tool"],
                set_={"ai_model": new.ai_model, "source": new.source, "confidence": new.confidence},
                where=tuple_(kept.ai_model, kept.source, kept.confidence).is_distinct_from(
                    tuple_(new.ai_model, new.source, new.confidence)
                ),
            )
        )
        changed = changed or bool(getattr(result, "rowcount", 1))
    if not changed:
        return len(unique)
    # last, so the rollup lock is held only from here to the caller's commit
    days = {_utc_day(t) for t in stored_times} | {_utc_day(r.committed_at) for r in unique}
    await refresh_commit_rollup(
        db, ((day, repo_id) for day in days), [*stored_ids.values(), *(r.author_id for r in unique)]
    )
    return len(unique)


APPLY_BOT_FLAGS = text(
    "UPDATE commits c SET is_bot = b.is_bot FROM bot_identities b "
    "WHERE b.source = 'github' AND b.external_id = c.author_id AND c.id = ANY(CAST(:ids AS bigint[])) "
    "AND c.is_bot <> b.is_bot"
)


async def apply_bot_flags(db: AsyncSession, commit_ids: Sequence[int]) -> bool:
    """An admin's "ignore as bot" / "not a bot" on an author id wins over the sync's rule for these commits; whether
    any commit's flag changed."""
    changed = False
    for start in range(0, len(commit_ids), BATCH):
        result = await db.execute(APPLY_BOT_FLAGS, {"ids": list(commit_ids[start : start + BATCH])})
        changed = changed or bool(getattr(result, "rowcount", 1))
    return changed


async def author_ids_without_mapping(db: AsyncSession) -> int:
    """How many distinct commit author ids have no `github` identity mapping yet."""
    unmapped = (
        select(func.count(func.distinct(Commit.author_id)))
        .select_from(Commit)
        .outerjoin(
            IdentityMapping, (IdentityMapping.source == SOURCE) & (IdentityMapping.external_id == Commit.author_id)
        )
        .where(Commit.author_id.is_not(None), IdentityMapping.external_id.is_(None))
    )
    return int((await db.execute(unmapped)).scalar_one())

"""The status page's read side: sync state per provider key and the worker (unmapped identities: identities.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.visibility import EVERYONE, Viewer
from abacus.providers import registry
from abacus.providers.provider import Provider
from abacus.provisional import retry_pause
from abacus.queries.cache import cached
from abacus.queries.identities import Unattributed, UnmappedGitHub, unattributed, unmapped_github
from abacus.queries.lifetime import Lifetime, lifetime_stats
from abacus.queue_keys import last_heartbeat, running_jobs
from abacus.settings import Settings


@dataclass(frozen=True)
class KeyStatus:
    state_id: str
    label: str
    sync_status: str  # never_synced | up_to_date | behind | failing
    last_synced: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    records_last_run: int | None
    backfill_status: str  # not_started | in_progress | complete | none (a state with nothing to backfill)
    backfill_oldest: date | None


@dataclass(frozen=True)
class ProviderStatus:
    key: str
    name: str
    configured: bool
    keys: list[KeyStatus]
    data_from: date | None

    @property
    def sync_status(self) -> str:
        order = ["failing", "never_synced", "behind", "up_to_date"]
        statuses = [k.sync_status for k in self.keys] or ["never_synced"]
        return min(statuses, key=order.index)

    @property
    def backfill_status(self) -> str:
        statuses = {k.backfill_status for k in self.keys if k.backfill_status != "none"} or {"not_started"}
        if statuses == {"complete"}:
            return "complete"
        return "not_started" if statuses == {"not_started"} else "in_progress"

    @property
    def last_synced(self) -> datetime | None:
        times = [k.last_synced for k in self.keys if k.last_synced]
        return min(times) if times else None


@dataclass(frozen=True)
class WorkerStatus:
    heartbeat: datetime | None
    queued: int
    running: list[str] = field(default_factory=list)

    def heartbeat_age(self, now: datetime) -> timedelta | None:
        return now - self.heartbeat if self.heartbeat else None


def sync_status(
    fresh_within: timedelta, last_success: datetime | None, last_error_at: datetime | None, now: datetime
) -> str:
    """M-SYNC-STATUS: failing beats everything; fresh within 2 × the job interval (the provider's `fresh_within`)."""
    if last_error_at and (last_success is None or last_error_at > last_success):
        return "failing"
    if last_success is None:
        return "never_synced"
    return "up_to_date" if now - last_success <= fresh_within else "behind"


def backfill_status(oldest: date | None, complete: bool) -> str:
    if complete:
        return "complete"
    return "in_progress" if oldest else "not_started"


def _key_status(
    provider: Provider,
    state_id: str,
    label: str,
    row: Any,
    now: datetime,
    *,
    backfills: bool = True,
    hourly: bool = True,
) -> KeyStatus:
    last_success = row.last_success_at if row else None
    last_error_at = row.last_error_at if row else None
    failing = bool(row and last_error_at and (not last_success or last_error_at > last_success))
    return KeyStatus(
        state_id=state_id,
        label=label,
        sync_status=sync_status(provider.fresh_within, last_success, last_error_at, now),
        last_synced=row.last_synced_hour_end if (row and provider.hourly_progress and hourly) else last_success,
        last_success_at=last_success,
        last_error=row.last_error if failing else None,
        last_error_at=last_error_at,
        records_last_run=row.records_last_run if row else None,
        backfill_status=backfill_status(row.backfill_oldest_date if row else None, bool(row and row.backfill_complete))
        if backfills
        else "none",
        backfill_oldest=row.backfill_oldest_date if row else None,
    )


@dataclass(frozen=True)
class DataFrom:
    """The first day of data: per usage tool, and of commits."""

    by_tool: dict[str, date]
    commits: date | None


# one round trip; the commit row has tool NULL (MIN over ix_commits_committed_at reads one index entry)
DATA_FROM_SQL = text(
    "SELECT tool, MIN(date) AS d FROM usage_tool_daily GROUP BY tool "
    "UNION ALL SELECT NULL, ((SELECT MIN(committed_at) FROM commits) AT TIME ZONE 'UTC')::date"
)


async def data_from(db: AsyncSession) -> DataFrom:
    """The first UTC day of each tool's usage and of commits (None when there are none)."""
    by_tool: dict[str, date] = {}
    commits = None
    for row in await db.execute(DATA_FROM_SQL):
        if row.tool is None:
            commits = row.d
        else:
            by_tool[row.tool] = row.d
    return DataFrom(by_tool, commits)


@dataclass(frozen=True)
class StatusFigures:
    """What the status page shows from the data rather than from the sync state: one cache entry per data version."""

    lifetime: Lifetime
    unattributed: Unattributed
    unmapped_github: UnmappedGitHub
    data_from: DataFrom


@cached
async def status_figures(db: AsyncSession, viewer: Viewer = EVERYONE) -> StatusFigures:
    """The lifetime strip, unmapped identities and first days of data in one cached read (one version check and one
    Redis read per request; on a miss the parts run here, uncached, on this one connection). A viewer who does not
    see everybody gets the unmapped totals without the identities listed (docs/security.md §6)."""
    unmapped, github = await unattributed(db), await unmapped_github(db)
    if not viewer.sees_everyone:
        unmapped, github = replace(unmapped, identities=[]), replace(github, rows=[])
    return StatusFigures(await lifetime_stats(db), unmapped, github, await data_from(db))


@dataclass(frozen=True)
class FailingLiveDay:
    """A (day, OTel identity) whose provisional rows could not be written (provisional.py): held back, retried."""

    day: date
    identity: str | None
    attempts: int
    failed_at: datetime
    error: str | None
    retry_at: datetime


@dataclass(frozen=True)
class FailingLive:
    total: int
    shown: list[FailingLiveDay]
    """The most recent failures; empty for a viewer who does not see everybody (they name people)."""


FAILING_LIVE = text(
    "SELECT date, identity, attempts, failed_at, error, count(*) OVER () AS total FROM otel_dirty_days "
    "WHERE attempts > 0 ORDER BY failed_at DESC, date DESC, identity LIMIT :limit"
)


def retry_after(attempts: int) -> timedelta:
    return timedelta(seconds=retry_pause(attempts))


async def failing_live_days(db: AsyncSession, viewer: Viewer = EVERYONE, limit: int = 20) -> FailingLive:
    """Live telemetry (person-days) that the OTel rebuild could not write, newest failure first (a small table:
    read as it is, not through the page cache, so a fixed day disappears on the next refresh)."""
    rows = (await db.execute(FAILING_LIVE, {"limit": limit})).all()
    shown = [
        FailingLiveDay(r.date, r.identity, r.attempts, r.failed_at, r.error, r.failed_at + retry_after(r.attempts))
        for r in rows
    ]
    return FailingLive(int(rows[0].total) if rows else 0, shown if viewer.sees_everyone else [])


async def provider_statuses(
    db: AsyncSession, settings: Settings, now: datetime, first_days: DataFrom | None = None
) -> list[ProviderStatus]:
    """Each provider's sync state per key and the first day of its data (`first_days`, read here when not given)."""
    rows = {r.id: r for r in await db.execute(text("SELECT * FROM sync_state"))}
    first_days = first_days or await data_from(db)
    oldest, oldest_commit = first_days.by_tool, first_days.commits
    out = []
    for provider in registry.PROVIDERS:
        statuses = [
            _key_status(
                provider,
                row.state_id,
                row.label,
                rows.get(row.state_id),
                now,
                backfills=row.backfills,
                hourly=row.hourly,
            )
            for row in provider.rows_for_status(settings, rows)
        ]
        first_day = oldest.get(provider.tool) if provider.tool is not None else oldest_commit
        out.append(
            ProviderStatus(
                provider.name, provider.display_name, registry.configured(settings, provider), statuses, first_day
            )
        )
    return out


async def worker_status(redis: Redis, queue: str) -> WorkerStatus:
    """The workers of `queue` (settings.jobs.queue): last heartbeat, jobs waiting, jobs running."""
    queued = int(await redis.zcard(queue))
    return WorkerStatus(
        heartbeat=await last_heartbeat(redis, queue),
        queued=queued,
        running=await running_jobs(redis, queue, (job.name for _, job in registry.all_jobs())),
    )


def schedule_rows(settings: Settings) -> list[tuple[str, str, str]]:
    """(job, kind, schedule) of every job of a configured provider, for the status page."""
    return [
        (job.name, job.kind, job.schedule)
        for provider, job in registry.all_jobs()
        if registry.configured(settings, provider)
    ]

"""The status page's read side: sync state per provider key, unattributed usage, unmapped GitHub authors, worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.providers import runner
from abacus.queue_keys import QUEUE_NAME, last_heartbeat, running_jobs
from abacus.settings import Settings
from abacus.worker.tasks import SCHEDULE

FRESH_WITHIN = {"anthropic": timedelta(hours=12), "cursor": timedelta(hours=2), "github": timedelta(hours=2)}
PROVIDER_NAMES = {"anthropic": "Claude Code", "cursor": "Cursor", "github": "GitHub Commits"}
PROVIDER_TOOL = {"anthropic": "claude_code", "cursor": "cursor"}


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
    backfill_status: str  # not_started | in_progress | complete
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
        statuses = {k.backfill_status for k in self.keys} or {"not_started"}
        if statuses == {"complete"}:
            return "complete"
        return "not_started" if statuses == {"not_started"} else "in_progress"

    @property
    def last_synced(self) -> datetime | None:
        times = [k.last_synced for k in self.keys if k.last_synced]
        return min(times) if times else None


@dataclass(frozen=True)
class Unattributed:
    tokens: int
    cost: Decimal
    api_keys: int
    identities: list[tuple[str, int, int]]  # identity, records, tokens


@dataclass(frozen=True)
class UnmappedGitHub:
    users: int
    commits: int
    rows: list[tuple[str, str | None, str | None, int]]  # author id, login, sample email, commits


@dataclass(frozen=True)
class WorkerStatus:
    heartbeat: datetime | None
    queued: int
    running: list[str] = field(default_factory=list)

    def heartbeat_age(self, now: datetime) -> timedelta | None:
        return now - self.heartbeat if self.heartbeat else None


def sync_status(provider: str, last_success: datetime | None, last_error_at: datetime | None, now: datetime) -> str:
    """M-SYNC-STATUS: failing beats everything; fresh within 2 × the job interval."""
    if last_error_at and (last_success is None or last_error_at > last_success):
        return "failing"
    if last_success is None:
        return "never_synced"
    return "up_to_date" if now - last_success <= FRESH_WITHIN[provider] else "behind"


def backfill_status(oldest: date | None, complete: bool) -> str:
    if complete:
        return "complete"
    return "in_progress" if oldest else "not_started"


async def provider_statuses(db: AsyncSession, settings: Settings, now: datetime) -> list[ProviderStatus]:
    rows = {r.id: r for r in await db.execute(text("SELECT * FROM sync_state"))}
    oldest = {
        r.tool: r.d for r in await db.execute(text("SELECT tool, MIN(date) d FROM usage_tool_daily GROUP BY tool"))
    }
    oldest_commit = (await db.execute(text("SELECT MIN(committed_at) FROM commits"))).scalar_one()
    out = []
    for provider in runner.PROVIDERS:
        keys = runner.provider_keys(settings, provider)
        statuses = []
        if provider == "github" and keys:
            ids = sorted(i for i in rows if i.startswith("github:")) or ["github"]
            pairs = [(i, i.removeprefix("github:") if i != "github" else settings.github_org or "org") for i in ids]
        else:
            pairs = [(runner.state_id(provider, k), k.label) for k in keys]
        for state_id, label in pairs:
            row = rows.get(state_id)
            last_success = row.last_success_at if row else None
            last_error_at = row.last_error_at if row else None
            synced = row.last_synced_hour_end if (row and provider == "cursor") else last_success
            statuses.append(
                KeyStatus(
                    state_id=state_id,
                    label=label,
                    sync_status=sync_status(provider, last_success, last_error_at, now),
                    last_synced=synced,
                    last_success_at=last_success,
                    last_error=row.last_error
                    if row and last_error_at and (not last_success or last_error_at > last_success)
                    else None,
                    last_error_at=last_error_at,
                    records_last_run=row.records_last_run if row else None,
                    backfill_status=backfill_status(
                        row.backfill_oldest_date if row else None, bool(row and row.backfill_complete)
                    ),
                    backfill_oldest=row.backfill_oldest_date if row else None,
                )
            )
        data_from = (
            oldest.get(PROVIDER_TOOL.get(provider, ""))
            if provider != "github"
            else (oldest_commit.date() if oldest_commit else None)
        )
        out.append(ProviderStatus(provider, PROVIDER_NAMES[provider], bool(keys), statuses, data_from))
    return out


async def unattributed(db: AsyncSession) -> Unattributed:
    """M-UNATTR from the (date, email, tool) rollup: unmapped emails are `unmapped:<identity>`.

    Served by the partial index ix_usage_user_daily_unmapped (correct under any collation)."""
    rows = list(
        await db.execute(
            text("""
        SELECT substr(email, 10) AS identity, SUM(record_count) AS records, SUM(total_tokens) AS tokens,
               SUM(cost) AS cost
        FROM usage_user_daily WHERE email LIKE 'unmapped:%'
        GROUP BY email ORDER BY records DESC, identity""")
        )
    )
    return Unattributed(
        tokens=sum(int(r.tokens) for r in rows),
        cost=sum((Decimal(r.cost) for r in rows), Decimal(0)),
        api_keys=sum(1 for r in rows if r.identity.startswith("claude_code:")),
        identities=[(r.identity, int(r.records), int(r.tokens)) for r in rows[:50]],
    )


async def unmapped_github(db: AsyncSession) -> UnmappedGitHub:
    """M-UNMAPPED-GH: commit authors with a GitHub id and no mapping."""
    rows = list(
        await db.execute(
            text("""
        SELECT c.author_id, MIN(c.author_login) AS login, MIN(c.author_email) AS email, COUNT(*) AS n
        FROM commits c JOIN repositories r ON r.id = c.repo_id AND r.source = 'github'
        WHERE c.author_id IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM identity_mappings m WHERE m.source = 'github' AND m.external_id = c.author_id)
        GROUP BY c.author_id ORDER BY n DESC, c.author_id""")
        )
    )
    return UnmappedGitHub(
        users=len(rows),
        commits=sum(int(r.n) for r in rows),
        rows=[(r.author_id, r.login, r.email, int(r.n)) for r in rows[:50]],
    )


async def worker_status(redis: Redis) -> WorkerStatus:
    queued = int(await redis.zcard(QUEUE_NAME))
    return WorkerStatus(heartbeat=await last_heartbeat(redis), queued=queued, running=await running_jobs(redis))


def schedule_rows(settings: Settings) -> list[tuple[str, str, str]]:
    return [(job, kind, when) for job, kind, provider, when in SCHEDULE if runner.configured(settings, provider)]

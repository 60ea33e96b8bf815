"""Read-only JSON for the status and mappings pages: /api/v1/status and /api/v1/mappings (docs/pages.md §13)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_full_view
from abacus.domain.visibility import Viewer
from abacus.queries import status as queries
from abacus.queries.lifetime import lifetime_stats
from abacus.queries.mappings import mappings_view
from abacus.web.params import now_utc

TAGS = ["status"]


@dataclass
class KeyState:
    state_id: str
    label: str
    sync_status: str
    last_synced: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    records_last_run: int | None
    backfill_status: str
    backfill_oldest_date: date | None


@dataclass
class ProviderState:
    id: str
    name: str
    configured: bool
    sync_status: str
    backfill_status: str
    data_from: date | None
    keys: list[KeyState]


@dataclass
class UnattributedIdentity:
    identity: str
    usage_records: int
    tokens: int


@dataclass
class UnmappedAuthor:
    author_id: str
    login: str | None
    sample_email: str | None
    commits: int


@dataclass
class WorkerState:
    heartbeat_at: datetime | None
    queued_jobs: int
    running_jobs: list[str]


@dataclass
class StatusPayload:
    providers: list[ProviderState]
    worker: WorkerState
    lifetime: dict[str, Any]
    unattributed_tokens: int
    unattributed_cost: float
    unattributed_api_keys: int
    unattributed: list[UnattributedIdentity]
    unmapped_github_users: int
    unmapped_github_commits: int
    unmapped_github: list[UnmappedAuthor]
    scheduled_jobs: list[dict[str, str]]
    live_days_failing: int = 0
    """Person-days of OTel telemetry whose provisional rows could not be written (held back, retried)."""


@get("/api/v1/status", tags=TAGS, summary="Sync state per provider key, worker, unattributed usage")
async def api_status(
    request: Request[Any, Any, Any], db: AsyncSession, viewer: NamedDependency[Viewer]
) -> StatusPayload:
    settings = request.app.state.settings
    providers = await queries.provider_statuses(db, settings, now_utc(request))
    figures = await queries.status_figures(db, viewer)  # the identities listed only to those who see everybody
    unattributed, github = figures.unattributed, figures.unmapped_github
    worker = await queries.worker_status(request.app.state.redis, settings.jobs.queue)
    life = await lifetime_stats(db)
    return StatusPayload(
        providers=[
            ProviderState(
                p.key,
                p.name,
                p.configured,
                p.sync_status,
                p.backfill_status,
                p.data_from,
                [
                    KeyState(
                        k.state_id,
                        k.label,
                        k.sync_status,
                        k.last_synced,
                        k.last_success_at,
                        k.last_error,
                        k.last_error_at,
                        k.records_last_run,
                        k.backfill_status,
                        k.backfill_oldest,
                    )
                    for k in p.keys
                ],
            )
            for p in providers
        ],
        worker=WorkerState(worker.heartbeat, worker.queued, worker.running),
        lifetime={
            "total_tokens": life.tokens,
            "total_cost": float(life.cost),
            "total_users": life.users,
            "first_record_date": life.since.isoformat() if life.since else None,
            "total_commits": life.commits,
            "ai_attributed_commits": life.ai_commits,
            "total_repos": life.repos,
        },
        unattributed_tokens=unattributed.tokens,
        unattributed_cost=float(unattributed.cost),
        unattributed_api_keys=unattributed.api_keys,
        unattributed=[UnattributedIdentity(i, r, t) for i, r, t in unattributed.identities],
        unmapped_github_users=github.users,
        unmapped_github_commits=github.commits,
        unmapped_github=[UnmappedAuthor(a, login, email, n) for a, login, email, n in github.rows],
        scheduled_jobs=[
            {"job": job, "type": kind, "schedule": when} for job, kind, when in queries.schedule_rows(settings)
        ],
        live_days_failing=(await queries.failing_live_days(db, viewer, limit=1)).total,
    )


@dataclass
class MappingOut:
    source: str
    external_id: str
    email: str
    updated_by: str | None
    updated_at: datetime


@dataclass
class UnmappedOut:
    source: str
    external_id: str
    usage: int
    usage_kind: str
    suggested_email: str | None


@dataclass
class MappingsPayload:
    mappings: list[MappingOut]
    unmapped: list[UnmappedOut]
    known_emails: list[str]


@get(
    "/api/v1/mappings",
    tags=TAGS,
    summary="Identity mappings, unmapped identities and known emails",
    guards=[require_full_view],
)
async def api_mappings(
    request: Request[Any, Any, Any], db: AsyncSession, mapping_source: NamedDependency[str | None]
) -> MappingsPayload:
    chosen = mapping_source
    full = await mappings_view(
        db,
        source=chosen,
        status="all",
        search=None,
        page=1,
        allowed_domains=request.app.state.settings.sign_in.allowed_domains,
        page_size=None,
    )
    return MappingsPayload(
        mappings=[MappingOut(m.source, m.external_id, m.email, m.updated_by, m.updated_at) for m in full.mappings],
        unmapped=[UnmappedOut(u.source, u.external_id, u.usage, u.usage_kind, u.suggestion) for u in full.unmapped],
        known_emails=full.known_emails,
    )

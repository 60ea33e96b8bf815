"""GET /status (self-refreshing panel) and POST /status/sync (admins: enqueue "sync now" / "backfill")."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_admin, session_user
from abacus.db import concurrently
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.providers import registry
from abacus.queries import status as queries
from abacus.queries.audit import latest_audit_events
from abacus.queue_keys import job_id
from abacus.services.alert_delivery import channel_health
from abacus.services.audit import record_audit, sync_state_snapshot
from abacus.web.errors import BadParameter
from abacus.web.params import now_utc
from abacus.web.rendering import render
from abacus.worker.enqueue import arq_pool

FRAGMENTS = {"status-panel": "fragments/status_panel.html"}


async def status_context(
    request: Request[Any, Any, Any], audit_page: int = 1, viewer: Viewer = EVERYONE
) -> dict[str, Any]:
    settings = request.app.state.settings
    now = now_utc(request)

    async def read(db: AsyncSession) -> tuple[Any, ...]:
        # one connection: the data's figures from the page cache, then what changes without a data version (sync
        # cursors, audit log, deliveries), each a small read; the worker's state comes from Redis meanwhile
        figures = await queries.status_figures(db, viewer)
        providers = await queries.provider_statuses(db, settings, now, figures.data_from)
        return (
            figures,
            providers,
            await latest_audit_events(db, page=audit_page, viewer=viewer),
            await channel_health(db),
            await queries.failing_live_days(db, viewer),
        )

    [(figures, providers, audit, channels, failing_live)], worker = await asyncio.gather(
        concurrently(request.app.state.sessionmaker, read),
        queries.worker_status(request.app.state.redis, settings.jobs.queue),
    )
    return {
        "nav": "status",
        "now": now,
        "lifetime": figures.lifetime,
        "providers": providers,
        "unattributed": figures.unattributed,
        "unmapped_github": figures.unmapped_github,
        "audit": audit,
        # an alert channel failing for 24 hours (docs/operations.md §12)
        "failing_channels": [c for c in channels if c.flagged(now)],
        "failing_live": failing_live,
        "worker": worker,
        "schedule": queries.schedule_rows(settings),
    }


@get("/status", name="status")
async def status_page(
    request: Request[Any, Any, Any], page_number: NamedDependency[int], viewer: NamedDependency[Viewer]
) -> Template:
    context = await status_context(request, page_number, viewer)
    return render(request, "pages/status.html", context, fragments=FRAGMENTS)


@post("/status/sync", guards=[require_admin], status_code=200)
async def sync_now(
    request: Request[Any, Any, Any], data: Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
) -> Template:
    provider, kind = data.get("provider", ""), data.get("kind", "sync")
    if provider not in registry.NAMES:
        raise BadParameter("provider", f"{provider!r} is not one of {', '.join(registry.NAMES)}")
    if kind not in ("sync", "backfill"):
        raise BadParameter("kind", f"{kind!r} is not sync or backfill")
    settings = request.app.state.settings
    described = registry.get(provider)
    if not registry.configured(settings, described):
        raise BadParameter("provider", f"{provider} is not configured")
    job = described.job("forward" if kind == "sync" else "backfill")
    if job is None:
        raise BadParameter("kind", f"{provider} has no {kind} job")
    if request.app.state.arq is None:
        request.app.state.arq = await arq_pool(settings)
    name = job.name
    admin = session_user(request)["email"]  # type: ignore[index]
    async with request.app.state.sessionmaker() as db, db.begin():  # the audit row commits only if the job is queued
        state = await sync_state_snapshot(db, provider)
        queued = await request.app.state.arq.enqueue_job(name, _job_id=job_id(name, "manual"))
        await record_audit(
            db,
            actor=admin,
            action=f"{kind}.enqueue",
            target=provider,
            before=state,
            after={"job": name, "queued": queued is not None},
        )
    context = await status_context(request)
    context["notice"] = f"Queued {name.replace('_', ' ')} — the panel updates when the worker picks it up."
    return render(request, "pages/status.html", context, fragments=FRAGMENTS)

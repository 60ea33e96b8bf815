"""arq task functions and their cron schedule (spec/README.md "Jobs").

Every job takes a lock named after itself, so a cron tick, a "sync now" click and a self re-enqueue never overlap.
Backfills walk one bounded chunk per run and re-enqueue themselves until their history is complete.
"""

from __future__ import annotations

import time
from typing import Any

from arq import cron, func

from abacus.logging_setup import get_logger
from abacus.providers import runner
from abacus.sync.context import SyncContext
from abacus.worker.locks import LOCK_TTL, job_lock

log = get_logger("abacus.worker")
BACKFILL_PAUSE_SECONDS = 1


def job_id(name: str, why: str) -> str:
    """Readable unique job ids (`backfill_cursor:next:…`), so the status page can name running jobs."""
    return f"{name}:{why}:{time.time_ns()}"


def _ctx(ctx: dict[str, Any]) -> SyncContext:
    return SyncContext(settings=ctx["settings"], sessionmaker=ctx["sessionmaker"])


def _summary(results: list[runner.SyncResult]) -> dict[str, Any]:
    return {r.label: {"records": r.records, "errors": r.errors, "complete": r.complete} for r in results}


async def _incremental(ctx: dict[str, Any], provider: str) -> dict[str, Any]:
    if not runner.configured(ctx["settings"], provider):
        return {"skipped": f"{provider} is not configured"}
    async with job_lock(ctx["redis"], f"sync_{provider}") as held:
        if not held:
            return {"skipped": "already running"}
        return _summary(await runner.run_incremental(_ctx(ctx), provider))


async def _backfill(ctx: dict[str, Any], provider: str) -> dict[str, Any]:
    if not runner.configured(ctx["settings"], provider):
        return {"skipped": f"{provider} is not configured"}
    name = f"backfill_{provider}"
    async with job_lock(ctx["redis"], name) as held:
        if not held:
            # Another run holds the lock — or held it when its worker died. Look again once the lock can have
            # expired; the fixed id keeps at most one such retry queued.
            await ctx["redis"].enqueue_job(name, _job_id=f"{name}:retry", _defer_by=LOCK_TTL + 1)
            return {"skipped": "already running; retry queued"}
        results = await runner.run_backfill_step(_ctx(ctx), provider)
    if any(r.ok and not r.complete for r in results):
        await ctx["redis"].enqueue_job(name, _job_id=job_id(name, "next"), _defer_by=BACKFILL_PAUSE_SECONDS)
    return _summary(results)


async def sync_anthropic(ctx: dict[str, Any]) -> dict[str, Any]:
    """Incremental Claude Code sync (trailing re-read of today − 2 … today) after refreshing API-key mappings."""
    if runner.configured(ctx["settings"], "anthropic"):
        await runner.run_mappings(_ctx(ctx), "anthropic")
    return await _incremental(ctx, "anthropic")


async def sync_cursor(ctx: dict[str, Any]) -> dict[str, Any]:
    """Incremental Cursor sync of complete hours with a 2-hour trailing re-read."""
    return await _incremental(ctx, "cursor")


async def sync_github(ctx: dict[str, Any]) -> dict[str, Any]:
    """Default-branch commits of the last 48 h per repository (catches missed webhooks, fills line stats)."""
    return await _incremental(ctx, "github")


async def sync_github_mappings(ctx: dict[str, Any]) -> dict[str, Any]:
    """Org members → work emails; re-points commit authors."""
    if not runner.configured(ctx["settings"], "github"):
        return {"skipped": "github is not configured"}
    async with job_lock(ctx["redis"], "sync_github_mappings") as held:
        if not held:
            return {"skipped": "already running"}
        return _summary(await runner.run_mappings(_ctx(ctx), "github"))


async def backfill_anthropic(ctx: dict[str, Any]) -> dict[str, Any]:
    return await _backfill(ctx, "anthropic")


async def backfill_cursor(ctx: dict[str, Any]) -> dict[str, Any]:
    return await _backfill(ctx, "cursor")


async def backfill_github(ctx: dict[str, Any]) -> dict[str, Any]:
    return await _backfill(ctx, "github")


async def github_webhook_followup(ctx: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """After a push webhook: fetch each commit's stats and parents, attribute, store."""
    from abacus.worker.webhook_jobs import github_webhook_followup as followup

    return await followup(ctx, delivery_id)


# Backfill results are not kept, so the fixed retry id is free again as soon as that retry has run.
FUNCTIONS = [
    sync_anthropic,
    sync_cursor,
    sync_github,
    sync_github_mappings,
    func(backfill_anthropic, keep_result=0),
    func(backfill_cursor, keep_result=0),
    func(backfill_github, keep_result=0),
    github_webhook_followup,
]
SYNC_JOBS = {"anthropic": "sync_anthropic", "cursor": "sync_cursor", "github": "sync_github"}
BACKFILL_JOBS = {"anthropic": "backfill_anthropic", "cursor": "backfill_cursor", "github": "backfill_github"}
INITIAL_JOBS = ["sync_github_mappings", *SYNC_JOBS.values(), *BACKFILL_JOBS.values()]
SIX_HOURLY = {0, 6, 12, 18}
CRON_JOBS = [
    # forward syncs also run when a worker starts, so a restart after downtime catches up at once
    cron(sync_anthropic, hour=SIX_HOURLY, minute=0, second=0, run_at_startup=True, timeout=1800),
    cron(sync_cursor, minute=0, second=0, run_at_startup=True, timeout=1800),
    cron(sync_github, minute=15, second=0, run_at_startup=True, timeout=1800),
    cron(sync_github_mappings, minute=30, second=0, timeout=600),
    cron(backfill_anthropic, hour={3, 9, 15, 21}, minute=20, second=0, run_at_startup=True, timeout=1800),
    cron(backfill_cursor, hour={3, 9, 15, 21}, minute=25, second=0, run_at_startup=True, timeout=1800),
    cron(backfill_github, hour={3, 9, 15, 21}, minute=35, second=0, run_at_startup=True, timeout=1800),
]
SCHEDULE = [  # (job, type, provider, human schedule) for the status page
    ("sync_anthropic", "forward", "anthropic", "Every 6 hours"),
    ("backfill_anthropic", "backfill", "anthropic", "Every 6 hours until complete"),
    ("sync_cursor", "forward", "cursor", "Hourly"),
    ("backfill_cursor", "backfill", "cursor", "Every 6 hours until complete"),
    ("sync_github", "forward", "github", "Hourly (last 48 h)"),
    ("sync_github_mappings", "mappings", "github", "Hourly"),
    ("backfill_github", "backfill", "github", "Every 6 hours until complete"),
]

"""arq task functions and their cron schedule, made from the provider registry (docs/operations.md §4 "Jobs").

Every job takes a lock named after itself, so a cron tick, a "sync now" click and a self re-enqueue never overlap.
Backfills walk one bounded chunk per run and re-enqueue themselves until their history is complete.
"""

from __future__ import annotations

from typing import Any

from arq import cron, func
from arq.cron import CronJob
from arq.typing import WorkerCoroutine
from arq.worker import Function

from abacus.logging_setup import get_logger
from abacus.providers import registry, runner
from abacus.providers.provider import Job, Provider
from abacus.queue_keys import job_id
from abacus.sync.context import SyncContext, SyncResult
from abacus.worker.alert_jobs import (
    DELIVER_JOB,
    DELIVER_TRIES,
    EVALUATE_JOB,
    check_budgets,
    deliver_budget_alert,
    evaluate_budgets_job,
)
from abacus.worker.csv_import_jobs import IMPORT_JOB, import_cursor_csv_file
from abacus.worker.locks import job_lock
from abacus.worker.otel_jobs import REBUILD_JOB, rebuild_otel_provisional
from abacus.worker.webhook_jobs import FOLLOWUP_JOB, FOLLOWUP_TRIES, github_webhook_followup

log = get_logger("abacus.worker")
BACKFILL_PAUSE_SECONDS = 1
JobFunction = WorkerCoroutine
"""arq's job protocol: `async (ctx, ...)` with a `__qualname__` (a plain Callable type has none)."""


def _sync_context(ctx: dict[str, Any]) -> SyncContext:
    return SyncContext(settings=ctx["settings"], sessionmaker=ctx["sessionmaker"])


def _summary(results: list[SyncResult]) -> dict[str, Any]:
    return {r.label: {"records": r.records, "errors": r.errors, "complete": r.complete} for r in results}


async def _forward(ctx: dict[str, Any], provider: Provider, name: str) -> dict[str, Any]:
    if provider.mappings_before_sync:
        await runner.run_mappings(_sync_context(ctx), provider)
    async with job_lock(ctx["redis"], ctx["settings"].jobs, name) as held:
        if not held:
            return {"skipped": "already running"}
        summary = _summary(await runner.run_incremental(_sync_context(ctx), provider))
    # new usage can cross a budget's threshold: check budgets after every forward sync (docs/operations.md §12)
    summary["budgets"] = await check_budgets(ctx)
    return summary


async def _mappings(ctx: dict[str, Any], provider: Provider, name: str) -> dict[str, Any]:
    async with job_lock(ctx["redis"], ctx["settings"].jobs, name) as held:
        if not held:
            return {"skipped": "already running"}
        return _summary(await runner.run_mappings(_sync_context(ctx), provider))


async def _backfill(ctx: dict[str, Any], provider: Provider, name: str) -> dict[str, Any]:
    async with job_lock(ctx["redis"], ctx["settings"].jobs, name) as held:
        if not held:
            # Another run holds the lock — or held it when its worker died. Look again once the lock can have
            # expired; the fixed id keeps at most one such retry queued.
            # (arq's job ids are global to the Redis, so the id names the queue: another install's retry is not ours)
            retry_in = ctx["settings"].jobs.lock_seconds + 1
            retry_id = f"{name}:retry:{ctx['settings'].jobs.queue}"
            await ctx["redis"].enqueue_job(name, _job_id=retry_id, _defer_by=retry_in)
            return {"skipped": "already running; retry queued"}
        results = await runner.run_backfill_step(_sync_context(ctx), provider)
    if any(r.ok and not r.complete for r in results):
        await ctx["redis"].enqueue_job(name, _job_id=job_id(name, "next"), _defer_by=BACKFILL_PAUSE_SECONDS)
    return _summary(results)


async def _teams(ctx: dict[str, Any], provider: Provider, name: str) -> dict[str, Any]:
    async with job_lock(ctx["redis"], ctx["settings"].jobs, name) as held:
        if not held:
            return {"skipped": "already running"}
        return _summary(await runner.run_teams(_sync_context(ctx), provider))


RUNS = {"forward": _forward, "mappings": _mappings, "teams": _teams, "backfill": _backfill}


def job_function(provider: Provider, job: Job) -> JobFunction:
    """The arq coroutine of one registered job: skipped when its provider is not configured."""

    async def run(ctx: dict[str, Any]) -> dict[str, Any]:
        if not registry.configured(ctx["settings"], provider):
            return {"skipped": f"{provider.name} is not configured"}
        return await RUNS[job.kind](ctx, provider, job.name)

    run.__name__ = run.__qualname__ = job.name
    run.__doc__ = f"{provider.display_name}: {job.kind} job ({job.schedule})."
    return run


JOB_FUNCTIONS: dict[str, JobFunction] = {job.name: job_function(p, job) for p, job in registry.all_jobs()}
# Backfill results are not kept, so the fixed retry id is free again as soon as that retry has run.
FUNCTIONS: list[Function] = [
    func(JOB_FUNCTIONS[job.name], name=job.name, keep_result=0 if job.kind == "backfill" else None)
    for _, job in registry.all_jobs()
] + [
    func(github_webhook_followup, name=FOLLOWUP_JOB, max_tries=FOLLOWUP_TRIES),
    func(import_cursor_csv_file, name=IMPORT_JOB, timeout=1800, max_tries=1),
    func(evaluate_budgets_job, name=EVALUATE_JOB, timeout=600, max_tries=1),
    func(deliver_budget_alert, name=DELIVER_JOB, timeout=60, max_tries=DELIVER_TRIES),
    func(rebuild_otel_provisional, name=REBUILD_JOB, timeout=600, max_tries=3, keep_result=60),
]
CRON_JOBS: list[CronJob] = [
    cron(
        JOB_FUNCTIONS[job.name],
        name=job.name,
        hour=set(job.hours) if job.hours is not None else None,
        minute=job.minute,
        second=0,
        run_at_startup=job.run_at_startup,
        timeout=job.timeout_seconds,
    )
    for _, job in registry.all_jobs()
] + [
    cron(evaluate_budgets_job, name=EVALUATE_JOB, minute=7, second=0, timeout=600, unique=True),
    # the sweep: marks whose rebuild was never queued (the receiver queues one per export window)
    cron(rebuild_otel_provisional, name=f"{REBUILD_JOB}_sweep", second=30, timeout=600, unique=True),
]

"""arq worker configuration: queue, cron table and the task functions, made from resolved settings.

`abacus worker` resolves its settings once and runs `worker_settings(settings)`. `arq worker.WorkerSettings` (from
the project root) gets the same through `WorkerSettings`, resolved when first looked up.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

import structlog
from arq import cron
from arq.connections import RedisSettings
from arq.cron import CronJob

from abacus.db import create_engine, session_factory
from abacus.garbage_collection import collect_less_often
from abacus.logging_setup import configure_logging, get_logger
from abacus.settings import Settings
from abacus.worker.heartbeat import heartbeat
from abacus.worker.locks import JobLeases, lease_seconds
from abacus.worker.tasks import CRON_JOBS, FUNCTIONS

log = get_logger("abacus.worker")


async def on_startup(ctx: dict[str, Any]) -> None:
    settings: Settings = ctx["settings"]  # given to the Worker as its initial ctx
    configure_logging(settings.env)
    collect_less_often()
    engine = create_engine(settings.database.url or "", pool_size=5)
    ctx["engine"] = engine
    ctx["sessionmaker"] = session_factory(engine)
    await heartbeat(ctx)
    leases = JobLeases(ctx["redis"], lease_seconds(settings.jobs))
    ctx["leases"], ctx["lease_refresher"] = leases, asyncio.create_task(leases.keep_alive())
    log.info("worker started", queue=settings.jobs.queue)


async def on_shutdown(ctx: dict[str, Any]) -> None:
    refresher = ctx.get("lease_refresher")
    if refresher is not None:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()
    log.info("worker stopped")


async def on_job_start(ctx: dict[str, Any]) -> None:
    """Every log line of a job carries its id (arq runs each job in its own task, so the binding stays with it);
    the job's in-progress marker goes on a short lease, so a killed worker's job runs again soon (worker/locks.py)."""
    structlog.contextvars.bind_contextvars(job_id=ctx["job_id"], job_try=ctx.get("job_try"))
    if (leases := ctx.get("leases")) is not None:  # (set by on_startup; absent for a Worker built without it)
        await leases.start(ctx["job_id"])


async def on_job_end(ctx: dict[str, Any]) -> None:
    if (leases := ctx.get("leases")) is not None:
        leases.end(ctx["job_id"])
    structlog.contextvars.unbind_contextvars("job_id", "job_try")


def cron_table(queue: str) -> list[CronJob]:
    """The worker's cron jobs, each named for `queue` (`sync_cursor@<queue>`). arq files a cron run under
    `<name>:<scheduled time in ms>`, and job ids are global to a Redis: two installs on one Redis with the same
    schedule would otherwise enqueue one run between them (the other's budget check or sync silently skipped).
    Fresh copies per worker: a cron job keeps its next run time."""
    heartbeat_cron = cron(heartbeat, second={0, 30}, run_at_startup=True, unique=True, timeout=10)
    return [replace(job, name=f"{job.name}@{queue}") for job in (heartbeat_cron, *CRON_JOBS)]


def worker_settings(settings: Settings) -> dict[str, Any]:
    """arq Worker arguments for `settings`, whose database and Redis URLs are resolved."""
    if not settings.database.url or not settings.redis.url:
        raise ValueError("the worker needs resolved DATABASE_URL and REDIS_URL")
    return {
        "redis_settings": RedisSettings.from_dsn(settings.redis.url),
        "queue_name": settings.jobs.queue,
        "functions": FUNCTIONS,
        "cron_jobs": cron_table(settings.jobs.queue),
        "on_startup": on_startup,
        "on_shutdown": on_shutdown,
        "on_job_start": on_job_start,
        "on_job_end": on_job_end,
        "ctx": {"settings": settings},
        "max_jobs": 4,
        "job_timeout": 900,
        "keep_result": 3600,
        "health_check_interval": 30,
    }


def __getattr__(name: str) -> Any:
    """`WorkerSettings` for `arq worker.WorkerSettings`: settings and servers resolved on first use."""
    if name != "WorkerSettings":
        raise AttributeError(name)
    from abacus.runtime import resolve_runtime_settings

    runtime = resolve_runtime_settings(web=False)
    configured = type("WorkerSettings", (), worker_settings(runtime.settings))
    globals()["WorkerSettings"] = configured
    return configured

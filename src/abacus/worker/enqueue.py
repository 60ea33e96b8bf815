"""Putting jobs on the arq queue from the web app, the CLI and the demo (unique job ids: never twice at once)."""

from __future__ import annotations

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

from abacus.queue_keys import job_id
from abacus.settings import Settings


async def arq_pool(settings: Settings) -> ArqRedis:
    """A connection to the settings' Redis that enqueues on their queue (`redis.url` must be resolved)."""
    return await create_pool(RedisSettings.from_dsn(settings.redis.url or ""), default_queue_name=settings.jobs.queue)


async def enqueue_initial_sync(settings: Settings) -> list[str]:
    """Enqueue every provider's incremental sync and backfill once (demo start, first run)."""
    from abacus.providers.registry import initial_jobs

    pool = await arq_pool(settings)
    try:
        enqueued = []
        for name in initial_jobs():
            job = await pool.enqueue_job(name, _job_id=job_id(name, "initial"))
            if job is not None:
                enqueued.append(name)
        return enqueued
    finally:
        await pool.aclose()


async def enqueue_jobs(settings: Settings, names: list[str], why: str = "manual") -> list[str]:
    """Enqueue the named jobs now; returns those actually enqueued."""
    pool = await arq_pool(settings)
    try:
        return [name for name in names if await pool.enqueue_job(name, _job_id=job_id(name, why)) is not None]
    finally:
        await pool.aclose()

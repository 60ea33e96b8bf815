"""A per-job Redis lock so a job never overlaps itself, kept alive while the job runs.

The lock expires `jobs.lock_seconds` (ABACUS_JOB_LOCK_SECONDS) after its holder stops refreshing it, so a
SIGKILLed worker blocks the job only briefly (arq re-queues the interrupted job itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

from redis.asyncio import Redis

from abacus.queue_keys import lock_prefix
from abacus.settings import JobSettings

RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


async def _eval(redis: Redis, script: str, key: str, *args: str) -> None:
    """EVAL `script` on one key."""
    # redis-py types eval() once for its sync and asyncio clients (`Awaitable[str] | str`); redis.asyncio's awaits
    await redis.eval(script, 1, key, *args)  # type: ignore[misc]


@contextlib.asynccontextmanager
async def job_lock(redis: Redis, jobs: JobSettings, name: str) -> AsyncIterator[bool]:
    """Yields True when this run holds the lock for `name`, False when another run does (then do nothing)."""
    key, token, ttl = f"{lock_prefix(jobs.queue)}{name}", uuid.uuid4().hex, jobs.lock_seconds
    acquired = bool(await redis.set(key, token, nx=True, px=int(ttl * 1000)))
    if not acquired:
        yield False
        return

    async def keep_alive() -> None:
        while True:
            await asyncio.sleep(ttl / 3)
            await _eval(redis, REFRESH, key, token, str(int(ttl * 1000)))

    refresher = asyncio.create_task(keep_alive())
    try:
        yield True
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await _eval(redis, RELEASE, key, token)

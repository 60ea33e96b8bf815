"""A per-job Redis lock so a job never overlaps itself, and a short lease on arq's own "job in progress" marker;
both kept alive while the job runs.

The lock expires `jobs.lock_seconds` (ABACUS_JOB_LOCK_SECONDS) after its holder stops refreshing it. arq marks a
started job in progress for the longest job timeout plus 10 s (30 minutes here) and re-runs it only once that marker
is gone, so a SIGKILLed worker's jobs waited half an hour. `JobLeases` shortens the marker to `lease_seconds(jobs)`
(the lock's time plus a margin, so the lock is free when the job runs again) and refreshes it while the job runs:
the jobs of a killed worker run again about a minute later, on any worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from arq.constants import in_progress_key_prefix
from redis.asyncio import Redis

from abacus.logging_setup import get_logger
from abacus.queue_keys import lock_prefix
from abacus.settings import JobSettings

log = get_logger("abacus.worker")
LEASE_MARGIN_SECONDS = 5.0
RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
REFRESH = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
)


async def _eval(redis: Redis, script: str, key: str, *args: str) -> None:
    """EVAL `script` on one key."""
    # redis-py types eval() once for its sync and asyncio clients (`Awaitable[str] | str`); redis.asyncio's awaits
    await redis.eval(script, 1, key, *args)  # type: ignore[misc]


async def _refresh_every(seconds: float, refresh: Callable[[], Awaitable[None]], what: str) -> None:
    """Call `refresh` every `seconds` until cancelled. A failed refresh is logged and tried again next round (the
    expiry has slack for two misses): a refresher that died on one error would let a running job's lock or lease
    lapse without a word, and another worker would start the same job beside it."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await refresh()
        except Exception as exc:  # Redis briefly away, a reply cut off: anything but cancellation
            log.warning(f"{what} refresh failed", error=repr(exc))


@contextlib.asynccontextmanager
async def job_lock(redis: Redis, jobs: JobSettings, name: str) -> AsyncIterator[bool]:
    """Yields True when this run holds the lock for `name`, False when another run does (then do nothing)."""
    key, token, ttl = f"{lock_prefix(jobs.queue)}{name}", uuid.uuid4().hex, jobs.lock_seconds
    acquired = bool(await redis.set(key, token, nx=True, px=int(ttl * 1000)))
    if not acquired:
        yield False
        return

    async def refresh() -> None:
        await _eval(redis, REFRESH, key, token, str(int(ttl * 1000)))

    refresher = asyncio.create_task(_refresh_every(ttl / 3, refresh, "job lock"))
    try:
        yield True
    finally:
        refresher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresher
        await _eval(redis, RELEASE, key, token)


def lease_seconds(jobs: JobSettings) -> float:
    """How long a running job's in-progress marker outlives its worker: longer than the job lock, by a margin."""
    return jobs.lock_seconds + LEASE_MARGIN_SECONDS


class JobLeases:
    """The in-progress markers of one worker's running jobs, held on a short lease (see the module docstring)."""

    def __init__(self, redis: Redis, seconds: float) -> None:
        self.redis = redis
        self.lease_ms = int(seconds * 1000)
        self.running: set[str] = set()

    async def start(self, job_id: str) -> None:
        """A job starts: from now on its marker lives `seconds` past the last refresh instead of arq's 30 minutes."""
        self.running.add(job_id)
        await self.redis.pexpire(in_progress_key_prefix + job_id, self.lease_ms)

    def end(self, job_id: str) -> None:
        """The job ended; arq deletes (or, for a cron job, briefly keeps) its marker itself."""
        self.running.discard(job_id)

    async def refresh(self) -> None:
        for job_id in list(self.running):
            # PEXPIRE never creates a key: a marker arq already removed stays removed
            await self.redis.pexpire(in_progress_key_prefix + job_id, self.lease_ms)

    async def keep_alive(self) -> None:
        """Refresh every running job's lease three times per lease, until cancelled (worker shutdown)."""
        await _refresh_every(self.lease_ms / 3000, self.refresh, "job lease")

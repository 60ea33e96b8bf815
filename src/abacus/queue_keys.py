"""Redis names shared by the worker, which writes them, and the web app and CLI, which read them.

One Redis may serve several installs (or test runs): every name carries the queue name (`settings.jobs.queue`,
ABACUS_QUEUE), so each function here takes it.
"""

from __future__ import annotations

import time
from datetime import datetime

from redis.asyncio import Redis


def lock_prefix(queue: str) -> str:
    """Prefix of the per-job locks of `queue` (worker/locks.py); the job name follows it."""
    return f"abacus:lock:{queue}:"


def heartbeat_key(queue: str) -> str:
    """Where the workers of `queue` record that they are alive."""
    return f"abacus:worker:heartbeat:{queue}"


def job_id(name: str, why: str) -> str:
    """Readable unique job ids (`backfill_cursor:next:…`), so the status page can name running jobs."""
    return f"{name}:{why}:{time.time_ns()}"


async def last_heartbeat(redis: Redis, queue: str) -> datetime | None:
    """When a worker of `queue` last said it was alive (None: never, or more than 10 minutes ago)."""
    value = await redis.get(heartbeat_key(queue))
    if not value:
        return None
    return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)


async def running_jobs(redis: Redis, queue: str) -> list[str]:
    """Names of the jobs of `queue` running now: each holds a lock while it runs (worker/locks.py)."""
    prefix, running = lock_prefix(queue), []
    async for key in redis.scan_iter(match=f"{prefix}*", count=200):
        running.append((key.decode() if isinstance(key, bytes) else key).removeprefix(prefix))
    return sorted(running)

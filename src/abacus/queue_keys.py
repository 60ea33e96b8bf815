"""Redis names shared by the worker, which writes them, and the web app and CLI, which read them.

One Redis may serve several installs (or test runs): every name carries the queue name (`settings.jobs.queue`,
ABACUS_QUEUE), so each function here takes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
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


async def running_jobs(redis: Redis, queue: str, names: Iterable[str]) -> list[str]:
    """Which of the job `names` of `queue` run now: each holds a lock while it runs (worker/locks.py). One MGET of
    their lock keys, never a SCAN (the same Redis holds the page cache's many keys)."""
    wanted = sorted(set(names))
    if not wanted:
        return []
    held = await redis.mget([f"{lock_prefix(queue)}{name}" for name in wanted])
    return [name for name, token in zip(wanted, held, strict=True) if token is not None]

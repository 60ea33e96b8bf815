"""Redis names shared by the worker, which writes them, and the web app and CLI, which read them.

One Redis may serve several installs (or test runs): every name carries the queue name.
"""

from __future__ import annotations

import os
import time
from datetime import datetime

from redis.asyncio import Redis

QUEUE_NAME = os.environ.get("ABACUS_QUEUE", "abacus:queue")
LOCK_PREFIX = f"abacus:lock:{QUEUE_NAME}:"
HEARTBEAT_KEY = f"abacus:worker:heartbeat:{QUEUE_NAME}"


def job_id(name: str, why: str) -> str:
    """Readable unique job ids (`backfill_cursor:next:…`), so the status page can name running jobs."""
    return f"{name}:{why}:{time.time_ns()}"


async def last_heartbeat(redis: Redis) -> datetime | None:
    """When a worker of this queue last said it was alive (None: never, or more than 10 minutes ago)."""
    value = await redis.get(HEARTBEAT_KEY)
    if not value:
        return None
    return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)


async def running_jobs(redis: Redis) -> list[str]:
    """Names of the jobs of this queue running now: each holds a lock while it runs (worker/locks.py)."""
    running = []
    async for key in redis.scan_iter(match=f"{LOCK_PREFIX}*", count=200):
        running.append((key.decode() if isinstance(key, bytes) else key).removeprefix(LOCK_PREFIX))
    return sorted(running)

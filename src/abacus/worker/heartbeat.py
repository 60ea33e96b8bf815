"""The worker's heartbeat: a timestamp in Redis the status page reads to show the worker is alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from redis.asyncio import Redis

from abacus.worker.queue import QUEUE_NAME

HEARTBEAT_KEY = f"abacus:worker:heartbeat:{QUEUE_NAME}"  # per queue: one Redis may serve several installs


async def heartbeat(ctx: dict[str, Any]) -> str:
    """arq cron job: record that a worker is alive (kept 10 minutes)."""
    now = datetime.now(UTC).isoformat()
    await ctx["redis"].set(HEARTBEAT_KEY, now, ex=600)
    return now


async def last_heartbeat(redis: Redis) -> datetime | None:
    value = await redis.get(HEARTBEAT_KEY)
    if not value:
        return None
    return datetime.fromisoformat(value.decode() if isinstance(value, bytes) else value)

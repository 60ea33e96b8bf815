"""The worker's heartbeat: a timestamp in Redis the status page reads to show the worker is alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from abacus.queue_keys import heartbeat_key


async def heartbeat(ctx: dict[str, Any]) -> str:
    """arq cron job: record that a worker is alive (kept 10 minutes)."""
    now = datetime.now(UTC).isoformat()
    await ctx["redis"].set(heartbeat_key(ctx["settings"].jobs.queue), now, ex=600)
    return now

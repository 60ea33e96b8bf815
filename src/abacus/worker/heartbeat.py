"""The worker's heartbeat: a timestamp in Redis the status page reads to show the worker is alive."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from abacus.queue_keys import HEARTBEAT_KEY


async def heartbeat(ctx: dict[str, Any]) -> str:
    """arq cron job: record that a worker is alive (kept 10 minutes)."""
    now = datetime.now(UTC).isoformat()
    await ctx["redis"].set(HEARTBEAT_KEY, now, ex=600)
    return now

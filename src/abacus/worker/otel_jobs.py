"""The OTel rebuild job: the provisional rows of the days OTLP exports marked, rewritten off the request path.

The receiver queues `rebuild_otel_provisional` after every export that stored points, under an id per
`COALESCE_SECONDS` window and deferred to the window's end: a burst of exports makes one job per window, and a job
running never blocks the next window's. The job rewrites every marked day in one transaction that also deletes the
marks it read (provisional.rebuild_dirty_days), so a job lost with its worker leaves the marks for the next one; the
cron sweep (every minute) picks up marks whose job was never queued (Redis down at the time).
"""

from __future__ import annotations

import math
from typing import Any

from abacus.db import live_write
from abacus.logging_setup import get_logger
from abacus.provisional import rebuild_dirty_days

log = get_logger("abacus.otel")

REBUILD_JOB = "rebuild_otel_provisional"
COALESCE_SECONDS = 5.0
"""Exports of one such window share one rebuild; live figures lag the last export by at most this (plus the job):
little beside the Today strip's 30 s polling and the page cache's minute for live rows, while a busy day's rebuild
(which reads all of the day's points) runs at most once per window."""


def rebuild_window(now: float) -> int:
    """The coalescing window `now` (epoch seconds) falls in."""
    return math.floor(now / COALESCE_SECONDS)


def rebuild_job_id(queue: str, window: int) -> str:
    """One rebuild per (queue, window): arq never queues an id it holds queued or kept as a result."""
    return f"{REBUILD_JOB}:{queue}:{window}"


async def enqueue_rebuild(arq: Any, queue: str, now: float) -> int:
    """Queue the rebuild of `now`'s window to run at the window's end (a no-op when it is queued already); returns
    the window."""
    window = rebuild_window(now)
    run_in = max((window + 1) * COALESCE_SECONDS - now, 0.0)
    await arq.enqueue_job(REBUILD_JOB, _job_id=rebuild_job_id(queue, window), _defer_by=run_in)
    return window


async def rebuild_otel_provisional(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job (queued by the receiver, and every minute): rewrite the provisional rows of every marked day."""
    async with ctx["sessionmaker"]() as db, db.begin():
        await live_write(db)  # provisional rows only: cached pages pick them up within a minute, not at once
        days = await rebuild_dirty_days(db)
    if days:
        log.info("otel provisional rows rebuilt", days=[d.isoformat() for d in sorted(days)])
    return {"days": len(days)}

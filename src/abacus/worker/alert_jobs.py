"""Budget jobs: the check (after every forward sync and hourly) and one delivery job per (alert, channel).

The check creates each alert once (services/budgets.py) and queues its deliveries under a fixed job id, so a
delivery is queued once however many checks see it. A delivery job retries failed tries with a doubling backoff.
"""

from __future__ import annotations

from typing import Any

import httpx
from arq.worker import Retry

from abacus.logging_setup import get_logger
from abacus.providers.http import tls_context
from abacus.services.alert_delivery import deliver_alert, utc_now
from abacus.services.budgets import PendingDelivery, evaluate_budgets

log = get_logger("abacus.alerts")

EVALUATE_JOB = "evaluate_budgets"
DELIVER_JOB = "deliver_budget_alert"
DELIVER_TRIES = 20
"""arq's cap on tries of one delivery; ABACUS_ALERT_MAX_TRIES (at most 20) decides when the job stops retrying."""
RETRY_CAP_SECONDS = 3600.0


def delivery_job_id(queue: str, item: PendingDelivery) -> str:
    """One id per (queue, database, alert, channel): arq keeps a job's id (and its result) for a while, so the same
    delivery is not queued twice, while another install or a re-created database never meets it."""
    return f"alert-delivery:{queue}:{item.database}:{item.alert_id}:{item.channel}"


def retry_delay(base_seconds: float, job_try: int) -> float:
    """Seconds before try `job_try + 1`: base, 2 × base, 4 × base, … capped at an hour."""
    return float(min(base_seconds * 2 ** max(job_try - 1, 0), RETRY_CAP_SECONDS))


async def enqueue_deliveries(redis: Any, pending: list[PendingDelivery]) -> int:
    """Queue one delivery job per (alert, channel); a job already queued or done under that id is not queued again."""
    queued = 0
    queue = str(getattr(redis, "default_queue_name", ""))
    for item in pending:
        job = await redis.enqueue_job(DELIVER_JOB, item.alert_id, item.channel, _job_id=delivery_job_id(queue, item))
        queued += job is not None
    return queued


async def check_budgets(ctx: dict[str, Any]) -> dict[str, Any]:
    """Evaluate every budget now and queue the deliveries of the alerts it created. Never raises: a failing check
    must not fail the sync it follows (it is logged and runs again within the hour)."""
    try:
        pending = await evaluate_budgets(ctx["sessionmaker"], utc_now())
        queued = await enqueue_deliveries(ctx["redis"], pending)
    except Exception:
        log.exception("budget check failed")
        return {"budgets": "check failed"}
    return {"alerts_queued": queued}


async def evaluate_budgets_job(ctx: dict[str, Any]) -> dict[str, Any]:
    """arq job (hourly, and on demand): the budget check."""
    return await check_budgets(ctx)


async def deliver_budget_alert(ctx: dict[str, Any], alert_id: int, channel: str) -> dict[str, Any]:
    """arq job: deliver one alert to one channel; on a failed try, retry later (Retry) until the last try."""
    settings = ctx["settings"]
    job_try = int(ctx.get("job_try") or 1)
    last = job_try >= min(settings.alerts.max_tries, DELIVER_TRIES)
    async with httpx.AsyncClient(verify=tls_context()) as client:
        outcome = await deliver_alert(
            ctx["sessionmaker"], settings, client, alert_id, channel, job_try, last_attempt=last
        )
    if outcome.retry:
        raise Retry(defer=retry_delay(settings.alerts.retry_seconds, job_try))
    return {"status": outcome.status, "detail": outcome.detail}

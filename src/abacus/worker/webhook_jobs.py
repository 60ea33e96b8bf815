"""GitHub webhook follow-ups: delivery bookkeeping (dedupe key) and the arq job that stores a push's commits.

The web handler verifies, records the delivery, parks the raw payload in Redis and enqueues
`github_webhook_followup(delivery_id)`; the job reads the payload back and runs `github.process_push`.
"""

from __future__ import annotations

import json
from typing import Any

from arq.worker import Retry
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.logging_setup import get_logger
from abacus.models import WebhookDelivery
from abacus.providers import github
from abacus.providers.http import RateLimited
from abacus.sync.context import SyncContext

log = get_logger("abacus.webhooks")

FOLLOWUP_JOB = "github_webhook_followup"
PAYLOAD_TTL_SECONDS = 7 * 24 * 3600
FOLLOWUP_TRIES = 8
"""arq tries of one follow-up: rate-limited ones wait for GitHub's reset (hours in all); a killed worker's counts."""
RETRY_BASE_SECONDS = 60.0
RETRY_CAP_SECONDS = 3600.0
"""The backoff doubles from a minute up to an hour (GitHub's primary rate limit resets hourly)."""


def nul_location(payload: Any) -> str | None:
    """Where a string holding a NUL sits in decoded JSON (`commits[2].message`), or None."""
    stack: list[tuple[str, Any]] = [("payload", payload)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return path
        if isinstance(value, dict):
            for key, item in value.items():
                if "\x00" in key:
                    return f"{path} key"
                stack.append((f"{key}" if path == "payload" else f"{path}.{key}", item))
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", item) for i, item in enumerate(value))
    return None


def rate_limit_retry_delay(retry_after: float, job_try: int) -> float:
    """Seconds before try `job_try + 1` of a rate-limited follow-up: an exponential backoff (60 s, 120 s, … capped at
    an hour), but never before the provider's reset time (`retry_after`, plus a second)."""
    backoff = min(RETRY_BASE_SECONDS * 2 ** max(job_try - 1, 0), RETRY_CAP_SECONDS)
    return max(retry_after + 1.0, backoff)


def payload_key(queue: str, delivery_id: str) -> str:
    """Redis key holding a push delivery's raw JSON body until its follow-up job has stored it. It names the queue:
    two installs on one Redis that receive the same delivery (one GitHub org, two webhooks) keep their own copy."""
    return f"abacus:webhook:{queue}:{delivery_id}"


def followup_job_id(queue: str, delivery_id: str) -> str:
    """arq job id: a delivery is never queued twice on a queue. arq's job ids are global to a Redis, so the id
    names the queue: another install's follow-up of the same delivery does not swallow this one."""
    return f"github-push:{queue}:{delivery_id}"


async def record_delivery(db: AsyncSession, delivery_id: str, event: str, status: str) -> bool:
    """INSERT the delivery unless its id is known; True when it is new (caller commits)."""
    stmt = (
        insert(WebhookDelivery)
        .values(delivery_id=delivery_id, event=event, status=status)
        .on_conflict_do_nothing(index_elements=["delivery_id"])
        .returning(WebhookDelivery.delivery_id)
    )
    return (await db.execute(stmt)).first() is not None


async def github_webhook_followup(ctx: dict[str, Any], delivery_id: str) -> dict[str, Any]:
    """arq job: store the commits of push `delivery_id` (G4 stats, merges dropped) and mark the delivery.

    Needs `ctx["redis"]`, `ctx["settings"]`, `ctx["sessionmaker"]` (optional `ctx["backoff_base"]`, `ctx["job_try"]`).
    The payload is deleted from Redis once processed; a failed delivery keeps it for a retry until its TTL. A GitHub
    rate limit raises arq's Retry, deferred by `rate_limit_retry_delay` (the delivery stays `received`), until the
    last of FOLLOWUP_TRIES marks it `failed`.
    """
    sync_ctx = SyncContext(
        settings=ctx["settings"], sessionmaker=ctx["sessionmaker"], backoff_base=float(ctx.get("backoff_base", 1.0))
    )
    redis = ctx["redis"]
    key = payload_key(ctx["settings"].jobs.queue, delivery_id)
    raw = await redis.get(key)
    if raw is None:
        error = "payload missing from Redis (expired or never stored)"
        async with sync_ctx.sessionmaker() as db, db.begin():
            await github.set_delivery_status(db, delivery_id, "failed", error)
        log.warning("github push follow-up without payload", delivery=delivery_id)
        return {"delivery_id": delivery_id, "commits": 0, "errors": [error]}
    try:
        payload = json.loads(raw)
    except ValueError:
        payload = None
    refusal: str | None = None
    if not isinstance(payload, dict):
        refusal = "stored payload is not a JSON object"
    elif where := nul_location(payload):  # PostgreSQL text cannot hold NUL: refuse precisely, store nothing
        refusal = f"push payload: {where} contains a NUL character"
    if refusal is not None or not isinstance(payload, dict):
        refusal = refusal or "stored payload is not a JSON object"
        async with sync_ctx.sessionmaker() as db, db.begin():
            await github.set_delivery_status(db, delivery_id, "failed", refusal)
        log.warning("github push follow-up refused", delivery=delivery_id, error=refusal)
        return {"delivery_id": delivery_id, "commits": 0, "errors": [refusal]}
    try:
        result = await github.process_push(sync_ctx, delivery_id, payload)
    except RateLimited as exc:
        job_try = int(ctx.get("job_try") or 1)
        if job_try >= FOLLOWUP_TRIES:
            error = f"{exc} (gave up after {job_try} tries)"
            async with sync_ctx.sessionmaker() as db, db.begin():
                await github.set_delivery_status(db, delivery_id, "failed", error[:2000])
            log.warning("github push follow-up rate limited; giving up", delivery=delivery_id, tries=job_try)
            return {"delivery_id": delivery_id, "commits": 0, "errors": [error]}
        delay = rate_limit_retry_delay(exc.retry_after, job_try)
        log.warning(
            "github push follow-up rate limited; retrying", delivery=delivery_id, job_try=job_try, retry_in_s=delay
        )
        raise Retry(defer=delay) from exc
    if result.ok:
        await redis.delete(key)
    log.info("github push processed", delivery=delivery_id, commits=result.records, errors=len(result.errors))
    return {"delivery_id": delivery_id, "commits": result.records, "errors": result.errors}

"""POST /webhooks/github: verify the HMAC signature, record the delivery once, enqueue the push follow-up, 202.

Status codes (docs/security.md §4): no secret configured → 503; body over 25 MB → 413; missing/invalid signature → 401
(nothing stored); unparsable JSON → 400; redelivery → 200 no-op; `ping` → 200; `push` → 202 queued (pushes to
other branches or tags → 202 ignored, no job); any other event → 202 ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from litestar import Request, Response, post

from abacus.logging_setup import get_logger
from abacus.providers.github import pushed_to_default_branch
from abacus.worker.webhook_jobs import (
    FOLLOWUP_JOB,
    PAYLOAD_TTL_SECONDS,
    followup_job_id,
    payload_key,
    record_delivery,
)

log = get_logger("abacus.webhooks")

MAX_BODY_BYTES = 25 * 1024 * 1024
MAX_DELIVERY_ID = 64


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    """`X-Hub-Signature-256` equals `sha256=` + hex HMAC-SHA256(body, secret), compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), header.strip().lower().encode())


async def _read_capped(request: Request[Any, Any, Any], cap: int) -> bytes | None:
    """The raw body, or None when it is larger than `cap` bytes."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _error(message: str, status: int) -> Response[dict[str, Any]]:
    return Response({"error": message}, status_code=status)


class _QueueUnavailable(Exception):
    pass


async def _enqueue_followup(request: Request[Any, Any, Any], delivery_id: str, body: bytes) -> None:
    state = request.app.state
    queue = state.settings.jobs.queue
    await state.redis.set(payload_key(queue, delivery_id), body, ex=PAYLOAD_TTL_SECONDS)
    if state.arq is None:
        from abacus.worker.enqueue import arq_pool

        state.arq = await arq_pool(state.settings)
    await state.arq.enqueue_job(FOLLOWUP_JOB, delivery_id, _job_id=followup_job_id(queue, delivery_id))


@post("/webhooks/github", opt={"public": True}, include_in_schema=False)
async def github_webhook(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    settings = request.app.state.settings
    secret = settings.github.webhook_secret
    if not secret:
        log.error("github webhook refused: GITHUB_WEBHOOK_SECRET is not configured")
        return _error("Webhook not configured", 503)
    body = await _read_capped(request, MAX_BODY_BYTES)
    if body is None:
        return _error("Payload too large", 413)
    if not signature_matches(secret, body, request.headers.get("x-hub-signature-256")):
        log.warning("github webhook refused: invalid signature")
        return _error("Invalid signature", 401)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return _error("Invalid JSON", 400)
    except RecursionError:  # a validly signed body of 100,000 nested `[` must not become a 500
        return _error("Invalid JSON: nested too deeply", 400)
    if not isinstance(payload, dict):
        return _error("Invalid JSON", 400)
    event = request.headers.get("x-github-event", "").strip()
    delivery_id = request.headers.get("x-github-delivery", "").strip()
    if not event:
        return _error("Missing X-GitHub-Event header", 400)
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID:
        return _error("Missing or invalid X-GitHub-Delivery header", 400)

    queue = event == "push" and pushed_to_default_branch(payload)
    status = "received" if queue else ("processed" if event == "ping" else "ignored")
    try:
        async with request.app.state.sessionmaker() as db, db.begin():
            if not await record_delivery(db, delivery_id[:MAX_DELIVERY_ID], event[:64], status):
                return Response({"status": "duplicate", "deliveryId": delivery_id}, status_code=200)
            if queue:
                try:
                    await _enqueue_followup(request, delivery_id, body)
                except Exception as exc:  # Redis/arq down: roll the delivery back so a redelivery can succeed
                    raise _QueueUnavailable(repr(exc)) from exc
    except _QueueUnavailable as exc:
        log.error("github webhook could not be queued", delivery=delivery_id, error=str(exc))
        return _error("Queue unavailable, redeliver later", 503)

    if event == "ping":
        return Response({"status": "ok", "deliveryId": delivery_id, "zen": payload.get("zen")}, status_code=200)
    if queue:
        log.info("github push queued", delivery=delivery_id, repo=(payload.get("repository") or {}).get("full_name"))
        return Response({"status": "queued", "deliveryId": delivery_id}, status_code=202)
    reason = "not a push to the default branch" if event == "push" else f"event '{event}' not handled"
    return Response({"status": "ignored", "deliveryId": delivery_id, "reason": reason}, status_code=202)

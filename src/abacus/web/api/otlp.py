"""POST /otlp/v1/metrics: Claude Code's OpenTelemetry metrics over OTLP/HTTP (docs/operations.md, docs/security.md).

Public (no session, CSRF-exempt) but token-gated. In order: no valid `Authorization: Bearer <token>` of
`ABACUS_OTLP_TOKENS` → 401; over the token's requests per minute → 429 with `Retry-After`; a declared
`Content-Length` over the cap → 413 before the body is read, and so is a body (after gzip decompression too) that
grows past it; a `Content-Type` other than protobuf or JSON, or a `Content-Encoding` other than gzip/identity → 415;
a body that is not an export → 400 with nothing stored; otherwise 200, with a partial-success body counting the
rejected points. Answers are encoded like the request (protobuf or JSON). The token itself is never logged: the
label it maps to is.

The request only stores the points (sync/otel_store.py) and queues the rebuild of their days' provisional rows
(worker/otel_jobs.py), once per coalescing window and web process: usage rows and rollups are the job's work.
"""

from __future__ import annotations

import hmac
import time
import zlib
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, post

from abacus.domain import otlp
from abacus.logging_setup import get_logger
from abacus.settings import ProviderKey
from abacus.sync.otel_store import store_points
from abacus.worker.otel_jobs import enqueue_rebuild, rebuild_window

log = get_logger("abacus.otlp")

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
RATE_WINDOW_SECONDS = 60


class _TooLarge(Exception):
    pass


def token_label(tokens: tuple[ProviderKey, ...], authorization: str | None) -> str | None:
    """The label of the ingest token the header presents (compared in constant time with every token), else None."""
    if not authorization:
        return None
    scheme, _, presented = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        return None
    given = presented.strip().encode()
    found = None
    for token in tokens:
        if hmac.compare_digest(token.key.encode(), given):
            found = token.label
    return found


def _media_type(request: Request[Any, Any, Any]) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _read_body(request: Request[Any, Any, Any], cap: int, gzipped: bool) -> bytes:
    """The body, decompressed when gzipped; _TooLarge when it (or what it decompresses to) exceeds `cap`;
    otlp.OtlpBodyError for a broken gzip stream."""
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > cap:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise _TooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    if not gzipped:
        return body
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, cap + 1)
    except zlib.error:
        raise otlp.OtlpBodyError("body is not valid gzip") from None
    if len(out) > cap or inflater.unconsumed_tail:
        raise _TooLarge
    if not inflater.eof:
        raise otlp.OtlpBodyError("gzip body ends early")
    return out


async def _over_rate(request: Request[Any, Any, Any], label: str, limit: int) -> int | None:
    """Seconds until the token's window ends when this request is over its limit, else None (fixed one-minute
    windows counted in Redis, shared by every web worker)."""
    now = time.time()
    window = int(now // RATE_WINDOW_SECONDS)
    key = f"abacus:otlp:rate:{label}:{window}"
    redis = request.app.state.redis
    count = await redis.incr(key)
    if count == 1:
        await redis.expire(key, RATE_WINDOW_SECONDS * 2)
    if count <= limit:
        return None
    return max(1, int((window + 1) * RATE_WINDOW_SECONDS - now) + 1)


async def _queue_rebuild(request: Request[Any, Any, Any]) -> None:
    """Queue the rebuild of this window unless this process did already; a Redis failure is logged, not answered:
    the points and their marks are stored, and the worker's sweep rebuilds them within a minute."""
    state = request.app.state
    now = time.time()
    if getattr(state, "otlp_rebuild_window", None) == rebuild_window(now):
        return
    try:
        if state.arq is None:
            from abacus.worker.enqueue import arq_pool

            state.arq = await arq_pool(state.settings)
        state.otlp_rebuild_window = await enqueue_rebuild(state.arq, state.settings.jobs.queue, now)
    except Exception as exc:  # the export is stored; only its freshness waits for the sweep
        log.warning("otlp rebuild not queued", error=type(exc).__name__)


def _answer(status: int, message: str, json_body: bool, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        otlp.status_body(status, message, json_body=json_body),
        status_code=status,
        media_type=JSON if json_body else PROTOBUF,
        headers=headers,
    )


@post("/otlp/v1/metrics", opt={"public": True}, include_in_schema=False, status_code=200)
async def otlp_metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    settings = request.app.state.settings.otlp
    media = _media_type(request)
    json_body = media == JSON
    label = token_label(settings.tokens, request.headers.get("authorization"))
    if label is None:
        log.warning("otlp export refused: no valid ingest token", configured=bool(settings.tokens))
        return _answer(401, "a valid ingest token is required (Authorization: Bearer <token>)", json_body)
    retry_after = await _over_rate(request, label, settings.requests_per_minute)
    if retry_after is not None:
        log.warning("otlp export refused: rate limit", label=label)
        return _answer(429, "too many exports for this token", json_body, {"Retry-After": str(retry_after)})
    if media not in (PROTOBUF, JSON):
        return _answer(415, f"Content-Type must be {PROTOBUF} or {JSON}", json_body)
    encoding = request.headers.get("content-encoding", "identity").strip().lower() or "identity"
    if encoding not in ("gzip", "identity"):
        return _answer(415, "Content-Encoding must be gzip or identity", json_body)
    try:
        body = await _read_body(request, settings.max_body_bytes, encoding == "gzip")
        parsed = otlp.parse_export(body, json_body=json_body, now=datetime.now(UTC))
    except _TooLarge:
        return _answer(413, f"body larger than {settings.max_body_bytes} bytes", json_body)
    except otlp.OtlpBodyError as exc:
        log.info("otlp export refused: bad body", label=label, reason=str(exc))
        return _answer(400, str(exc), json_body)
    async with request.app.state.engine.connect() as conn:
        # one statement is its own transaction (points and their marks together): no BEGIN/COMMIT round trips
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        stored = await store_points(conn, label, parsed.points)
    if stored:
        await _queue_rebuild(request)
    log.info(
        "otlp export stored",
        label=label,
        points=len(parsed.points),
        new=stored,
        rejected=parsed.rejected,
    )
    return Response(
        otlp.response_body(parsed.rejected, parsed.first_reason, json_body=json_body),
        status_code=200,
        media_type=JSON if json_body else PROTOBUF,
    )

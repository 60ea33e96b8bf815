"""ASGI middleware: security headers, Server-Timing (app + db time, query count) and one log line per request."""

from __future__ import annotations

import time
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from abacus.db import SqlTimer, sql_timer
from abacus.logging_setup import get_logger

log = get_logger("abacus.request")

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self' {issuer}; base-uri 'self'; object-src 'none'"


def server_timing(app_ms: float, timer: SqlTimer) -> str:
    """`app;dur=12.3, db;dur=4.5;desc="3 queries"`: the request's wall time, the wall time it spent waiting on
    PostgreSQL (concurrent queries counted once) and how many statements it ran."""
    plural = "query" if timer.queries == 1 else "queries"
    return f'app;dur={app_ms:.1f}, db;dur={timer.busy_ms:.1f};desc="{timer.queries} {plural}"'


class RequestMiddleware:
    """Adds the security headers and Server-Timing to every HTTP response and logs the request.

    The response start is held back until the first body chunk, so Server-Timing is the time to the first byte:
    the whole request for an ordinary response, and for a streamed one (CSV exports) the time until its first
    rows; the log line has the full time of both.
    """

    def __init__(self, app: ASGIApp, *, https: bool = False, issuer: str = "") -> None:
        self.app = app
        self.https = https
        self.csp = CSP.format(issuer=issuer).strip()

    def _add_headers(self, message: Message, timing: str) -> None:
        headers = MutableScopeHeaders.from_message(message)
        headers["Server-Timing"] = timing
        headers.setdefault("Content-Security-Policy", self.csp)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "same-origin"
        headers["X-Frame-Options"] = "DENY"
        if self.https:
            headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        timer = SqlTimer()
        token = sql_timer.set(timer)
        status = 500
        pending: Message | None = None
        first_byte_ms: float | None = None
        streamed = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, pending, first_byte_ms, streamed
            if message["type"] == "http.response.start":
                status = message["status"]
                pending = message  # sent with the first body chunk, stamped with the time to it
                return
            if message["type"] == "http.response.body" and pending is not None:
                first_byte_ms = (time.perf_counter() - started) * 1000
                streamed = bool(message.get("more_body", False))
                self._add_headers(pending, server_timing(first_byte_ms, timer))
                start, pending = pending, None
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
            if pending is not None:  # a response start without a body message (should not happen in ASGI)
                self._add_headers(pending, server_timing((time.perf_counter() - started) * 1000, timer))
                await send(pending)
        finally:
            app_ms = (time.perf_counter() - started) * 1000
            sql_timer.reset(token)
            path: Any = scope.get("path", "")
            if not path.startswith("/static/"):
                extra: dict[str, Any] = {}
                if streamed and first_byte_ms is not None:
                    extra["first_byte_ms"] = round(first_byte_ms, 1)
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    app_ms=round(app_ms, 1),
                    db_ms=round(timer.busy_ms, 1),
                    queries=timer.queries,
                    streamed=streamed,
                    **extra,
                )

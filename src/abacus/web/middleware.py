"""ASGI middleware: security headers, Server-Timing (app + db time, query count) and one log line per request."""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from abacus.db import RequestHome, SqlTimer, request_home, sql_timer
from abacus.logging_setup import get_logger
from abacus.queries.cache import one_version_per_request

log = get_logger("abacus.request")

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self' {issuer}; base-uri 'self'; object-src 'none'"


_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
"""A client's or proxy's X-Request-ID is kept only when it is short, printable and safe in a log line."""


def request_id_of(scope: Scope) -> str:
    """The request's id: its X-Request-ID header when sane (a proxy's id ties both logs together), else a new one."""
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _SANE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return uuid.uuid4().hex


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

    def _add_headers(self, message: Message, timing: str, request_id: str) -> None:
        headers = MutableScopeHeaders.from_message(message)
        headers["Server-Timing"] = timing
        headers["X-Request-ID"] = request_id
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
        home = RequestHome()  # the request's one connection, opened by its first read
        home_token = request_home.set(home)
        request_id = request_id_of(scope)
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)  # every log line of this request
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
                self._add_headers(pending, server_timing(first_byte_ms, timer), request_id)
                start, pending = pending, None
                await send(start)
            await send(message)

        try:
            if scope.get("method") in ("GET", "HEAD"):  # pages read: their cached queries share one version read
                with one_version_per_request():
                    await self.app(scope, receive, send_wrapper)
            else:
                await self.app(scope, receive, send_wrapper)
            if pending is not None:  # a response start without a body message (should not happen in ASGI)
                elapsed_ms = (time.perf_counter() - started) * 1000
                self._add_headers(pending, server_timing(elapsed_ms, timer), request_id)
                await send(pending)
        finally:
            app_ms = (time.perf_counter() - started) * 1000
            request_home.reset(home_token)
            await home.close()
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
            structlog.contextvars.reset_contextvars(**bound)

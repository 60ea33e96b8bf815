"""ASGI middleware: security headers, Server-Timing (app + db time) and one structured log line per request."""

from __future__ import annotations

import time
from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from abacus.db import sql_time_ms
from abacus.logging_setup import get_logger

log = get_logger("abacus.request")

CSP = "default-src 'self'; frame-ancestors 'none'; form-action 'self' {issuer}; base-uri 'self'; object-src 'none'"


class RequestMiddleware:
    """Adds the security headers and Server-Timing to every HTTP response and logs the request."""

    def __init__(self, app: ASGIApp, *, https: bool = False, issuer: str = "") -> None:
        self.app = app
        self.https = https
        self.csp = CSP.format(issuer=issuer).strip()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        db_time = [0.0]
        token = sql_time_ms.set(db_time)
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = MutableScopeHeaders.from_message(message)
                app_ms = (time.perf_counter() - started) * 1000
                db_ms = db_time[0]
                headers["Server-Timing"] = f"app;dur={app_ms:.1f}, db;dur={db_ms:.1f}"
                headers.setdefault("Content-Security-Policy", self.csp)
                headers["X-Content-Type-Options"] = "nosniff"
                headers["Referrer-Policy"] = "same-origin"
                headers["X-Frame-Options"] = "DENY"
                if self.https:
                    headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            app_ms = (time.perf_counter() - started) * 1000
            db_ms = db_time[0]
            sql_time_ms.reset(token)
            path: Any = scope.get("path", "")
            if not path.startswith("/static/"):
                log.info(
                    "request",
                    method=scope.get("method"),
                    path=path,
                    status=status,
                    app_ms=round(app_ms, 1),
                    db_ms=round(db_ms, 1),
                )

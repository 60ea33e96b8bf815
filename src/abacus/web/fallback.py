"""The last answer to a request whose response failed before its first byte reached the client.

Litestar's exception handlers answer every error raised before a response starts. A streamed body (the CSV
downloads) is produced after its response start, so a failure while fetching its first rows — PostgreSQL out of
reach, say — used to end as a bare 500 or a download cut at 0 bytes. This wrapper holds the response start until the
first body chunk; if the app fails before then, it discards that start and answers instead: 503 "temporarily
unavailable" when a backing service is out of reach, else 500 — HTML, or JSON under /api. Once a byte is out, an
error can only end the stream (the client sees it incomplete).
"""

from __future__ import annotations

import json

from litestar.types import ASGIApp, Message, Receive, Scope, Send
from markupsafe import escape

from abacus.logging_setup import get_logger
from abacus.web.errors import RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE, unavailable_service

log = get_logger("abacus.app")
INTERNAL_MESSAGE = "Something went wrong on our side."
PAGE = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title} · Abacus</title>'
    '<link rel="stylesheet" href="/static/app.css"></head><body><main class="container">'
    '<div class="error-block card" role="alert"><h2>{title}</h2><p>{message}</p>'
    '<p><a href="/">← Back to Overview</a></p></div></main></body></html>'
)


def fallback_response(path: str, exc: BaseException) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Status, headers and body answering `exc` for `path`."""
    service = unavailable_service(exc)
    if service:
        log.warning("backing service unavailable", service=service, path=path, error=repr(exc))
        status, title, message = 503, "Temporarily unavailable", UNAVAILABLE_MESSAGE
    else:
        log.error("unhandled error before the first byte", path=path, error=repr(exc), exc_info=exc)
        status, title, message = 500, "Error", INTERNAL_MESSAGE
    headers: list[tuple[bytes, bytes]] = []
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    if path.startswith("/api/"):
        body = json.dumps({"error": message if status == 503 else "Internal server error"}).encode()
        headers.append((b"content-type", b"application/json"))
    else:
        body = PAGE.format(title=escape(title), message=escape(message)).encode()
        headers.append((b"content-type", b"text/html; charset=utf-8"))
    headers.append((b"content-length", str(len(body)).encode()))
    return status, headers, body


class FirstByteGuard:
    """ASGI wrapper: answers with `fallback_response` when the app fails before any body byte was sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: Message | None = None
        forwarded = False

        async def hold_start(message: Message) -> None:
            nonlocal pending, forwarded
            if message["type"] == "http.response.start":
                pending = message
                return
            if pending is not None:
                start, pending = pending, None
                forwarded = True
                await send(start)
            await send(message)

        try:
            await self.app(scope, receive, hold_start)
        except Exception as exc:
            if forwarded:
                raise
            status, headers, body = fallback_response(str(scope.get("path", "")), exc)
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        if pending is not None:  # a start without a body message
            await send(pending)

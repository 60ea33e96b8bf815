"""A loopback proxy in front of the emulator server that adds the provider faults the emulator itself does not make
(emulators/faults.py has 429 with Retry-After, 403, 500, slow, truncated JSON and a missing field): a 429 without
Retry-After, a 502 from a load balancer, a 200 whose body is an HTML maintenance page, and pages emptied while their
"more pages" flag says true. Armed for every request after `after` requests went through (a test syncs one provider
at a time; providers share paths, e.g. Copilot's API is GitHub's)."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
from litestar.types import Receive, Scope, Send

PROXY_KINDS = ("429_no_retry_after", "502", "html_instead_of_json", "empty_page_has_more")
MORE_FLAGS = ("has_more", "hasNextPage", "has_next_page")


def _empty_but_more(body: Any) -> tuple[Any, bool]:
    """The body with every list emptied and every "more pages" flag set; whether it had such a flag."""
    if not isinstance(body, dict):
        return body, False
    flagged = False
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in MORE_FLAGS:
            out[key], flagged = True, True
        elif isinstance(value, list):
            out[key] = []
        elif isinstance(value, dict):
            out[key], inner = _empty_but_more(value)
            flagged = flagged or inner
        else:
            out[key] = value
    return out, flagged


class StormProxy:
    """ASGI app: forwards everything to `upstream`; `arm(provider, kind, after)` breaks the answers (`provider` is
    kept for the failure messages of the tests)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.lock = threading.Lock()
        self.provider: str | None = None
        self.kind: str | None = None
        self.after = 0
        self.passed = 0
        self.fired = 0
        self.flagged = 0  # bodies that carried a "more pages" flag while empty_page_has_more was armed

    def arm(self, provider: str, kind: str, after: int = 0) -> None:
        assert kind in PROXY_KINDS, kind
        with self.lock:
            self.provider, self.kind, self.after, self.passed, self.fired, self.flagged = provider, kind, after, 0, 0, 0

    def disarm(self) -> None:
        with self.lock:
            self.provider = self.kind = None

    def _fault_for(self, path: str) -> str | None:
        with self.lock:
            if self.kind is None:
                return None
            if self.passed < self.after:
                self.passed += 1
                return None
            self.fired += 1
            return self.kind

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        path: str = scope["path"]
        kind = self._fault_for(path)
        if kind == "429_no_retry_after":
            await _reply(send, 429, b'{"error": "Too many requests"}', "application/json")
            return
        if kind == "502":
            await _reply(send, 502, b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
            return
        # the Host header is kept: links the emulator builds from it (GitHub's Link: next) lead back through here
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k.lower() != b"content-length"]
        url = self.upstream + path + (f"?{scope['query_string'].decode()}" if scope["query_string"] else "")
        async with httpx.AsyncClient(timeout=60) as client:
            upstream = await client.request(scope["method"], url, content=body, headers=headers)
        content, media = upstream.content, upstream.headers.get("content-type", "application/json")
        status = upstream.status_code
        if kind == "html_instead_of_json" and status < 300:
            content, media = b"<!doctype html><html><body>Down for maintenance</body></html>", "text/html"
        elif kind == "empty_page_has_more" and status < 300:
            try:
                decoded = upstream.json()
            except ValueError:
                decoded = None
            emptied, flagged = _empty_but_more(decoded)
            if flagged:
                content = json.dumps(emptied).encode()
                with self.lock:
                    self.flagged += 1
        extra = [
            (k, v)
            for k, v in upstream.headers.items()
            if k.lower()
            not in ("content-length", "content-type", "content-encoding", "transfer-encoding", "connection")
        ]
        await _reply(send, status, content, media, extra)


async def _reply(
    send: Send, status: int, body: bytes, media_type: str, extra: list[tuple[str, str]] | None = None
) -> None:
    headers = [(b"content-type", media_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in extra or []]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

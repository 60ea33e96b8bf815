"""FirstByteGuard: a response that fails before its first body byte is answered (503 when a backing service is out of
reach, else 500; JSON under /api); once a byte is out the error propagates and the stream ends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import redis.exceptions

from abacus.web.fallback import FirstByteGuard


def _streaming_app(error: Exception, *, after_first_chunk: bool) -> Any:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/csv")]})
        if after_first_chunk:
            await send({"type": "http.response.body", "body": b"email\n", "more_body": True})
        raise error

    return app


def _run(app: Any, path: str, sent: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    sent = [] if sent is None else sent

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    guard: Any = FirstByteGuard(app)  # (plain dicts and functions stand in for Litestar's typed ASGI events)
    asyncio.run(guard({"type": "http", "path": path}, receive, send))
    return sent


@pytest.mark.parametrize(
    ("error", "path", "status", "content_type", "text"),
    [
        (ConnectionRefusedError(111, "refused"), "/export/team.csv", 503, b"text/html; charset=utf-8", "try again"),
        (redis.exceptions.ConnectionError("down"), "/api/v1/export/team.csv", 503, b"application/json", "try again"),
        (ValueError("a bug"), "/export/usage.csv", 500, b"text/html; charset=utf-8", "Something went wrong"),
        (ValueError("a bug"), "/api/v1/export/usage.csv", 500, b"application/json", "Internal server error"),
    ],
)
def test_a_failure_before_the_first_byte_is_answered(
    error: Exception, path: str, status: int, content_type: bytes, text: str
) -> None:
    start, body = _run(_streaming_app(error, after_first_chunk=False), path)
    headers = dict(start["headers"])
    assert start["status"] == status and headers[b"content-type"] == content_type
    assert (headers.get(b"retry-after") == b"30") == (status == 503)
    assert text in body["body"].decode() and not body["more_body"]
    if content_type == b"application/json":
        assert set(json.loads(body["body"])) == {"error"}
    assert "a bug" not in body["body"].decode()  # no detail of the error reaches the client


def test_a_failure_after_the_first_byte_ends_the_stream() -> None:
    sent: list[dict[str, Any]] = []
    with pytest.raises(ValueError, match="mid-stream"):
        _run(_streaming_app(ValueError("mid-stream"), after_first_chunk=True), "/export/team.csv", sent)
    # the original start and first chunk went out as they were; no second response start follows
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert sent[0]["status"] == 200 and sent[1]["body"] == b"email\n"

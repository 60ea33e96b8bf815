"""Alert receivers: a Slack-compatible incoming webhook and the generic webhook, recording what they are sent.

POST   /hooks/slack         a Slack incoming webhook: needs a JSON body with "text"; answers "ok"
POST   /hooks/generic       the generic webhook: verifies X-Abacus-Signature (HMAC-SHA256 of the body) when a
                            secret is set (401 when it does not match); answers {"ok": true}
GET    /hooks/deliveries    ?hook=slack|generic  what was received (accepted or not), oldest first
DELETE /hooks/deliveries    forget them
POST   /hooks/fail          {"hook": "slack"|"generic", "count": N, "status": 500}  fail the next N deliveries
POST   /hooks/secret        {"secret": "…" | null}  the generic webhook's secret (default ABACUS_ALERT_WEBHOOK_SECRET)
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from litestar import Request, Response, Router, delete, get, post

from abacus.domain.budgets import signature_matches

HOOKS = ("slack", "generic")


@dataclass
class HookState:
    secret: str | None = field(default_factory=lambda: os.environ.get("ABACUS_ALERT_WEBHOOK_SECRET") or None)
    received: list[dict[str, Any]] = field(default_factory=list)
    failures: dict[str, tuple[int, int]] = field(default_factory=dict)
    """hook → (deliveries still to fail, HTTP status to fail with)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_failure(self, hook: str) -> int | None:
        with self.lock:
            count, status = self.failures.get(hook, (0, 500))
            if count <= 0:
                return None
            self.failures[hook] = (count - 1, status)
            return status

    def record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self.received.append(entry)


def _json(body: Any, status: int = 200) -> Response[bytes]:
    return Response(content=json.dumps(body).encode(), status_code=status, media_type="application/json")


def create_hooks_router(state: HookState | None = None) -> Router:
    hooks = state or HookState()

    async def receive(request: Request[Any, Any, Any], hook: str) -> Response[bytes]:
        raw = await request.body()
        entry: dict[str, Any] = {"hook": hook, "at": datetime.now(UTC).isoformat(), "accepted": False}
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        entry["body"] = body
        if hook == "generic":
            header = request.headers.get("x-abacus-signature")
            entry["signature"] = header
            entry["signature_valid"] = hooks.secret is not None and signature_matches(hooks.secret, raw, header)
        failure = hooks.take_failure(hook)
        if failure is not None:
            entry["status"] = failure
            hooks.record(entry)
            return _json({"error": "failing on demand"}, failure)
        if not isinstance(body, dict) or (hook == "slack" and not isinstance(body.get("text"), str)):
            entry["status"] = 400
            hooks.record(entry)
            return Response(content=b"invalid_payload", status_code=400, media_type="text/plain")
        if hook == "generic" and hooks.secret is not None and not entry["signature_valid"]:
            entry["status"] = 401
            hooks.record(entry)
            return _json({"error": "bad signature"}, 401)
        entry["status"], entry["accepted"] = 200, True
        hooks.record(entry)
        if hook == "slack":
            return Response(content=b"ok", status_code=200, media_type="text/plain")
        return _json({"ok": True})

    @post("/slack")
    async def slack(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await receive(request, "slack")

    @post("/generic")
    async def generic(request: Request[Any, Any, Any]) -> Response[bytes]:
        return await receive(request, "generic")

    @get("/deliveries")
    async def deliveries(request: Request[Any, Any, Any]) -> Response[bytes]:
        hook = request.query_params.get("hook")
        with hooks.lock:
            rows = [r for r in hooks.received if hook in (None, r["hook"])]
        return _json(rows)

    @delete("/deliveries", status_code=200)
    async def clear() -> Response[bytes]:
        with hooks.lock:
            cleared = len(hooks.received)
            hooks.received.clear()
            hooks.failures.clear()
        return _json({"cleared": cleared})

    @post("/fail")
    async def fail(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            spec = json.loads(await request.body() or b"{}")
            hook, count, status = spec["hook"], int(spec.get("count", 1)), int(spec.get("status", 500))
        except (ValueError, KeyError, TypeError) as exc:
            return _json({"error": f"expected {{'hook', 'count', 'status'}}: {exc}"}, 400)
        if hook not in HOOKS or count < 0 or not 400 <= status <= 599:
            return _json({"error": "hook must be slack or generic, count ≥ 0, status 400–599"}, 400)
        with hooks.lock:
            hooks.failures[hook] = (count, status)
        return _json({"hook": hook, "count": count, "status": status}, 201)

    @post("/secret")
    async def set_secret(request: Request[Any, Any, Any]) -> Response[bytes]:
        try:
            spec = json.loads(await request.body() or b"{}")
            secret = spec.get("secret")
        except (ValueError, AttributeError) as exc:
            return _json({"error": str(exc)}, 400)
        if secret is not None and not isinstance(secret, str):
            return _json({"error": "secret must be a string or null"}, 400)
        hooks.secret = secret or None
        return _json({"secret_set": hooks.secret is not None})

    return Router(path="/hooks", route_handlers=[slack, generic, deliveries, clear, fail, set_secret])

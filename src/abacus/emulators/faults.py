"""Runtime state shared by the three provider emulators: fault switches, the request log, the clock, the reply path.

Every provider endpoint answers through `EmulatorState.serve`: authorise → maybe inject a fault → produce the
normal reply → log it. Faults are armed per (provider, endpoint name) for the next `count` matching requests,
optionally after letting `after` matching requests through ("fail the Nth request").

Endpoint names: anthropic `usage_report`, `users`, `user`, `api_keys`, `api_key`; cursor `usage_events`,
`members`, `daily_usage`; github `repos`, `repo`, `commits`, `commit`, `members`, `user`, `graphql`,
`access_tokens`; copilot `report`, `download` (NDJSON: `malformed` cuts it mid-line), `seats`. `"*"` matches every
endpoint of the provider.
"""

from __future__ import annotations

import asyncio
import copy
import json
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from litestar import Request, Response

from abacus.emulators.dataset import EmulatorConfig, EmulatorDataset

PROVIDERS = ("anthropic", "cursor", "github", "copilot")
# `expired`: a signed download link answers 403 "Request has expired" (Copilot report downloads).
FAULT_KINDS = ("429", "403", "500", "malformed", "slow", "missing_field", "expired")
COPILOT_LINK_TTL = 300.0
GITHUB_RATE_LIMIT_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"

# The field a `missing_field` fault removes when none is given: dotted path, numeric parts index lists.
DEFAULT_MISSING_FIELDS: dict[tuple[str, str], str] = {
    ("anthropic", "usage_report"): "data",
    ("anthropic", "users"): "data",
    ("anthropic", "api_keys"): "data",
    ("anthropic", "user"): "email",
    ("anthropic", "api_key"): "created_by",
    ("cursor", "usage_events"): "usageEvents",
    ("cursor", "members"): "teamMembers",
    ("cursor", "daily_usage"): "data",
    ("github", "repos"): "0.full_name",
    ("github", "repo"): "default_branch",
    ("github", "commits"): "0.commit",
    ("github", "commit"): "sha",
    ("github", "members"): "0.id",
    ("github", "user"): "id",
    ("github", "graphql"): "data.organization",
    ("github", "access_tokens"): "token",
    ("copilot", "report"): "download_links",
    ("copilot", "seats"): "seats",
}


@dataclass
class Reply:
    """A provider answer before serialisation: status, JSON-able body (None → empty; bytes are sent as they are,
    with `media_type`), extra headers."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    media_type: str = "application/json"


@dataclass
class Fault:
    provider: str
    endpoint: str
    kind: str
    count: int = 1
    after: int = 0
    retry_after: int = 1
    delay: float = 0.0
    field: str | None = None
    passed: int = 0
    fired: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class FaultSpecError(ValueError):
    """A fault description that cannot be armed (unknown provider/kind, bad numbers)."""


def _rate_limit_fault_headers(limit: int, retry_after: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": str(limit),
        "x-ratelimit-reset": str(int(time.time()) + max(retry_after, 0)),
        "x-ratelimit-resource": "core",
    }


def fault_reply(provider: str, fault: Fault, github_limit: int = 5000) -> Reply:
    """The error answer a provider gives for a 429 / 403 / 500 fault (bodies per docs/providers.md §6.2)."""
    retry = str(fault.retry_after)
    if provider == "anthropic":
        if fault.kind == "429":
            message = "Number of request tokens has exceeded your per-minute rate limit"
            return Reply(
                429,
                {"type": "error", "error": {"type": "rate_limit_error", "message": message}},
                {"retry-after": retry},
            )
        if fault.kind == "403":
            return Reply(
                403,
                {
                    "type": "error",
                    "error": {"type": "permission_error", "message": "Your API key does not have permission"},
                },
            )
        return Reply(500, {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}})
    if provider == "cursor":
        if fault.kind == "429":
            return Reply(429, {"error": "Rate limit exceeded"}, {"retry-after": retry})
        if fault.kind == "403":
            return Reply(403, {"error": "Forbidden"})
        return Reply(500, {"error": "Internal server error"})
    if fault.kind in ("429", "403"):
        headers = _rate_limit_fault_headers(github_limit, fault.retry_after)
        if fault.kind == "429":
            headers["retry-after"] = retry
        body = {
            "message": "API rate limit exceeded for installation. If you reach out to GitHub Support for help, "
            "please include the request ID.",
            "documentation_url": GITHUB_RATE_LIMIT_DOCS,
            "status": fault.kind,
        }
        return Reply(int(fault.kind), body, headers)
    return Reply(500, {"message": "Server Error"})


def _remove_path(body: Any, path: str) -> Any:
    body = copy.deepcopy(body)
    parts = path.split(".")
    node = body
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return body
    last = parts[-1]
    if isinstance(node, dict):
        node.pop(last, None)
    elif isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node.pop(int(last))
    return body


def _json_bytes(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class EmulatorState:
    """Data set + clock + faults + request log of one emulator instance; safe to drive from another thread."""

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.dataset = EmulatorDataset(config)
        self.lock = threading.Lock()
        self._faults: list[Fault] = []
        self._log: deque[dict[str, Any]] = deque(maxlen=20_000)
        self._seq = 0
        # GitHub runtime: issued installation tokens (token → wall-clock expiry) and primary-rate-limit usage.
        self.github_tokens: dict[str, float] = {}
        self.github_usage: dict[tuple[str, str, int], int] = {}
        # Copilot report download links: lifetime in wall-clock seconds (tests set it ≤ 0 to hand out expired ones)
        self.copilot_link_ttl: float = COPILOT_LINK_TTL

    # ---- clock -------------------------------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.dataset.now()

    def set_clock(self, now: datetime | None) -> None:
        """Move the data clock (what is visible); None returns to the configured clock."""
        self.dataset.set_now(now)

    def page_size(self, requested: int) -> int:
        """`requested`, capped by `config.max_page_size` when set."""
        cap = self.config.max_page_size
        return min(requested, cap) if cap else requested

    # ---- faults ------------------------------------------------------------------------------------------------

    def add_fault(
        self,
        provider: str,
        endpoint: str,
        kind: str,
        *,
        count: int = 1,
        after: int = 0,
        retry_after: int = 1,
        delay: float = 0.0,
        field: str | None = None,
    ) -> Fault:
        """Arm a fault for the next `count` requests to (provider, endpoint) after `after` normal ones."""
        kind = str(kind)
        if provider not in PROVIDERS:
            raise FaultSpecError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
        if kind not in FAULT_KINDS:
            raise FaultSpecError(f"unknown fault kind {kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if count < 1 or after < 0 or retry_after < 0 or delay < 0:
            raise FaultSpecError("count must be >= 1 and after, retry_after, delay >= 0")
        fault = Fault(provider, endpoint or "*", kind, int(count), int(after), int(retry_after), float(delay), field)
        with self.lock:
            self._faults.append(fault)
        return fault

    def add_fault_from_json(self, spec: dict[str, Any]) -> Fault:
        try:
            return self.add_fault(
                str(spec["provider"]),
                str(spec.get("endpoint") or "*"),
                str(spec["kind"]),
                count=int(spec.get("count", 1)),
                after=int(spec.get("after", 0)),
                retry_after=int(spec.get("retry_after", 1)),
                delay=float(spec.get("delay", 0)),
                field=spec.get("field"),
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, FaultSpecError):
                raise
            raise FaultSpecError(f"invalid fault spec: {exc}") from exc

    def clear_faults(self) -> int:
        with self.lock:
            cleared = len(self._faults)
            self._faults.clear()
        return cleared

    def faults(self) -> list[dict[str, Any]]:
        with self.lock:
            return [f.to_json() for f in self._faults]

    def take_fault(self, provider: str, endpoint: str) -> Fault | None:
        """The fault that applies to this request, consuming one use of it (first armed wins)."""
        with self.lock:
            for fault in self._faults:
                if fault.provider != provider or fault.endpoint not in ("*", endpoint):
                    continue
                if fault.passed < fault.after:
                    fault.passed += 1
                    return None
                fault.fired += 1
                if fault.fired >= fault.count:
                    self._faults.remove(fault)
                return fault
        return None

    # ---- request log -------------------------------------------------------------------------------------------

    def requests(self, provider: str | None = None, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Requests served so far (oldest first), optionally filtered."""
        with self.lock:
            entries = list(self._log)
        return [e for e in entries if provider in (None, e["provider"]) and endpoint in (None, e["endpoint"])]

    def clear_requests(self) -> None:
        with self.lock:
            self._log.clear()

    def _record(self, entry: dict[str, Any]) -> None:
        with self.lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._log.append(entry)

    def reset(self) -> None:
        """Back to the initial state: no faults, empty log, configured clock, no issued tokens, no rate usage."""
        with self.lock:
            self._faults.clear()
            self._log.clear()
            self.github_tokens.clear()
            self.github_usage.clear()
            self.copilot_link_ttl = COPILOT_LINK_TTL
        self.set_clock(None)

    # ---- the reply path ----------------------------------------------------------------------------------------

    async def serve(
        self,
        request: Request[Any, Any, Any],
        provider: str,
        endpoint: str,
        produce: Callable[[], Awaitable[Reply]],
        *,
        authorize: Callable[[], Reply | None] | None = None,
        decorate: Callable[[Reply], None] | None = None,
    ) -> Response[bytes]:
        """Answer one provider request: authorise, apply an armed fault or produce the reply, log, serialise."""
        raw = await request.body()
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = raw.decode(errors="replace")
        denial = authorize() if authorize else None
        fault: Fault | None = None
        payload: bytes | None = None
        if denial is not None:
            reply = denial
        else:
            fault = self.take_fault(provider, endpoint)
            if fault is not None and fault.kind in ("429", "403", "500"):
                reply = fault_reply(provider, fault, self.config.github_rate_limit)
            elif fault is not None and fault.kind == "expired":
                reply = Reply(403, {"message": "Request has expired"})
            else:
                if fault is not None and fault.kind == "slow":
                    await asyncio.sleep(fault.delay)
                reply = await produce()
                if fault is not None and reply.status < 300 and isinstance(reply.body, bytes):
                    if fault.kind == "malformed":  # NDJSON: its first line cut in half, the others intact
                        first, newline, rest = reply.body.partition(b"\n")
                        payload = (first[: len(first) // 2] or b"{") + newline + rest
                elif fault is not None and reply.status < 300 and reply.body is not None:
                    if fault.kind == "missing_field":
                        path = fault.field or DEFAULT_MISSING_FIELDS.get((provider, endpoint), "data")
                        reply.body = _remove_path(reply.body, path)
                    elif fault.kind == "malformed":
                        text = _json_bytes(reply.body)
                        payload = text[: max(1, len(text) // 2)]
        if decorate is not None:
            decorate(reply)
        if payload is None:
            if isinstance(reply.body, bytes):
                payload = reply.body
            else:
                payload = b"" if reply.body is None else _json_bytes(reply.body)
        self._record(
            {
                "provider": provider,
                "endpoint": endpoint,
                "method": request.method,
                "path": request.url.path,
                "query": _query_dict(request.url.query),
                "body": body,
                "status": reply.status,
                "fault": fault.kind if fault else None,
                "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            }
        )
        return Response(content=payload, status_code=reply.status, headers=reply.headers, media_type=reply.media_type)


def _query_dict(query: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key in out:
            existing = out[key]
            out[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[key] = value
    return out


def query_params(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Single-valued query parameters (the last value wins), as providers read them."""
    return dict(parse_qsl(request.url.query, keep_blank_values=True))

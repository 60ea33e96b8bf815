"""The one HTTP client every provider uses: timeouts, bounded retries, Retry-After, pacing, precise errors.

429 → wait `Retry-After` (seconds or HTTP date) when it is ≤ 60 s, at most 3 retries; GitHub 403/429 with
`x-ratelimit-remaining: 0` → wait until `x-ratelimit-reset` when ≤ 60 s away; 5xx, timeouts and network errors →
exponential backoff (base, 2×base, 4×base), 3 tries. Anything else fails the call with a `ProviderError` whose message
names the provider, endpoint and key label — never the key.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import json
import ssl
import time
from collections.abc import Mapping
from typing import Any

import httpx

from abacus import __version__
from abacus.records import ProviderError

USER_AGENT = f"abacus-py/{__version__}"
TIMEOUT = httpx.Timeout(60.0, connect=10.0)
MAX_WAIT_SECONDS = 60.0
RETRIES = 3


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One verifying TLS context (httpx's default: certifi's CA bundle) for every client the process opens. Building
    one loads the whole bundle; a client per job or push follow-up did that each time (a fifth of a busy worker's
    CPU)."""
    return httpx.create_ssl_context()


class RateLimited(ProviderError):
    """The provider asked us to wait longer than we are willing to inside one run; `retry_after` is how long (s)."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None when absent/unparsable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


class ProviderClient:
    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        label: str,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        pacing_seconds: float = 0.0,
        backoff_base: float = 1.0,
        timeout: httpx.Timeout | float = TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.provider = provider
        self.label = label
        self.pacing_seconds = pacing_seconds
        self.backoff_base = backoff_base
        self._last_request = 0.0
        self.http = httpx.AsyncClient(
            verify=tls_context(),
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            auth=auth,
            timeout=timeout,
            transport=transport,
        )

    async def __aenter__(self) -> ProviderClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.aclose()

    def _where(self, endpoint: str) -> str:
        return f"{self.provider} {endpoint} (key {self.label})"

    async def _pace(self) -> None:
        if self.pacing_seconds:
            wait = self._last_request + self.pacing_seconds - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        self._last_request = time.monotonic()

    async def request(
        self, method: str, path: str, *, endpoint: str, accept: frozenset[int] = frozenset(), **kwargs: Any
    ) -> httpx.Response:
        """Send with retries; returns a 2xx response (or one whose status is in `accept`, for a caller that gives
        that status a meaning, e.g. 404 "not published yet") or raises ProviderError / RateLimited."""
        rate_limit_retries = 0
        failures = 0
        while True:
            await self._pace()
            try:
                response = await self.http.request(method, path, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                failures += 1
                if failures >= RETRIES:
                    raise ProviderError(f"{self._where(endpoint)}: {type(exc).__name__} after {RETRIES} tries") from exc
                await asyncio.sleep(self.backoff_base * 2 ** (failures - 1))
                continue
            if response.is_success:
                return response
            wait = self._rate_limit_wait(response)
            if wait is not None:
                if wait > MAX_WAIT_SECONDS or rate_limit_retries >= RETRIES:
                    where, status = self._where(endpoint), response.status_code
                    raise RateLimited(
                        f"{where}: rate limited (HTTP {status}); retry after {wait:.0f} s", retry_after=wait
                    )
                rate_limit_retries += 1
                await asyncio.sleep(wait)
                continue
            if response.status_code in accept:
                return response
            if response.status_code >= 500:
                failures += 1
                if failures >= RETRIES:
                    raise ProviderError(f"{self._where(endpoint)}: HTTP {response.status_code} after {RETRIES} tries")
                await asyncio.sleep(self.backoff_base * 2 ** (failures - 1))
                continue
            raise ProviderError(f"{self._where(endpoint)}: HTTP {response.status_code} {_short(response)}")

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        status = response.status_code
        remaining = response.headers.get("x-ratelimit-remaining")
        if status == 429 or (status == 403 and remaining == "0"):
            wait = retry_after_seconds(response.headers.get("retry-after"))
            if wait is None and (reset := response.headers.get("x-ratelimit-reset", "")).isdigit():
                wait = max(0.0, int(reset) - time.time())
            return wait if wait is not None else MAX_WAIT_SECONDS + 1
        return None

    async def json(self, method: str, path: str, *, endpoint: str, **kwargs: Any) -> Any:
        """Like request(), then decode JSON; malformed bodies raise ProviderError naming the endpoint."""
        response = await self.request(method, path, endpoint=endpoint, **kwargs)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ProviderError(
                f"{self._where(endpoint)}: malformed JSON in response ({exc.msg} at byte {exc.pos})"
                if isinstance(exc, json.JSONDecodeError)
                else f"{self._where(endpoint)}: undecodable response body"
            ) from exc

    async def json_object(self, method: str, path: str, *, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        """Like json(), for endpoints that answer with one JSON object; any other JSON raises ProviderError."""
        body = await self.json(method, path, endpoint=endpoint, **kwargs)
        if not isinstance(body, dict):
            raise ProviderError(f"{self._where(endpoint)}: response is not a JSON object")
        return body


def _short(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:200]


def require(data: Any, *path: str | int, where: str) -> Any:
    """Walk `path` into decoded JSON; a missing field raises ProviderError naming it."""
    current = data
    for step in path:
        try:
            current = current[step]
        except (KeyError, IndexError, TypeError):
            raise ProviderError(f"{where}: response is missing field {'.'.join(map(str, path))!r}") from None
    return current

"""The app under measurement: `abacus serve` in a subprocess, as production runs it (uvicorn with its default
number of worker processes, 2 × CPU cores), the OIDC emulator in a thread of the bench, a signed-in client, and the
measurements made over loopback HTTP: per-page cold/warm times from the app's own Server-Timing, concurrent load, a
streamed export. Memory is the RSS of each worker process (the largest is reported) and of all of them together.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import httpx
import psutil
import uvicorn

MB = 1024 * 1024
STARTUP_SECONDS = 180
"""Workers import the app in parallel: on a busy 2-core machine the first answers can take a minute or more."""
TIMING = re.compile(r"(?P<name>[\w-]+);dur=(?P<dur>[\d.]+)(?:;desc=\"(?P<count>\d+) quer)?")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_timing(header: str) -> dict[str, float]:
    """`app;dur=12.3, db;dur=4.5;desc="3 queries"` → {"app": 12.3, "db": 4.5, "queries": 3}."""
    found: dict[str, float] = {}
    for match in TIMING.finditer(header):
        found[match.group("name")] = float(match.group("dur"))
        if match.group("count") is not None:
            found["queries"] = float(match.group("count"))
    return found


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1) of a non-empty list."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


class ThreadServer:
    """An ASGI app on a loopback port in a background thread (the OIDC emulator)."""

    def __init__(self, app: Any, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def quiet_logs() -> None:
    """Creating the app in this process configured logging for a server: the bench's console shows warnings only."""
    logging.getLogger().setLevel(logging.WARNING)


def identity_provider() -> ThreadServer:
    from litestar import Litestar

    from abacus.emulators.oidc import OIDCState, create_oidc_router

    return ThreadServer(Litestar(route_handlers=[create_oidc_router(OIDCState())], logging_config=None))


def app_environment(database_url: str, redis_url: str, issuer: str, base_url: str, admin: str) -> dict[str, str]:
    """The settings the served app reads (dev mode: no secret key needed; sign-in at the emulator)."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ABACUS_ENV": "dev",
        "ABACUS_BASE_URL": base_url,
        "OIDC_ISSUER": issuer,
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
        "ABACUS_ALLOWED_DOMAINS": admin.split("@")[1],
        "ABACUS_ADMIN_EMAILS": admin,
    }


class WebProcess:
    """`abacus serve --no-migrate` (uvicorn, `workers` worker processes) as a child process on a free loopback port."""

    def __init__(self, settings: dict[str, str], port: int, workers: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.settings = settings
        self.workers = workers
        self.process: subprocess.Popen[bytes] | None = None
        self.cwd = tempfile.TemporaryDirectory(prefix="abacus-bench-")  # no .env of the project is read

    def __enter__(self) -> WebProcess:
        command = [
            sys.executable, "-m", "abacus", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers), "--no-migrate",
        ]  # fmt: skip
        env = {**os.environ, **self.settings}
        self.process = subprocess.Popen(
            command, env=env, cwd=self.cwd.name, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the web process exited with {self.process.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code < 500:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the web process did not answer /healthz within {STARTUP_SECONDS} s")

    def _rss(self) -> list[float]:
        """RSS of each process serving requests: the workers (or the one process when uvicorn runs a single one)."""
        assert self.process is not None
        parent = psutil.Process(self.process.pid)
        sizes = []
        for process in [parent, *parent.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                sizes.append(float(process.memory_info().rss) / MB)
        return sizes

    def rss_mb(self) -> float:
        """The largest process's RSS (a worker; each is one web process of the figure's target)."""
        return max(self._rss())

    def rss_total_mb(self) -> float:
        """All the serving processes together (supervisor and workers)."""
        return sum(self._rss())

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.cwd.cleanup()


def sign_in(base_url: str, email: str) -> httpx.Client:
    """A client signed in through /auth/login → the OIDC emulator → /auth/callback."""
    client = httpx.Client(base_url=base_url, timeout=120)
    login = client.get("/auth/login", params={"login_hint": email})
    callback = httpx.get(login.headers["location"], timeout=30).headers["location"]
    client.get(callback)
    if client.get("/status").status_code != 200:
        raise RuntimeError(f"signing in as {email} failed")
    return client


@dataclass
class PageTiming:
    name: str
    path: str
    status: int
    cold_ms: float
    app_ms: list[float] = field(default_factory=list)
    db_ms: list[float] = field(default_factory=list)
    queries: int = 0

    @property
    def p50(self) -> float:
        return statistics.median(self.app_ms)

    @property
    def p95(self) -> float:
        return percentile(self.app_ms, 0.95)


def time_page(client: httpx.Client, name: str, path: str, requests: int) -> PageTiming:
    """The first request (cold) and `requests` more (warm), each timed by the app's own Server-Timing `app`."""
    timing: PageTiming | None = None
    for _ in range(requests + 1):
        response = client.get(path)
        figures = server_timing(response.headers.get("server-timing", ""))
        if timing is None:
            timing = PageTiming(name, path, response.status_code, figures.get("app", 0.0))
            continue
        if response.status_code != 200:
            timing.status = response.status_code
        timing.app_ms.append(figures.get("app", 0.0))
        timing.db_ms.append(figures.get("db", 0.0))
        timing.queries = int(figures.get("queries", 0))
    assert timing is not None
    return timing


@dataclass(frozen=True)
class LoadRoute:
    """One thing a load client does: `send(client)` makes the request; `ok(response)` says whether it succeeded
    (default: 200)."""

    name: str
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    ok: Callable[[httpx.Response], bool] = lambda response: response.status_code == 200


def get_route(name: str, path: str) -> LoadRoute:
    return LoadRoute(name, lambda client: client.get(path))


@dataclass
class RouteLoad:
    """What the clients saw on one route: every latency (ms), the failures and the first few failure reasons."""

    name: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        return percentile(self.latencies, q) if self.latencies else 0.0

    def failed(self, reason: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(reason)


@dataclass(frozen=True)
class MixedLoadResult:
    clients: int
    seconds: float
    routes: list[RouteLoad]


def run_load(
    base_url: str,
    cookies: httpx.Cookies,
    routes: list[LoadRoute],
    *,
    clients: int,
    seconds: float,
    sample: Callable[[], None] | None = None,
    think_seconds: float = 0.0,
    warmup_seconds: float = 0.0,
    background: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> MixedLoadResult:
    """`clients` concurrent clients (one httpx.AsyncClient each, the signed-in session's cookies) going round the
    `routes` for `seconds` (client i starts at route i, so every route is busy at once): back to back, or with
    `think_seconds` > 0 pausing like a person reading a page (exponentially distributed, that mean; the first
    request at a random moment of the first pause, so clients do not march in step). Latency as each client saw
    it; `sample()` is called every 100 ms meanwhile, `background()` runs beside the clients until the end.

    `warmup_seconds`: the clients run that long first (connections opened, every client's first arrival spread
    out) and only the latencies of requests sent after it count; a failure counts whenever it happens."""
    seen = {route.name: RouteLoad(route.name) for route in routes}
    pauses = random.Random(7)
    measuring_from = 0.0

    async def client_loop(index: int, deadline: float) -> None:
        async with httpx.AsyncClient(base_url=base_url, cookies=cookies, timeout=60) as client:
            turn = index
            if think_seconds > 0:
                await asyncio.sleep(pauses.uniform(0, think_seconds))
            while time.monotonic() < deadline:
                route = routes[turn % len(routes)]
                turn += 1
                counted = time.monotonic() >= measuring_from
                started = time.perf_counter()
                try:
                    response = await route.send(client)
                    if not route.ok(response):
                        shown = " ".join(response.text.split())[:160]
                        seen[route.name].failed(f"HTTP {response.status_code}: {shown}")
                except httpx.HTTPError as exc:
                    seen[route.name].failed(f"{type(exc).__name__}: {exc}")
                if counted:
                    seen[route.name].latencies.append((time.perf_counter() - started) * 1000)
                if think_seconds > 0:
                    left = max(0.0, deadline - time.monotonic())
                    await asyncio.sleep(min(pauses.expovariate(1 / think_seconds), left))

    async def sampler(deadline: float) -> None:
        while sample is not None and time.monotonic() < deadline:
            sample()
            await asyncio.sleep(0.1)

    async def main() -> float:
        nonlocal measuring_from
        measuring_from = time.monotonic() + warmup_seconds
        deadline = measuring_from + seconds
        beside = asyncio.create_task(background()) if background is not None else None
        try:
            await asyncio.gather(sampler(deadline), *(client_loop(i, deadline) for i in range(clients)))
        finally:
            if beside is not None:
                beside.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await beside
        return time.monotonic() - measuring_from

    elapsed = asyncio.run(main())
    return MixedLoadResult(clients=clients, seconds=elapsed, routes=list(seen.values()))


@dataclass(frozen=True)
class LoadResult:
    clients: int
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    rss_peak_mb: float


def load(web: WebProcess, cookies: httpx.Cookies, path: str, *, clients: int, seconds: float) -> LoadResult:
    """`clients` concurrent clients requesting `path` back to back for `seconds` (run_load with one route); the web
    process's RSS sampled meanwhile."""
    peak = web.rss_mb()

    def sample() -> None:
        nonlocal peak
        peak = max(peak, web.rss_mb())

    result = run_load(web.url, cookies, [get_route(path, path)], clients=clients, seconds=seconds, sample=sample)
    (route,) = result.routes
    return LoadResult(
        clients=clients,
        seconds=result.seconds,
        requests=route.requests,
        errors=route.errors,
        p50_ms=statistics.median(route.latencies) if route.latencies else 0.0,
        p99_ms=route.percentile(0.99),
        rss_peak_mb=peak,
    )


@dataclass(frozen=True)
class ExportResult:
    path: str
    status: int
    bytes: int
    lines: int
    first_byte_ms: float
    total_ms: float
    rss_before_mb: float
    rss_peak_mb: float

    @property
    def rss_growth_mb(self) -> float:
        return max(0.0, self.rss_peak_mb - self.rss_before_mb)


def stream_export(web: WebProcess, client: httpx.Client, path: str) -> ExportResult:
    """Download a CSV export in chunks while a thread samples the web process's RSS every 10 ms."""
    before = web.rss_mb()
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, web.rss_mb())
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    size = lines = 0
    started = time.perf_counter()
    try:
        with client.stream("GET", path) as response:
            first_byte = server_timing(response.headers.get("server-timing", "")).get("app", 0.0)
            for chunk in response.iter_bytes():
                size += len(chunk)
                lines += chunk.count(b"\n")
            status = response.status_code
    finally:
        done.set()
        sampler.join()
    return ExportResult(
        path, status, size, lines, first_byte, (time.perf_counter() - started) * 1000, before, max(peak, web.rss_mb())
    )

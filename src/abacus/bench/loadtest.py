"""`abacus loadtest`: a bounded loopback load on a signed-in app while its worker ingests.

Clients signed in through the OIDC emulator go round the Overview, Team, Status, a person's page and the GitHub
webhook (validly signed pings and pushes, plus replays of deliveries already sent) for a fixed time (the load loop
is bench/web.py's `run_load`). A forward sync of every configured provider is enqueued first and again every
`sync_every` seconds of the load, so the worker writes while the pages are read (each sync moves the data version:
cached pages are computed again under the load). The first `warmup_seconds` are not measured (connections open,
the clients' first arrivals spread out), failures are counted all the way. At the end the webhook deliveries are
checked: each one sent is stored exactly once, every replay was answered "duplicate", and every push's follow-up
job ran once and finished.

Two targets: a running `abacus demo` (its `.abacus/demo.env`), or an app of its own: the emulators in a thread,
`abacus serve` and `abacus worker` as child processes on free ports, a database and a queue of their own (dropped
at the end).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import httpx
from sqlalchemy import text

from abacus.bench.web import (
    LoadRoute,
    MixedLoadResult,
    WebProcess,
    app_environment,
    free_port,
    get_route,
    run_load,
    sign_in,
)
from abacus.db import create_engine
from abacus.emulators.dataset import EmulatorConfig
from abacus.emulators.webhook_sender import WEBHOOK_PATH, ping_payload, push_payload, webhook_request
from abacus.settings import Settings, load_settings

ADMIN = "ada@example.com"  # the own app's admin (the emulator's first person)
PUSH_EVERY = 4  # one webhook in four is a push (its follow-up job fetches commits; the first one is), others pings
REPLAY_EVERY = 10  # one in ten (the third is) re-sends a delivery already sent: it must be answered "duplicate"


@dataclass(frozen=True)
class Target:
    """The app under load: where it answers, how to sign in and sign webhooks, where its data and jobs live."""

    base_url: str
    settings: Settings  # database / Redis resolved; queue; webhook secret
    origin: str  # "demo" or "own"
    emulator: EmulatorConfig = field(default_factory=EmulatorConfig)  # the data set behind it (webhook pushes)


@dataclass
class WebhookLedger:
    """Every delivery the clients sent and how the app answered: first sends by event, replays."""

    sent: dict[str, str] = field(default_factory=dict)  # delivery id → event, answered 2xx on the first send
    replays: int = 0
    replays_answered_duplicate: int = 0


@dataclass(frozen=True)
class WebhookCheck:
    """The exactly-once check after the load: rows stored for the ids sent, their states, the follow-up jobs."""

    sent: int
    pushes: int
    stored: int
    processed: int
    pending: int
    failed: int
    replays: int
    replays_answered_duplicate: int
    followup_jobs_done: int
    followup_jobs_retried: int

    @property
    def exactly_once(self) -> bool:
        return (
            self.stored == self.sent
            and self.pending == 0
            and self.failed == 0
            and self.replays == self.replays_answered_duplicate
            and self.followup_jobs_done == self.pushes
            and self.followup_jobs_retried == 0
        )


@dataclass(frozen=True)
class LoadReport:
    origin: str
    base_url: str
    load: MixedLoadResult
    webhooks: WebhookCheck
    think_seconds: float
    enqueued: list[str]
    warmup_seconds: float = 0.0
    sync_rounds: int = 1

    @property
    def errors(self) -> int:
        return sum(route.errors for route in self.load.routes)

    def as_json(self) -> dict[str, Any]:
        routes = [
            {
                "route": r.name,
                "requests": r.requests,
                "requests_per_s": r.requests / self.load.seconds if self.load.seconds else 0.0,
                "p50_ms": r.percentile(0.50),
                "p95_ms": r.percentile(0.95),
                "p99_ms": r.percentile(0.99),
                "errors": r.errors,
                "error_samples": r.error_samples,
            }
            for r in self.load.routes
        ]
        everything = [v for r in self.load.routes for v in r.latencies]
        total = sum(r.requests for r in self.load.routes)
        return {
            "target": self.origin,
            "base_url": self.base_url,
            "clients": self.load.clients,
            "think_seconds": self.think_seconds,
            "warmup_seconds": self.warmup_seconds,
            "sync_rounds": self.sync_rounds,
            "seconds": self.load.seconds,
            "requests": total,
            "requests_per_s": total / self.load.seconds if self.load.seconds else 0.0,
            "p99_ms": sorted(everything)[min(len(everything) - 1, round(0.99 * (len(everything) - 1)))]
            if everything
            else 0.0,
            "errors": self.errors,
            "routes": routes,
            "webhooks": {**asdict(self.webhooks), "exactly_once": self.webhooks.exactly_once},
            "enqueued_jobs": self.enqueued,
        }


def webhook_route(target: Target, ledger: WebhookLedger) -> LoadRoute:
    """Validly signed GitHub deliveries: pings, every PUSH_EVERY-th a push of the emulator's latest commits, every
    REPLAY_EVERY-th a replay of an earlier delivery id (same body, same signature)."""
    from abacus.emulators.dataset import EmulatorDataset

    secret = target.settings.github.webhook_secret or ""
    dataset = EmulatorDataset(target.emulator)
    payloads = {"ping": ping_payload(dataset), "push": push_payload(dataset, "acme/web", 3)}
    counter = itertools.count(1)
    sent_bodies: list[tuple[str, bytes, dict[str, str]]] = []

    async def send(client: httpx.AsyncClient) -> httpx.Response:
        n = next(counter)
        if n % REPLAY_EVERY == 3 and sent_bodies:
            delivery_id, body, headers = sent_bodies[(n // REPLAY_EVERY) % len(sent_bodies)]
            ledger.replays += 1
            response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
            if response.status_code == 200 and response.json().get("status") == "duplicate":
                ledger.replays_answered_duplicate += 1
            return response
        event = "push" if n % PUSH_EVERY == 1 else "ping"
        delivery_id = f"loadtest-{uuid.uuid4()}"
        body, headers = webhook_request(secret, event, payloads[event], delivery_id)
        response = await client.post(WEBHOOK_PATH, content=body, headers=headers)
        if response.status_code in (200, 202):
            ledger.sent[delivery_id] = event
            sent_bodies.append((delivery_id, body, headers))
        return response

    def ok(response: httpx.Response) -> bool:
        return response.status_code in (200, 202)

    return LoadRoute("GitHub webhook", send, ok)


async def check_webhooks(target: Target, ledger: WebhookLedger, *, drain_seconds: float) -> WebhookCheck:
    """Wait (up to `drain_seconds`) for the worker to finish the push follow-ups, then count what is stored for the
    delivery ids sent and what the follow-up jobs' results say."""
    from arq.jobs import Job, JobStatus

    from abacus.worker.enqueue import arq_pool
    from abacus.worker.webhook_jobs import followup_job_id

    ids = list(ledger.sent)
    pushes = [d for d, event in ledger.sent.items() if event == "push"]
    engine = create_engine(target.settings.database.url or "")
    pool = await arq_pool(target.settings)
    try:
        deadline = time.monotonic() + drain_seconds
        while True:
            async with engine.connect() as conn:
                rows = (
                    await conn.execute(
                        text(
                            "SELECT status, COUNT(*) FROM webhook_deliveries WHERE delivery_id = ANY(:ids) "
                            "GROUP BY status"
                        ),
                        {"ids": ids},
                    )
                ).all()
            states = {status: count for status, count in rows}
            done = retried = 0
            for delivery_id in pushes:
                queue = target.settings.jobs.queue
                job = Job(followup_job_id(queue, delivery_id), pool, _queue_name=queue)
                info = await job.result_info()
                if info is not None and info.success and await job.status() == JobStatus.complete:
                    done += 1
                    retried += int(info.job_try > 1)
            # a push's delivery is stored as processed before its follow-up job (queued behind the syncs) has run
            if (not states.get("received") and done == len(pushes)) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
    finally:
        await pool.aclose()
        await engine.dispose()
    return WebhookCheck(
        sent=len(ids),
        pushes=len(pushes),
        stored=sum(states.values()),
        processed=states.get("processed", 0),
        pending=states.get("received", 0),
        failed=states.get("failed", 0),
        replays=ledger.replays,
        replays_answered_duplicate=ledger.replays_answered_duplicate,
        followup_jobs_done=done,
        followup_jobs_retried=retried,
    )


def page_routes(person: str) -> list[LoadRoute]:
    return [
        get_route("Overview", "/"),
        get_route("Team", "/team"),
        get_route("Status", "/status"),
        get_route("Person", f"/users/{person}"),
    ]


def run_loadtest(
    target: Target,
    *,
    clients: int,
    seconds: float,
    email: str,
    person: str,
    drain_seconds: float,
    think_seconds: float = 0.0,
    warmup_seconds: float = 0.0,
    sync_every: float = 0.0,
) -> LoadReport:
    """Sign in, enqueue a forward sync of every configured provider (again every `sync_every` seconds of the load
    when > 0), run the load, check the webhook deliveries."""
    from abacus.providers import registry
    from abacus.worker.enqueue import enqueue_jobs

    client = sign_in(target.base_url, email)
    cookies = client.cookies
    client.close()
    forward = [
        job.name
        for provider in registry.PROVIDERS
        if registry.configured(target.settings, provider) and (job := provider.job("forward")) is not None
    ]
    why = f"loadtest-{uuid.uuid4().hex[:8]}"
    enqueued = asyncio.run(enqueue_jobs(target.settings, forward, why=why))
    rounds = 1

    async def keep_syncing() -> None:
        nonlocal rounds
        while sync_every > 0:
            await asyncio.sleep(sync_every)
            rounds += 1
            enqueued.extend(await enqueue_jobs(target.settings, forward, why=f"{why}-{rounds}"))

    ledger = WebhookLedger()
    routes = [*page_routes(person), webhook_route(target, ledger)]
    result = run_load(
        target.base_url,
        cookies,
        routes,
        clients=clients,
        seconds=seconds,
        think_seconds=think_seconds,
        warmup_seconds=warmup_seconds,
        background=keep_syncing,
    )
    webhooks = asyncio.run(check_webhooks(target, ledger, drain_seconds=drain_seconds))
    return LoadReport(target.origin, target.base_url, result, webhooks, think_seconds, enqueued, warmup_seconds, rounds)


async def wait_for_usage(settings: Settings, email: str, *, within: float) -> None:
    """Return once `email` has usage stored (the person's page then has something to show); RuntimeError after
    `within` seconds."""
    engine = create_engine(settings.database.url or "")
    deadline = time.monotonic() + within
    try:
        while True:
            async with engine.connect() as conn:
                found = (
                    await conn.execute(text("SELECT 1 FROM usage_records WHERE email = :e LIMIT 1"), {"e": email})
                ).first()
            if found is not None:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the worker stored no usage of {email} within {within:g} s")
            await asyncio.sleep(1)
    finally:
        await engine.dispose()


class WorkerProcess:
    """`abacus worker` as a child process with the given environment (its output to a log file)."""

    def __init__(self, env: dict[str, str], log_path: str) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> WorkerProcess:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "abacus", "worker"], env={**os.environ, **self.env}, stdout=log, stderr=log
            )
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


@contextlib.contextmanager
def own_app(
    settings: Settings,
    *,
    web_workers: int,
    database: str,
    person: str,
    emulator: EmulatorConfig,
    ingest_timeout: float = 300.0,
) -> Iterator[Target]:
    """The emulators (thread), a fresh migrated database, `abacus serve` and `abacus worker` (child processes) on
    free loopback ports with a queue of their own, the initial sync enqueued and `person`'s usage ingested (the
    backfills go on during the load); everything stopped and the database dropped on exit."""
    from abacus import migrate
    from abacus.bench.run import recreate
    from abacus.embedded import BackingServices
    from abacus.emulators.dataset import EmulatorDataset, demo_environment
    from abacus.emulators.oidc import OIDCState, create_oidc_router
    from abacus.emulators.server import EmulatorServer
    from abacus.worker.enqueue import enqueue_initial_sync

    services = BackingServices(settings.database.url or "", settings.redis.url or "", embedded=False)
    database_url = services.with_database(database)
    asyncio.run(recreate(services, database))
    try:
        migrate.upgrade(database_url)
        people = [(p.email, p.name) for p in EmulatorDataset(emulator).people]
        identity = create_oidc_router(OIDCState(demo_users=people))
        with (
            EmulatorServer(emulator, extra_routers=[identity]) as emulators,
            tempfile.TemporaryDirectory(prefix="abacus-loadtest-") as scratch,
        ):
            port = free_port()
            base_url = f"http://127.0.0.1:{port}"
            env = {
                **app_environment(database_url, services.redis_url, f"{emulators.base_url}/oidc", base_url, ADMIN),
                **demo_environment(emulators.base_url),
                "ABACUS_QUEUE": f"abacus:loadtest:{uuid.uuid4().hex[:8]}",
            }
            own = load_settings(env, web=False)
            with WebProcess(env, port, web_workers), WorkerProcess(env, f"{scratch}/worker.log"):
                asyncio.run(enqueue_initial_sync(own))  # mappings, forward syncs, then backfills (still running)
                asyncio.run(wait_for_usage(own, person, within=ingest_timeout))
                yield Target(base_url, own, "own", emulator)
    finally:
        asyncio.run(recreate(services, database, drop_only=True))

"""One bench run: a fresh database, the data set, ingest through the real store path, every page through the real
app (cold and warm), the original's way on the same data, concurrent load, a streamed export's memory, EXPLAIN of
the slowest page, then the database dropped. Each step advances one progress bar; the figures come back as a list.
`run_existing` times the same pages (and the original's way, load, export, EXPLAIN) on a database as it is: nothing
created, written or dropped.

Pages are timed by the app's own Server-Timing `app` (the wall time of the request in the web process, HTML
rendering included): `cold` is a page's first request after the web process started (pages are visited in order,
so only the first one also pays the process's first connections), p50/p95 over the warm requests that follow.
The original's way times its SQL alone (no rendering), so the ratio errs in its favour.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from abacus.bench import dataset, reference
from abacus.bench.report import Figure
from abacus.bench.web import (
    PageTiming,
    WebProcess,
    app_environment,
    free_port,
    identity_provider,
    load,
    percentile,
    quiet_logs,
    sign_in,
    stream_export,
    time_page,
)
from abacus.db import create_engine
from abacus.embedded import BackingServices, ensure_database_exists
from abacus.runtime import default_web_workers

ADMIN = f"user1@{dataset.DOMAIN}"
PAGES = {
    "overview": "/",
    "overview_7d": "/?range=7d",
    "overview_90d": "/?range=90d",
    "overview_1y": "/?range=1y",
    "overview_year": "/?start={year}-01-01&end={year}-12-31",
    "live_today": "/live/today",
    "usage": "/usage",
    "usage_tools": "/usage?view=tools",
    "team": "/team",
    "team_search": "/team?search=user1",
    "team_sort": "/team?sort=cursorTokens",
    "users": "/api/v1/users",
    "user_profile": "/users/{user}",
    "commits": "/commits",
    "commits_90d": "/commits?range=90d",
    "repository": "/repositories/{repo}",
    "status": "/status",
    "mappings": "/mappings",
}
"""Named pages; `users` is the per-person table as JSON (the original's /api/users), `team` the Team page,
`live_today` the Overview's Today strip that every open Overview polls."""
EXPORT = "/export/usage.csv?range=1y"
LOAD_PAGE = "/"
INGEST_PEOPLE, INGEST_DAYS = 2000, 7
"""The ingest slice: a week of Cursor events of (up to) 2,000 people, ~12 events per person-day (~160,000 rows),
one day per transaction, as a backfill reads them."""
STEPS = 15
"""Progress steps of a run (the data set reports six of them)."""
EXISTING_STEPS = 7
"""Progress steps of `run_existing`."""


@dataclass(frozen=True)
class Options:
    events: int = 2_000_000
    people: int = 2000
    days: int = 365
    seed: int = 1
    requests: int = 20
    clients: int = 50
    load_seconds: float = 10.0
    reference_repeats: int = 3
    keep: bool = False
    web_workers: int | None = None
    """Worker processes of the timed web process; None: what `abacus serve` starts by default."""


@dataclass
class Outcome:
    figures: list[Figure] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    explain: str = ""
    failures: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, reference_way: float | None = None) -> None:
        self.figures.append(Figure(name, float(value), unit, reference_way))


Step = dataset.Step


def api_paths(settings_env: dict[str, str], user: str | None, repo: str | None) -> dict[str, str]:
    """Every GET route under /api/v1 of the app (CSV exports aside), path parameters filled from the data (a route
    whose parameter has no value, e.g. a repository's on a database without commits, is left out)."""
    from abacus.app import create_app
    from abacus.settings import load_settings

    app = create_app(load_settings(settings_env))
    quiet_logs()
    owner, name = repo.split("/", 1) if repo else (None, None)
    values = {"email": user, "owner": owner, "repo": name}
    found = {}
    for route in app.routes:
        if "GET" not in getattr(route, "route_handler_map", {}) or not route.path.startswith("/api/v1/"):
            continue
        if route.path.endswith(".csv"):
            continue
        if any(values[m.group(1)] is None for m in re.finditer(r"\{(\w+)(:[^}]*)?\}", route.path)):
            continue
        path = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: values[m.group(1)] or "", route.path)
        label = re.sub(r"\{(\w+)(:[^}]*)?\}", lambda m: m.group(1), route.path.removeprefix("/api/v1/"))
        found["api_" + re.sub(r"\W+", "_", label).strip("_")] = path
    return found


async def recreate(services: BackingServices, database: str, *, drop_only: bool = False) -> None:
    admin = create_engine(services.with_database("postgres"))
    try:
        async with admin.connect() as conn:
            conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
    finally:
        await admin.dispose()
    if not drop_only:
        await ensure_database_exists(services.with_database(database))


def _pages(outcome: Outcome, timings: list[PageTiming], reference_ms: dict[str, list[float]]) -> None:
    for timing in timings:
        ref = reference_ms.get(timing.name)
        outcome.add(f"page_{timing.name}_p50_ms", timing.p50, "ms", reference.median(ref) if ref else None)
        outcome.add(f"page_{timing.name}_p95_ms", timing.p95, "ms", percentile(ref, 0.95) if ref else None)
        if not timing.name.startswith("api_"):
            outcome.add(f"page_{timing.name}_cold_ms", timing.cold_ms, "ms")
        if timing.status != 200:
            outcome.failures.append(f"{timing.path} answered {timing.status}")


def run(services: BackingServices, database: str, options: Options, step: Step) -> Outcome:
    """The whole bench on `database` (dropped and created again first; dropped at the end unless `keep`)."""
    if database == "abacus":
        raise ValueError("the bench drops its database: it never runs on `abacus`")
    from abacus import migrate
    from abacus.bench_ingest import measure_ingest

    began = time.perf_counter()
    outcome = Outcome(params={**asdict(options), "database": database})
    url = services.with_database(database)
    step("creating the database")
    asyncio.run(recreate(services, database))
    try:
        migrate.upgrade(url)
        engine = create_engine(url, pool_size=10)

        async def build() -> dataset.Dataset:
            try:
                return await dataset.build(
                    engine,
                    events=options.events,
                    people=options.people,
                    days=options.days,
                    seed=options.seed,
                    step=step,
                )
            finally:
                await engine.dispose()

        started = time.perf_counter()
        data = asyncio.run(build())
        outcome.add("dataset_usage_rows", data.usage_rows, "rows")
        outcome.add("dataset_commits", data.commits, "rows")
        outcome.add("dataset_build_s", time.perf_counter() - started, "s")
        outcome.params.update(top_user=data.top_user, top_repo=data.top_repo, repositories=data.repositories)

        ingest_people, ingest_days, per_day = min(options.people, INGEST_PEOPLE), min(options.days, INGEST_DAYS), 10
        outcome.params.update(
            ingest_people=ingest_people, ingest_days=ingest_days, ingest_events_per_person_day=per_day
        )
        step(f"ingest through the store path ({ingest_people} people × {ingest_days} days)")

        async def ingest() -> Any:
            try:
                return await measure_ingest(
                    engine, people=ingest_people, days=ingest_days, events_per_person_day=per_day, seed=options.seed
                )
            finally:
                await engine.dispose()

        ingested = asyncio.run(ingest())
        outcome.add("ingest_events_per_s", ingested.rows_per_second, "rows/s")
        outcome.add("ingest_peak_rss_mb", ingested.peak_rss_mb, "MB")

        _measure(services, url, options, data.top_user, data.top_repo, outcome, step, engine)
        outcome.add("pages_failed", len(outcome.failures), "pages")
    finally:
        if not options.keep:
            step("dropping the bench database")
            asyncio.run(recreate(services, database, drop_only=True))
    outcome.add("bench_s", time.perf_counter() - began, "s")
    return outcome


async def existing_problem(services: BackingServices, database: str) -> str | None:
    """Why `database` cannot be timed as it is (missing, not migrated, behind the code's migrations), or None."""
    from abacus import migrate

    admin = create_engine(services.with_database("postgres"))
    try:
        async with admin.connect() as conn:
            found = (await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database})).first()
    finally:
        await admin.dispose()
    if found is None:
        return f"there is no database `{database}` on this server: `--existing` times a database that exists"
    revision = await migrate.current_revision_async(services.with_database(database))
    if revision is None:
        return f"the database `{database}` is not migrated: run `abacus db upgrade` first"
    if revision != migrate.HEAD_REVISION:
        return (
            f"the database `{database}` is at migration {revision}, this code needs {migrate.HEAD_REVISION}: "
            "run `abacus db upgrade` first"
        )
    return None


def run_existing(services: BackingServices, database: str, options: Options, step: Step) -> Outcome:
    """Every page, the original's way, load, export and EXPLAIN on `database` as it is: no data generated, no ingest
    measured (it writes), nothing dropped. Raises ValueError when the database is missing or not migrated."""
    began = time.perf_counter()
    outcome = Outcome(
        params={
            "existing": True,
            "database": database,
            "requests": options.requests,
            "clients": options.clients,
            "load_seconds": options.load_seconds,
            "reference_repeats": options.reference_repeats,
        }
    )
    url = services.with_database(database)
    step(f"checking the database `{database}`")
    problem = asyncio.run(existing_problem(services, database))
    if problem is not None:
        raise ValueError(problem)
    engine = create_engine(url, pool_size=10)

    async def survey() -> tuple[int, int, str | None, str | None]:
        try:
            async with engine.connect() as conn:
                usage = int((await conn.execute(text("SELECT COUNT(*) FROM usage_records"))).scalar_one())
                commits = int((await conn.execute(text("SELECT COUNT(*) FROM commits"))).scalar_one())
                return usage, commits, *await dataset.top_user_and_repo(conn)
        finally:
            await engine.dispose()

    usage_rows, commits, top_user, top_repo = asyncio.run(survey())
    outcome.add("dataset_usage_rows", usage_rows, "rows")
    outcome.add("dataset_commits", commits, "rows")
    outcome.params.update(top_user=top_user, top_repo=top_repo)
    _measure(services, url, options, top_user, top_repo, outcome, step, engine)
    outcome.add("pages_failed", len(outcome.failures), "pages")
    outcome.add("bench_s", time.perf_counter() - began, "s")
    return outcome


def _measure(
    services: BackingServices,
    url: str,
    options: Options,
    top_user: str | None,
    top_repo: str | None,
    outcome: Outcome,
    step: Step,
    engine: Any,
) -> None:
    """The web process's pages, load and export; the original's way on the same pages; EXPLAIN of the slowest."""
    timings, slowest = _measure_web(services, url, options, top_user, top_repo, outcome, step)
    timed = {timing.name for timing in timings}
    step("the original's way: raw SQL per request")
    today = datetime.now(UTC).date()

    async def references() -> dict[str, list[float]]:
        try:
            return {
                page.name: await reference.time_reference(
                    engine,
                    page,
                    today=today,
                    email=top_user or "",
                    repo=top_repo or "",
                    repeats=options.reference_repeats,
                )
                for page in reference.PAGES
                if page.name in timed
            }
        finally:
            await engine.dispose()

    _pages(outcome, timings, asyncio.run(references()))
    _explain(services, url, slowest, outcome, step, engine)


def _measure_web(
    services: BackingServices,
    url: str,
    options: Options,
    top_user: str | None,
    top_repo: str | None,
    outcome: Outcome,
    step: Step,
) -> tuple[list[PageTiming], PageTiming]:
    year = datetime.now(UTC).year
    with identity_provider() as idp:
        port = free_port()
        env = app_environment(url, services.redis_url, f"{idp.url}/oidc", f"http://127.0.0.1:{port}", ADMIN)
        workers = options.web_workers or default_web_workers()
        outcome.params["web_process"] = f"abacus serve: uvicorn, {workers} worker processes (RSS by psutil)"
        outcome.params["web_workers"] = workers
        step(f"starting the web process (abacus serve, {workers} workers)")
        with WebProcess(env, port, workers) as web:
            outcome.add("web_rss_start_mb", web.rss_mb(), "MB")
            client = sign_in(web.url, ADMIN)
            pages = {
                name: path.format(year=year, user=top_user, repo=top_repo)
                for name, path in PAGES.items()
                if not (("{user}" in path and top_user is None) or ("{repo}" in path and top_repo is None))
            }  # a database without usage or commits has no person's or repository's page to time
            pages.update(api_paths(env, top_user, top_repo))
            step(f"timing {len(pages)} pages and API routes: cold + {options.requests} warm each")
            timings = [time_page(client, name, path, options.requests) for name, path in pages.items()]
            outcome.add("web_rss_mb", web.rss_mb(), "MB")
            outcome.add("web_rss_all_workers_mb", web.rss_total_mb(), "MB")
            step(f"{options.clients} concurrent clients on the Overview for {options.load_seconds:g} s")
            loaded = load(web, client.cookies, LOAD_PAGE, clients=options.clients, seconds=options.load_seconds)
            outcome.add("load_overview_p50_ms", loaded.p50_ms, "ms")
            outcome.add("load_overview_p99_ms", loaded.p99_ms, "ms")
            outcome.add("load_overview_requests_per_s", loaded.requests / loaded.seconds, "requests/s")
            outcome.add("load_overview_errors", loaded.errors, "errors")
            outcome.add("web_rss_peak_load_mb", loaded.rss_peak_mb, "MB")
            step(f"streaming {EXPORT}")
            export = stream_export(web, client, EXPORT)
            if export.status != 200:
                outcome.failures.append(f"{EXPORT} answered {export.status}")
            outcome.add("export_usage_1y_first_byte_ms", export.first_byte_ms, "ms")
            outcome.add("export_usage_1y_total_ms", export.total_ms, "ms")
            outcome.add("export_usage_1y_bytes", export.bytes, "bytes")
            outcome.add("export_usage_1y_rss_growth_mb", export.rss_growth_mb, "MB")
            client.close()
    slowest = max(timings, key=lambda t: t.p95)
    outcome.params["slowest_page"] = slowest.path
    return timings, slowest


def _explain(
    services: BackingServices, url: str, slowest: PageTiming, outcome: Outcome, step: Step, engine: Any
) -> None:
    from abacus.bench import explain

    step(f"EXPLAIN (ANALYZE, BUFFERS) of the slowest page's SQL ({slowest.path})")
    with identity_provider() as idp:
        statements = explain.capture(url, services.redis_url, f"{idp.url}/oidc", ADMIN, slowest.path)

    async def plans() -> str:
        try:
            return await explain.explain(engine, statements)
        finally:
            await engine.dispose()

    outcome.explain = f"-- {slowest.path}: {len(statements)} statements\n\n" + asyncio.run(plans())

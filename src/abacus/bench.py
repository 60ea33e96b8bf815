"""`abacus bench`: seed a large synthetic data set in its own database and print per-page server times.

Rows are generated inside PostgreSQL (generate_series), the rollup is built by the same refresh the ingest uses,
then the real app is served on loopback, signed in through the OIDC emulator, and every page is requested
repeatedly; the numbers printed are the app's own Server-Timing (`app`, `db`) per page: p50, p95, max.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import httpx
import uvicorn
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from abacus.rollups import refresh_rollup
from abacus.settings import Settings, SignInSettings

if TYPE_CHECKING:
    from litestar import Litestar  # for the annotation only; the bench imports it when it runs

PAGES = [
    "/",
    "/?range=90d",
    "/?range=1y",
    "/usage",
    "/usage?view=tools&range=90d",
    "/team",
    "/team?sort=cursorTokens",
    "/team?search=user1",
    "/users/{top_user}",
    "/users/{top_user}?tab=raw",
    "/commits",
    "/commits?range=90d",
    "/repositories/{top_repo}",
    "/status",
    "/mappings",
    "/api/v1/stats",
    "/api/v1/users/pivot",
]

SEED_USAGE = text("""
INSERT INTO usage_records (date, identity, email, tool, model, raw_model, input_tokens, cache_write_tokens,
                           cache_read_tokens, output_tokens, cost, timestamp_ms, organization_id)
SELECT d::date,
       t.tool || ':' || 'user' || u || '@bench.example',
       CASE WHEN u % 50 = 0 THEN 'unmapped:' || t.tool || ':' || 'user' || u || '@bench.example'
            ELSE 'user' || u || '@bench.example' END,
       t.tool, t.models[1 + (e % array_length(t.models, 1))], t.raws[1 + (e % array_length(t.raws, 1))],
       (hashint(u, e, 1) % 5000), (hashint(u, e, 2) % 2000), (hashint(u, e, 3) % 60000), (hashint(u, e, 4) % 3000),
       ((hashint(u, e, 5) % 9000) / 10000.0)::numeric(14, 6),
       (extract(epoch FROM d) * 1000)::bigint + u * 1000 + e, 'bench'
FROM generate_series(CAST(:start AS date), CAST(:end AS date), interval '1 day') d,
     generate_series(1, :users) u,
     (VALUES ('claude_code', ARRAY['sonnet-4.5', 'opus-4.5', 'haiku-4.5'],
              ARRAY['claude-sonnet-4-5-20250929', 'claude-opus-4-5-20251101', 'claude-haiku-4-5-20251001']),
             ('cursor', ARRAY['sonnet-4.5', 'gpt-5', '(default)'],
              ARRAY['claude-4.5-sonnet-thinking', 'gpt-5', 'auto'])) AS t(tool, models, raws),
     generate_series(1, :events) e
WHERE (u + extract(doy FROM d)::int) % 7 <> 0
""")
HASH_FN = text("""
CREATE OR REPLACE FUNCTION hashint(a int, b int, c int) RETURNS bigint LANGUAGE sql IMMUTABLE AS
$$ SELECT abs(hashtext(a::text || ':' || b::text || ':' || c::text))::bigint $$
""")
SEED_COMMITS = text("""
WITH repos AS (
  INSERT INTO repositories (source, full_name)
  SELECT 'github', 'bench/repo-' || r FROM generate_series(1, :repos) r RETURNING id
)
INSERT INTO commits (repo_id, commit_id, author_email, author_id, committed_at, message, ai_tool, additions, deletions)
SELECT repos.id, md5(repos.id::text || ':' || n), 'user' || (n % :users + 1) || '@bench.example',
       (n % :users + 1)::text, now() - (n % 365) * interval '1 day' - (n % 86400) * interval '1 second',
       'Change ' || n, (ARRAY[NULL, 'claude_code', 'cursor', NULL, 'github_copilot'])[1 + n % 5], n % 300, n % 90
FROM repos, generate_series(1, :commits_per_repo) n
""")


@dataclass
class Timing:
    path: str
    status: int
    app_ms: list[float]
    db_ms: list[float]


async def seed(
    engine: AsyncEngine,
    *,
    users: int,
    days: int,
    events: int,
    repos: int,
    commits: int,
    progress: Callable[[str], None] = print,
) -> int:
    """Fill an empty bench database; returns the number of usage rows."""
    today = datetime.now(UTC).date()

    async with engine.begin() as conn:
        await conn.execute(HASH_FN)
        total = 0
        chunk = 30
        for offset in range(0, days, chunk):
            end = today - timedelta(days=offset)
            start = today - timedelta(days=min(days - 1, offset + chunk - 1))
            result = await conn.execute(SEED_USAGE, {"start": start, "end": end, "users": users, "events": events})
            total += result.rowcount or 0
            progress(f"usage rows: {total:,}")
        await conn.execute(SEED_COMMITS, {"repos": repos, "users": users, "commits_per_repo": commits // repos})
        progress("commits seeded; building the rollup")
    async with AsyncSession(engine) as db, db.begin():
        slices = [(r.date, r.tool) for r in await db.execute(text("SELECT DISTINCT date, tool FROM usage_records"))]
        await refresh_rollup(db, slices)
    async with engine.connect() as conn:
        await (await conn.execution_options(isolation_level="AUTOCOMMIT")).execute(text("VACUUM ANALYZE"))
    return total


class _Server:
    def __init__(self, app: Litestar, port: int) -> None:
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        while not self.server.started:
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


def measure(settings: Settings, *, requests: int, top_user: str, top_repo: str) -> list[Timing]:
    """Serve the app + OIDC emulator on loopback, sign in, and time every page `requests` times."""
    import socket

    from litestar import Litestar

    from abacus.app import create_app
    from abacus.emulators.oidc import OIDCState, create_oidc_router

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    idp_port, app_port = free_port(), free_port()
    idp = Litestar(route_handlers=[create_oidc_router(OIDCState())], logging_config=None)
    sign_in = SignInSettings(
        issuer=f"http://127.0.0.1:{idp_port}/oidc",
        client_id="abacus",
        client_secret="dev",
        allowed_domains=("bench.example",),
        admin_emails=("user1@bench.example",),
    )
    settings = settings.model_copy(update={"base_url": f"http://127.0.0.1:{app_port}", "sign_in": sign_in})
    import logging

    with _Server(idp, idp_port), _Server(create_app(settings), app_port):
        logging.getLogger("abacus.request").setLevel(logging.WARNING)
        client = httpx.Client(base_url=f"http://127.0.0.1:{app_port}", timeout=60)
        login = client.get("/auth/login", params={"login_hint": "user1@bench.example"})
        callback = httpx.get(login.headers["location"]).headers["location"]
        client.get(callback)
        timings = []
        for template in PAGES:
            path = template.format(top_user=top_user, top_repo=top_repo)
            app_ms, db_ms, status = [], [], 0
            for _ in range(requests + 1):
                response = client.get(path)
                status = response.status_code
                parts = dict(p.strip().split(";dur=") for p in response.headers.get("server-timing", "").split(","))
                app_ms.append(float(parts.get("app", 0)))
                db_ms.append(float(parts.get("db", 0)))
            timings.append(Timing(path, status, app_ms[1:], db_ms[1:]))  # first request warms caches
        return timings


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def summary(timing: Timing) -> tuple[float, float, float, float]:
    return (
        statistics.median(timing.app_ms),
        percentile(timing.app_ms, 0.95),
        max(timing.app_ms),
        percentile(timing.db_ms, 0.95),
    )

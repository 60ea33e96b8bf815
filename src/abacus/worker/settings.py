"""arq WorkerSettings: queue, cron table and the task functions (worker.py at the project root points here)."""

from __future__ import annotations

import os
from typing import Any

from arq import cron
from arq.connections import RedisSettings

from abacus.db import create_engine, session_factory
from abacus.logging_setup import configure_logging, get_logger
from abacus.settings import load_settings
from abacus.worker.heartbeat import heartbeat
from abacus.worker.tasks import CRON_JOBS, FUNCTIONS

log = get_logger("abacus.worker")
from abacus.queue_keys import QUEUE_NAME  # noqa: E402


def _redis_url() -> str:
    url = os.environ.get("REDIS_URL")
    if url:
        return url
    from abacus.embedded import resolve_backing_services

    services, _stop = resolve_backing_services()
    os.environ.setdefault("DATABASE_URL", services.database_url)
    os.environ["REDIS_URL"] = services.redis_url
    return services.redis_url


async def on_startup(ctx: dict[str, Any]) -> None:
    settings = load_settings(web=False)
    configure_logging(settings.env)
    database_url = settings.database_url or os.environ["DATABASE_URL"]
    engine = create_engine(database_url, pool_size=5)
    ctx["settings"] = settings
    ctx["engine"] = engine
    ctx["sessionmaker"] = session_factory(engine)
    await heartbeat(ctx)
    log.info("worker started", queue=QUEUE_NAME)


async def on_shutdown(ctx: dict[str, Any]) -> None:
    engine = ctx.get("engine")
    if engine is not None:
        await engine.dispose()
    log.info("worker stopped")


class WorkerSettings:
    redis_settings = RedisSettings.from_dsn(_redis_url())
    queue_name = QUEUE_NAME
    functions = FUNCTIONS
    cron_jobs = [cron(heartbeat, second={0, 30}, run_at_startup=True, unique=True, timeout=10), *CRON_JOBS]
    on_startup = on_startup
    on_shutdown = on_shutdown
    max_jobs = 4
    job_timeout = 900
    keep_result = 3600
    health_check_interval = 30

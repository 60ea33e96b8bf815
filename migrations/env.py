"""Alembic environment (async): the URL comes from the caller (abacus db …) or DATABASE_URL."""

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

from abacus.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: run migrations through `abacus db upgrade` or set DATABASE_URL")
    return url


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_async_engine(_url())
    async with engine.connect() as connection:
        await connection.run_sync(_run)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
    else:
        # Run on a private loop in a thread: callers may already own a running loop (tests, Playwright).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, _run_async()).result()

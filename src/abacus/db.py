"""Async engine and session factory; the only place that knows how to reach PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

# Accumulated SQL time of the current request, for the Server-Timing header.
sql_time_ms: ContextVar[list[float] | None] = ContextVar("sql_time_ms", default=None)


def create_engine(database_url: str, *, pool_size: int = 5) -> AsyncEngine:
    """Pool per process: 5 + 5 overflow, so 8 web workers stay within PostgreSQL's default 100 connections."""
    engine = create_async_engine(database_url, pool_size=pool_size, max_overflow=5, pool_pre_ping=True)
    _instrument(engine)
    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def _instrument(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _start(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: object,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        conn.info.setdefault("query_start", []).append(time.perf_counter())

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _stop(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: object,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        started = conn.info["query_start"].pop()
        spent = sql_time_ms.get()
        if spent is not None:
            spent[0] += (time.perf_counter() - started) * 1000


async def concurrently(
    sessionmaker: async_sessionmaker[AsyncSession], *calls: Callable[[AsyncSession], Awaitable[Any]]
) -> list[Any]:
    """Run independent read queries at the same time, each on its own pooled connection (page latency = the
    slowest query, not the sum)."""

    async def one(call: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with sessionmaker() as db:
            return await call(db)

    return list(await asyncio.gather(*(one(call) for call in calls)))

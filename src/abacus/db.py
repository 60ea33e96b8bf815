"""Async engine and session factory; the only place that knows how to reach PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, ExceptionContext, ExecutionContext
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


class SqlTimer:
    """Database time of one request: the union of the intervals in which at least one of its queries runs (two
    concurrent queries of 10 ms each over the same 10 ms count 10 ms, not 20), and the number of queries."""

    def __init__(self) -> None:
        self.queries = 0
        self._running = 0
        self._busy = 0.0
        self._since = 0.0

    def started(self) -> None:
        if self._running == 0:
            self._since = time.perf_counter()
        self._running += 1
        self.queries += 1

    def finished(self) -> None:
        if self._running == 0:
            return
        self._running -= 1
        if self._running == 0:
            self._busy += time.perf_counter() - self._since

    @property
    def busy_ms(self) -> float:
        """Wall time so far with at least one query running (a query still running counts up to now)."""
        running = time.perf_counter() - self._since if self._running else 0.0
        return (self._busy + running) * 1000


# The SQL timer of the current request (set by the request middleware), for the Server-Timing header.
sql_timer: ContextVar[SqlTimer | None] = ContextVar("sql_timer", default=None)


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
        timer = sql_timer.get()
        if timer is not None:
            timer.started()
            conn.info.setdefault("sql_timers", []).append(timer)

    def _stop(conn: Connection) -> None:
        timers = conn.info.get("sql_timers")
        if timers:
            timers.pop().finished()

    @event.listens_for(sync_engine, "after_cursor_execute")
    def _after(
        conn: Connection,
        cursor: DBAPICursor,
        statement: str,
        parameters: object,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        _stop(conn)

    @event.listens_for(sync_engine, "handle_error")
    def _failed(context: ExceptionContext) -> None:
        if context.connection is not None:
            _stop(context.connection)


async def concurrently(
    sessionmaker: async_sessionmaker[AsyncSession], *calls: Callable[[AsyncSession], Awaitable[Any]]
) -> list[Any]:
    """Run independent read queries at the same time, each on its own pooled connection (page latency = the
    slowest query, not the sum)."""

    async def one(call: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with sessionmaker() as db:
            return await call(db)

    return list(await asyncio.gather(*(one(call) for call in calls)))

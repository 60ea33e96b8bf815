"""Async engine and session factory; the only place that knows how to reach PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, ExceptionContext, ExecutionContext
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


def create_engine(
    database_url: str,
    *,
    pool_size: int = 5,
    max_overflow: int = 5,
    pool_timeout: float = 30.0,
    fanout_connections: int = 4,
) -> AsyncEngine:
    """Pool per process: 5 + 5 overflow by default, plus `fanout_connections` in a pool of their own for the extra
    connections `concurrently` lends a request's independent queries; 8 web workers stay within PostgreSQL's default
    100 connections. `pool_timeout`: how long a checkout waits for a free connection before it fails."""
    engine = _engine(database_url, pool_size, max_overflow, pool_timeout)
    if fanout_connections > 0:
        fanout = _engine(database_url, fanout_connections, 0, pool_timeout)
        _fanout[engine.sync_engine] = session_factory(fanout)
        _owner[fanout.sync_engine] = weakref.ref(engine)

        @event.listens_for(engine.sync_engine, "engine_disposed")
        def _dispose_fanout(_: Engine) -> None:  # runs inside the async dispose's greenlet
            fanout.sync_engine.dispose()

    return engine


def _engine(database_url: str, pool_size: int, max_overflow: int, pool_timeout: float) -> AsyncEngine:
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_timeout=pool_timeout,
        pool_pre_ping=True,
    )
    _instrument(engine)
    return engine


_fanout: WeakKeyDictionary[Engine, async_sessionmaker[AsyncSession]] = WeakKeyDictionary()
_owner: WeakKeyDictionary[Engine, weakref.ref[AsyncEngine]] = WeakKeyDictionary()


def owning_engine(engine: AsyncEngine) -> AsyncEngine:
    """The engine whose fan-out pool `engine` is, else `engine` itself: what the page cache is attached to."""
    owner = _owner.get(engine.sync_engine)
    found = owner() if owner is not None else None
    return found if found is not None else engine


def reads_only(session: AsyncSession) -> bool:
    """Whether `session` is a `concurrently` worker's of this task: its transaction only ever reads."""
    home = _worker_home.get()
    return home is not None and home.session is session


async def live_write(db: AsyncSession) -> None:
    """Mark the current transaction as one that only re-derives live telemetry (provisional OTel rows): its writes
    move `data_version.live_version` instead of `version` (migration 0021), which cached pages follow only about once
    a minute (`queries/cache.py`)."""
    await db.execute(text("SET LOCAL abacus.live_write = 'on'"))


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


@dataclass(eq=False)
class Home:
    """A session a request (or a `concurrently` worker) holds, lent to every read it makes, so none of them checks
    out a second connection of the pool while this one is held; `lock`: one borrower at a time."""

    session: AsyncSession
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(eq=False)
class RequestHome:
    """The request's one connection of the main pool, opened on its first read and closed when the response is sent
    (the request middleware sets one per request). A mutable holder, so every task of the request shares it."""

    home: Home | None = None

    def open(self, sessionmaker: async_sessionmaker[AsyncSession]) -> Home:
        if self.home is None:  # no await between the check and the assignment: one home per request
            self.home = Home(sessionmaker())
        return self.home

    async def close(self) -> None:
        if self.home is not None:
            session, self.home = self.home.session, None
            await session.close()


request_home: ContextVar[RequestHome | None] = ContextVar("request_home", default=None)
_worker_home: ContextVar[Home | None] = ContextVar("worker_home", default=None)


def leave_request() -> None:
    """Forget, in the current task's context, the request it was started from: its connection, its `concurrently`
    worker and its SQL timer. For a task that outlives the request (a page cache refresh): it opens its own
    connections and its queries do not count in the request's Server-Timing."""
    request_home.set(None)
    _worker_home.set(None)
    sql_timer.set(None)


@asynccontextmanager
async def borrowed_session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session for a few reads: the one the current `concurrently` worker holds, else the request's own (opened
    on first use), else — outside a request — a new one. The rule that keeps a saturated pool from deadlocking:
    a request holds at most one connection of the main pool, and whoever holds one never waits for another. A
    borrower that found the session outside a transaction ends the transaction its reads began, so the request holds
    its connection only while it reads (and a handler's `db.begin()` after it still starts a fresh one)."""
    home = _worker_home.get()
    holder = request_home.get()
    if home is None and holder is not None:
        home = holder.open(sessionmaker)
    if home is None:
        async with sessionmaker() as db:
            yield db
        return
    async with home.lock:
        session = home.session
        began = not session.in_transaction()
        try:
            yield session
        except BaseException:
            if began and session.in_transaction():
                await session.rollback()
            raise
        if began and session.in_transaction():  # the borrower's own reads: end them, the connection goes back
            await session.commit()


def _fanout_of(sessionmaker: async_sessionmaker[AsyncSession]) -> async_sessionmaker[AsyncSession] | None:
    bind = sessionmaker.kw.get("bind")
    return _fanout.get(bind.sync_engine) if isinstance(bind, AsyncEngine) else None


def _idle_fanout(fanout: async_sessionmaker[AsyncSession]) -> int:
    """Connections of the fan-out pool nobody holds right now."""
    bind = fanout.kw["bind"]
    pool = bind.sync_engine.pool
    size, checked_out = getattr(pool, "size", None), getattr(pool, "checkedout", None)
    return max(0, int(size()) - int(checked_out())) if size is not None and checked_out is not None else 0


async def concurrently(
    sessionmaker: async_sessionmaker[AsyncSession], *calls: Callable[[AsyncSession], Awaitable[Any]]
) -> list[Any]:
    """Run independent read queries side by side on the connections that are idle right now, one after another on
    one connection when none is: an idle server answers a page in the time of its slowest query, a busy one never
    queues a request's queries behind every other request's.

    The first worker runs on the request's own session when it holds one (`borrowed_session`), else on one new
    connection; extra workers take idle connections of the engine's fan-out pool, never more than it has idle. A
    worker keeps its connection from its first call to its last and lends it to what those calls open meanwhile (a
    nested `concurrently` runs there, one call after another): no one who holds a connection waits for a second
    one of the same pool, so a saturated pool queues requests instead of deadlocking them."""
    if not calls:
        return []
    fanout = _fanout_of(sessionmaker) if _worker_home.get() is None else None
    extra = min(len(calls) - 1, _idle_fanout(fanout)) if fanout is not None else 0
    results: list[Any] = [None] * len(calls)
    queue = list(enumerate(calls))

    async def run_all(db: AsyncSession) -> None:
        token = _worker_home.set(Home(db))
        try:
            while queue:
                index, call = queue.pop(0)
                results[index] = await call(db)
        finally:
            _worker_home.reset(token)

    async def first() -> None:
        async with borrowed_session(sessionmaker) as db:
            await run_all(db)

    async def other(maker: async_sessionmaker[AsyncSession]) -> None:
        async with maker() as db:
            await run_all(db)

    await asyncio.gather(first(), *(other(fanout) for _ in range(extra) if fanout is not None))
    return results

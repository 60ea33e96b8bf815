"""Read-through cache of page query results in Redis, keyed on the database's data version.

Every table a page reads carries a statement trigger (migration 0013) that moves `data_version.version` once per
writing transaction — sync stores, CSV imports, identity mappings, rollup rebuilds, TRUNCATE — and the new version
commits together with the data. A cached query first reads (epoch, version) from PostgreSQL, then looks for
`<epoch>:<version>:<function>:<arguments>` in Redis: a reader that sees the new version can only find entries computed
after that version committed, so a page never shows figures older than what it could read from the tables itself.
Entries of older versions are never read again and expire (`ttl_seconds`). Live telemetry and pushed commits are the
exception: a transaction marked with `abacus.db.live_write` (the OTel rebuild job, a push's follow-up) moves a
separate live version, which is sampled at most every `LIVE_REFRESH_SECONDS`, so cached pages may miss up to that
much provisional OpenTelemetry data or pushed commits, never a sync's, an import's or an admin's change.

Entries are filed under (epoch, version) and hold the live version they were computed under. When the live sample
moves on, the first readers still get the entry they find (stale only by live telemetry) while one task per key
recomputes it in the background (`_refresh_later`; one process at a time through a short Redis lock), so the
once-a-minute rotation of the sample does not send every page of every reader to the database at the same moment.
A reader that finds no entry for its data version computes it, as always: what a sync changed is never served old.

Not cached: a call inside a transaction that has written (its uncommitted rows must not reach other readers), a call
made while another cached call computes (its own result holds it), and anything when no cache is attached to the
engine (CLI, tests of the queries) or Redis fails (the query runs as if there were no cache).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import pickle
import struct
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast
from weakref import WeakKeyDictionary

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from abacus.db import borrowed_session, leave_request, owning_engine, reads_only, session_factory
from abacus.logging_setup import get_logger

P = ParamSpec("P")
R = TypeVar("R")

log = get_logger("abacus.queries.cache")

VERSION_SQL = text(
    "SELECT epoch::text || '.' || (SELECT oid FROM pg_database WHERE datname = current_database())::text AS epoch,"
    " version, live_version, pg_current_xact_id_if_assigned() IS NULL AS clean "
    "FROM data_version WHERE id = 1"
)
"""`clean`: this transaction has written nothing (no transaction id assigned yet). `epoch` is the random epoch of
`data_version` and the database's OID: a copy of the database (`CREATE DATABASE … TEMPLATE`, `createdb -T`) carries
the same epoch and version numbers, and its entries must never answer the original's readers (or the other way
round) when both share one Redis."""

Version = tuple[str, int, int]
"""What cached results are filed under: (epoch, data version, live version as last sampled)."""

LIVE_REFRESH_SECONDS = 60.0
"""How stale live telemetry may be in a cached page. Writes of provisional OpenTelemetry rows move their own counter
(`abacus.db.live_write`), sampled at most this often (one sample in Redis for all processes), so exports arriving
every few seconds do not throw away every cached page; anything else (syncs, imports, mappings) shows at once."""

KEY_PREFIX = "abacus:page-cache"

REFRESH_LOCK_SECONDS = 30
"""How long one process may hold the right to compute or recompute an entry before another may (one that died)."""

COMPUTE_WAIT_SECONDS = 2.0
"""How long a process waits for another one's computation of a missing entry before it computes it too."""

COMPUTE_POLL_SECONDS = 0.01

_LIVE = struct.Struct(">q")
"""An entry's head: the live version its result was computed under; the pickled result follows."""


def _code_fingerprint() -> str:
    """Short hash of the read side's source: a deploy that changes a query or a result's shape never reads the
    entries an older release wrote (they would be other figures, or unpickle into other classes)."""
    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]
    for folder in ("queries", "domain"):
        for path in sorted((root / folder).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    digest.update((root / "models.py").read_bytes())
    return digest.hexdigest()[:12]


CODE = _code_fingerprint()


@dataclass
class PageCache:
    """The Redis client and lifetime of one app's cache; `inflight` joins concurrent misses of one key in a process
    (a burst after a sync computes each page once, not once per request); `refreshing` holds the background
    recomputations of entries that are stale by live telemetry only."""

    redis: Redis
    ttl_seconds: int
    inflight: dict[str, asyncio.Future[bytes]] = field(default_factory=dict)
    refreshing: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    hits: int = 0
    misses: int = 0
    stale: int = 0
    joined: int = 0


_caches: WeakKeyDictionary[Engine, PageCache] = WeakKeyDictionary()
_computing: ContextVar[bool] = ContextVar("page_cache_computing", default=False)


def attach(engine: AsyncEngine, redis: Redis, ttl_seconds: int) -> PageCache | None:
    """Cache the decorated queries run on `engine` in `redis` for `ttl_seconds` (0: no cache)."""
    if ttl_seconds <= 0:
        _caches.pop(engine.sync_engine, None)
        return None
    cache = PageCache(redis, ttl_seconds)
    _caches[engine.sync_engine] = cache
    return cache


def detach(engine: AsyncEngine) -> None:
    cache = _caches.pop(engine.sync_engine, None)
    for task in list(cache.refreshing.values()) if cache is not None else []:
        task.cancel()


def cache_of(engine: AsyncEngine) -> PageCache | None:
    return _caches.get(engine.sync_engine)


def _engine_of(source: Any) -> AsyncEngine | None:
    """The engine `source` reads through (a fan-out pool's counts as the engine it belongs to)."""
    if isinstance(source, AsyncSession):
        bind = source.bind
    elif isinstance(source, async_sessionmaker):
        bind = source.kw.get("bind")
    else:
        return None
    return owning_engine(bind) if isinstance(bind, AsyncEngine) else None


_request_versions: ContextVar[dict[Engine, asyncio.Future[Version | None]] | None] = ContextVar(
    "page_cache_request_versions", default=None
)


@contextmanager
def one_version_per_request() -> Iterator[None]:
    """Inside: the cached calls of a request share one read of the data version (the first one's), instead of one
    read each. For requests that do not write (GET): a computation may then see data newer than the version it is
    filed under, never older, so no reader gets figures older than what it could read itself; a request that wrote
    and then read would find the version from before its write, so writers keep one read per call."""
    token = _request_versions.set({})
    try:
        yield
    finally:
        _request_versions.reset(token)


async def _version(source: AsyncSession | async_sessionmaker[AsyncSession]) -> Version | None:
    """(epoch, version) as this reader sees it, or None when its transaction has written (then nothing is cached).

    Within a request, the first reader with a session of its own reads it for the others. Only a reader that holds
    no connection (a session outside any transaction) waits for that read; the others read it themselves, as the
    first one may be waiting for the connection they hold (`abacus.db.borrowed_session`)."""
    shared = _request_versions.get()
    engine = _engine_of(source)
    session = source if isinstance(source, AsyncSession) else None
    idle = session is not None and not session.in_transaction()
    fresh = session is None or idle or reads_only(session)
    if shared is None or engine is None or not fresh:
        return await _read_version(source)
    pending = shared.get(engine.sync_engine)
    if pending is not None and (pending.done() or idle):
        return await asyncio.shield(pending)
    if pending is not None or session is None:
        version = await _read_version(source)
        if pending is None:
            shared.setdefault(engine.sync_engine, _resolved(version))
        return version
    future: asyncio.Future[Version | None] = asyncio.get_running_loop().create_future()
    shared[engine.sync_engine] = future
    try:
        version = await _read_version(session)
    except BaseException as exc:
        shared.pop(engine.sync_engine, None)  # the next call reads again
        future.set_exception(exc)
        future.exception()  # retrieved: no "never retrieved" log when nobody joined
        raise
    future.set_result(version)
    return version


def _resolved(version: Version | None) -> asyncio.Future[Version | None]:
    future: asyncio.Future[Version | None] = asyncio.get_running_loop().create_future()
    future.set_result(version)
    return future


async def _read_version(source: AsyncSession | async_sessionmaker[AsyncSession]) -> Version | None:
    if isinstance(source, AsyncSession):
        row = (await source.execute(VERSION_SQL)).first()
    else:
        async with borrowed_session(source) as db:
            row = (await db.execute(VERSION_SQL)).first()
    if row is None or not row.clean:  # no row: nothing is cached
        return None
    return row.epoch, int(row.version), await _sampled_live(_engine_of(source), row.epoch, int(row.live_version))


async def _sampled_live(engine: AsyncEngine | None, epoch: str, live_now: int) -> int:
    """The live version results are filed under: the first reader after the last sample expired files the current
    one in Redis for `LIVE_REFRESH_SECONDS`, and every process uses it meanwhile (one key for all web workers). A
    sample was current when it was filed, so a result under it misses at most that long of live telemetry."""
    cache = _caches.get(engine.sync_engine) if engine is not None else None
    seconds = int(LIVE_REFRESH_SECONDS)
    if cache is None or seconds <= 0:
        return live_now
    try:
        filed = await cache.redis.set(f"{KEY_PREFIX}:{epoch}:live-sample", live_now, ex=seconds, nx=True, get=True)
    except RedisError as exc:
        log.warning("page cache live sample failed", error=str(exc))
        return live_now
    return live_now if filed is None else int(filed)


def _key(name: str, version: Version, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """(epoch, data version) and the arguments by their repr: the query functions take dates, strings, numbers and
    frozen dataclasses of them, whose reprs name every field. The live version is in the entry (`_LIVE`)."""
    described = repr((args, sorted(kwargs.items())))
    digest = hashlib.sha256(described.encode()).hexdigest()[:32]
    return f"{KEY_PREFIX}:{version[0]}:{version[1]}:{CODE}:{name}:{digest}"


def cached(function: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Serve `function` (first argument an AsyncSession or async_sessionmaker, the others plain values) from the
    page cache of its engine when there is one; the result must pickle."""
    name = f"{function.__module__}.{function.__qualname__}"

    @functools.wraps(function)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        source = args[0] if args else None
        engine = _engine_of(source)
        cache = _caches.get(engine.sync_engine) if engine is not None else None
        if cache is None or _computing.get():
            return await function(*args, **kwargs)
        version = await _version(cast(Any, source))
        if version is None:
            return await function(*args, **kwargs)
        key = _key(name, version, args[1:], kwargs)
        found = await _read(cache, key)
        if found is not None:
            live, result = found
            if live < version[2]:  # older only by live telemetry: served while one task recomputes it
                cache.stale += 1
                rest, named = args[1:], kwargs
                _refresh_later(cache, key, version[2], lambda db: cast(Any, function)(db, *rest, **named), source)
            else:
                cache.hits += 1
            return cast(R, result)
        cache.misses += 1
        waiting = cache.inflight.get(key)
        if waiting is not None:  # each joiner gets its own copy, as from Redis
            return cast(R, pickle.loads(await asyncio.shield(waiting)))
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        cache.inflight[key] = future
        token = _computing.set(True)
        claimed = False
        try:
            claimed, blob = await _claim_or_wait(cache, key, version[2])
            if blob is None:
                result = await function(*args, **kwargs)
                blob = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
                await _write(cache, key, version[2], blob)
            else:
                result = cast(R, pickle.loads(blob))
            future.set_result(blob)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a miss nobody joined does not log "never retrieved"
            raise
        finally:
            _computing.reset(token)
            cache.inflight.pop(key, None)
            if claimed:
                await _release(cache, f"{key}:computing")
        return result

    return wrapper


async def _claim_or_wait(cache: PageCache, key: str, live: int) -> tuple[bool, bytes | None]:
    """Across processes, one computes a missing entry and the others wait for it (a burst after a sync computes
    each page once, not once per web worker): (True, None) when this process took the right to compute, (False,
    the pickled result) when another one wrote it meanwhile, (False, None) when it did not within
    `COMPUTE_WAIT_SECONDS` or Redis failed (then this one computes too)."""
    lock = f"{key}:computing"
    loop = asyncio.get_running_loop()
    try:
        if await cache.redis.set(lock, 1, nx=True, ex=REFRESH_LOCK_SECONDS):
            return True, None
        deadline = loop.time() + COMPUTE_WAIT_SECONDS
        while loop.time() < deadline:
            await asyncio.sleep(COMPUTE_POLL_SECONDS)
            async with cache.redis.pipeline(transaction=False) as pipe:
                pipe.get(key)
                pipe.exists(lock)
                blob, computing = await pipe.execute()
            if blob is not None and _LIVE.unpack_from(blob)[0] >= live:
                cache.joined += 1
                return False, bytes(blob[_LIVE.size :])
            if not computing:  # the other one failed or gave up
                break
    except RedisError as exc:
        log.warning("page cache lock failed", key=key, error=str(exc))
    return False, None


async def _release(cache: PageCache, lock: str) -> None:
    try:
        await cache.redis.delete(lock)
    except RedisError as exc:
        log.warning("page cache unlock failed", key=lock, error=str(exc))


def _refresh_later(
    cache: PageCache, key: str, live: int, compute: Callable[[Any], Awaitable[Any]], source: Any
) -> None:
    """Recompute `key`'s entry under live version `live` in a task of its own, unless this process already does."""
    if key in cache.refreshing or key in cache.inflight:
        return
    task = asyncio.create_task(_refresh(cache, key, live, compute, source), name=f"page cache refresh {key}")
    cache.refreshing[key] = task
    task.add_done_callback(lambda _: cache.refreshing.pop(key, None))


async def _refresh(
    cache: PageCache, key: str, live: int, compute: Callable[[Any], Awaitable[Any]], source: Any
) -> None:
    """One background recomputation: its own connection (the request that found the stale entry has answered, and
    whoever holds a connection never waits for another), one process at a time per key (a Redis lock)."""
    leave_request()
    _computing.set(True)
    _request_versions.set(None)
    lock = f"{key}:refreshing"
    try:
        if not await cache.redis.set(lock, 1, nx=True, ex=REFRESH_LOCK_SECONDS):
            return  # another process recomputes it
        try:
            if isinstance(source, AsyncSession):
                engine = _engine_of(source)
                assert engine is not None  # the entry was found through its cache
                async with session_factory(engine)() as db:
                    result = await compute(db)
            else:
                result = await compute(source)
            await _write(cache, key, live, pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
        finally:
            await _release(cache, lock)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the stale entry stays; the next reader tries again
        log.warning("page cache refresh failed", key=key, error=str(exc))


async def _read(cache: PageCache, key: str) -> tuple[int, Any] | None:
    """The entry at `key`: the live version it was computed under and the result."""
    try:
        blob = await cache.redis.get(key)
    except RedisError as exc:
        log.warning("page cache read failed", error=str(exc))
        return None
    if blob is None:
        return None
    try:
        (live,) = _LIVE.unpack_from(blob)
        return live, pickle.loads(blob[_LIVE.size :])
    except Exception as exc:  # an entry that no longer unpickles is a miss
        log.warning("page cache entry unreadable", key=key, error=str(exc))
        return None


async def _write(cache: PageCache, key: str, live: int, blob: bytes) -> None:
    try:
        await cache.redis.set(key, _LIVE.pack(live) + blob, ex=cache.ttl_seconds)
    except RedisError as exc:
        log.warning("page cache write failed", key=key, error=str(exc))


async def data_version(sessionmaker: async_sessionmaker[AsyncSession]) -> Version | None:
    """(epoch, version) of the data as a new session sees it, when a page cache is attached to the engine (else
    None): what a cache of something derived from the cached queries — a rendered page body — is keyed on."""
    engine = _engine_of(sessionmaker)
    if engine is None or engine.sync_engine not in _caches:
        return None
    return await _version(sessionmaker)

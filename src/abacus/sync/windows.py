"""The per-key run loops of the usage providers (Anthropic, Cursor): windows read forward, history walked backwards.

Each window's rows are stored in one transaction together with its `sync_state` advance, so a failed window leaves
the database and the state exactly as before; the first failure stops the run and is recorded in `last_error`.
While one window is stored, the next one is already being read (`read_ahead`): the provider's answer travels and is
parsed while PostgreSQL writes, and a read is still only ever used after every window before it was stored.
A provider module supplies only what differs: how one window is read (fetch every page, then parse) and its name.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Generic, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.tools import CLAUDE_CODE
from abacus.logging_setup import get_logger
from abacus.models import SyncState
from abacus.provisional import lock_provisional, reconcile_provisional
from abacus.records import ActivityBatch, NotPublished, ProviderError, UsageRow
from abacus.sync.activity_store import store_activity
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.state import lock_state, read_state, record_error, record_success
from abacus.sync.usage_store import store_usage

log = get_logger(__name__)

W = TypeVar("W")


@dataclass(frozen=True)
class WindowRead:
    """What one window read gave: usage rows, the number of raw records the provider returned, and the activity of
    the window's days (None: the read brings no activity, so stored activity is left alone)."""

    usage: list[UsageRow]
    raw_records: int
    activity: ActivityBatch | None = None


# Rows of one window (every page fetched, then parsed) and the number of raw records the provider returned.
ReadWindow = Callable[[W], Awaitable[tuple[list[UsageRow], int] | WindowRead]]


def _unpack(read: tuple[list[UsageRow], int] | WindowRead) -> WindowRead:
    return read if isinstance(read, WindowRead) else WindowRead(read[0], read[1])


async def _store(db: AsyncSession, read: WindowRead) -> int:
    """Usage and activity of one window, in the caller's transaction; returns the rows written."""
    # the Admin API's Claude Code days replace the provisional OTel rows of the people they cover (same transaction)
    days = {row.date for row in read.usage if row.tool == CLAUDE_CODE}
    if read.activity is not None and read.activity.tool == CLAUDE_CODE:
        days.update(read.activity.days)
    if days:
        await lock_provisional(db)
    written = await store_usage(db, read.usage)
    if read.activity is not None:
        written += await store_activity(db, read.activity)
    await reconcile_provisional(db, days)
    return written


class ReadAhead(Generic[W]):
    """Reads of a run's windows, each started as soon as the window before it was read: `next(i)` answers window i
    and starts window i + 1 (i must go 0, 1, 2, …; a run stops when a read fails or a store stops it). What was read
    ahead and never asked for is cancelled when the run ends (`read_ahead`)."""

    def __init__(self, windows: Sequence[W], read: ReadWindow[W]) -> None:
        self._windows = windows
        self._read = read
        self._ahead: asyncio.Future[tuple[list[UsageRow], int] | WindowRead] | None = None

    def _start(self, index: int) -> asyncio.Future[tuple[list[UsageRow], int] | WindowRead]:
        return asyncio.ensure_future(self._read(self._windows[index]))

    async def next(self, index: int) -> WindowRead:
        task, self._ahead = self._ahead or self._start(index), None
        got = _unpack(await task)  # a failed read raises here, in order, and nothing after it is started
        if index + 1 < len(self._windows):
            self._ahead = self._start(index + 1)
        return got

    async def close(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.cancel()
            await asyncio.wait([ahead])  # its outcome does not matter (the run stopped before it); ours still does
            if not ahead.cancelled():
                ahead.exception()  # a read that failed first: retrieved, so asyncio does not report it


@asynccontextmanager
async def read_ahead(windows: Sequence[W], read: ReadWindow[W]) -> AsyncIterator[ReadAhead[W]]:
    reads = ReadAhead(windows, read)
    try:
        yield reads
    finally:
        await reads.close()


def later(stored: datetime | None, candidate: datetime) -> datetime:
    """State only moves forward: re-reading older windows never rewinds the mark of one already read in full."""
    return candidate if stored is None or candidate > stored else stored


def empty_days(state: SyncState | None) -> int:
    """Consecutive empty days the backfill has read so far (kept in `last_cursor`); 0 when unset or unreadable."""
    try:
        return max(int(state.last_cursor), 0) if state is not None and state.last_cursor else 0
    except ValueError:
        return 0


async def _fail(ctx: SyncContext, sid: str, result: SyncResult, message: str, event: str, **fields: str) -> None:
    """A window that could not be read: listed in `result.errors`, logged, and recorded in the state's `last_error`."""
    result.errors.append(message)
    log.warning(event, **fields)
    await record_error(ctx.sessionmaker, sid, message)


async def run_windows(
    ctx: SyncContext,
    sid: str,
    windows: Sequence[W],
    result: SyncResult,
    *,
    read: ReadWindow[W],
    name: Callable[[W], str],
    synced_until: Callable[[W], datetime] | None,
    provider: str,
    unit: str,
    label: str,
    title: str,
) -> None:
    """Read and store each window in its own transaction, in order; stop at the first failure and record it.

    With `synced_until`, each stored window moves `last_synced_hour_end` forward to that mark (never backwards).
    `provider`, `unit` ("day"/"window") and `label` name a failure in the log; `title` names the progress bar.
    """
    ctx.progress.start(title, len(windows))
    async with read_ahead(windows, read) as reads:
        for index, window in enumerate(windows):
            try:
                got = await reads.next(index)
            except NotPublished as exc:
                result.add_detail(f"{name(window)}: not published yet ({exc}); stopped there")
                log.info(f"{provider} {unit} not published yet", key=label, **{unit: name(window)})
                return
            except ProviderError as exc:
                await _fail(
                    ctx,
                    sid,
                    result,
                    f"{name(window)}: {exc}",
                    f"{provider} {unit} failed; state not advanced",
                    key=label,
                    **{unit: name(window)},
                    error=str(exc),
                )
                return
            async with ctx.sessionmaker() as db, db.begin():
                state = await lock_state(db, sid)
                written = await _store(db, got)
                if synced_until is not None:
                    state.last_synced_hour_end = later(state.last_synced_hour_end, synced_until(window))
                result.records += written
                await record_success(db, sid, result.records)
            result.windows += 1
            ctx.progress.advance(note=name(window))


@dataclass
class BackfillWalk:
    """Where one key's backwards walk over whole UTC days stands."""

    sid: str
    oldest: date | None  # the oldest day read in full so far (`backfill_oldest_date`)
    first_day: date  # the first day to read when nothing was read yet
    target: date  # the walk is complete once this day is read

    def next_day(self) -> date:
        return self.oldest - timedelta(days=1) if self.oldest is not None else self.first_day


async def start_backfill(
    ctx: SyncContext, sid: str, result: SyncResult, *, first_day: date, target: date
) -> BackfillWalk | None:
    """The walk's position, or None with `result.complete` set when it is already complete or its next day is
    older than `target` (then marked complete)."""
    async with ctx.sessionmaker() as db:
        state = await read_state(db, sid)
    if state is not None and state.backfill_complete:
        result.complete = True
        result.detail = "backfill already complete"
        return None
    walk = BackfillWalk(sid, state.backfill_oldest_date if state is not None else None, first_day, target)
    if walk.next_day() < target:
        async with ctx.sessionmaker() as db, db.begin():
            (await lock_state(db, sid)).backfill_complete = True
        result.complete = True
        result.detail = f"backfill target {target.isoformat()} reached"
        return None
    return walk


async def walk_back(
    ctx: SyncContext,
    walk: BackfillWalk,
    result: SyncResult,
    *,
    read_day: ReadWindow[date],
    max_days: int,
    empty_days_to_stop: int,
    provider: str,
    label: str,
    title: str,
) -> None:
    """Read at most `max_days` days below the oldest one read, newest first, one transaction per day advancing
    `backfill_oldest_date`; complete (`result.complete`) after `empty_days_to_stop` consecutive days without raw
    records or once `target` is read. Stops at the first failure (recorded) or when another run moved the cursor."""
    ctx.progress.start(title, max_days)
    first = walk.next_day()
    days = [first - timedelta(days=n) for n in range(min(max_days, (first - walk.target).days + 1))]
    async with read_ahead(days, read_day) as reads:
        for index, day in enumerate(days):
            try:
                got = await reads.next(index)
            except NotPublished:
                got = WindowRead([], 0)  # no report for that day: an empty day of the walk, nothing stored
            except ProviderError as exc:
                await _fail(
                    ctx,
                    walk.sid,
                    result,
                    f"backfill {day.isoformat()}: {exc}",
                    f"{provider} backfill day failed; cursor not advanced",
                    key=label,
                    day=day.isoformat(),
                    error=str(exc),
                )
                return
            async with ctx.sessionmaker() as db, db.begin():
                state = await lock_state(db, walk.sid)
                if state.backfill_oldest_date != walk.oldest or state.backfill_complete:
                    result.add_detail("another run moved the backfill cursor; stopped")
                    return
                written = await _store(db, got)
                empty = 0 if got.raw_records else empty_days(state) + 1
                state.backfill_oldest_date = day
                state.last_cursor = str(empty)
                done = empty >= empty_days_to_stop or day <= walk.target
                state.backfill_complete = done
                result.records += written
                await record_success(db, walk.sid, result.records)
            result.windows += 1
            ctx.progress.advance(note=day.isoformat())
            walk.oldest = day
            if done:
                result.complete = True
                result.add_detail(f"backfill complete at {day.isoformat()}")
                return

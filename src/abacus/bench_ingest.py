"""Ingest benchmark: Cursor-shaped usage through the real store path, one day per transaction, timed and cleaned up.

`measure_ingest` generates Cursor Admin API events (the C1 JSON shape) deterministically from a seed — many events
per person-day, ~40 models with a long tail, timestamps spread over the day, a few unmapped and a few mapped
identities, a few zero-token events and same-millisecond groups — newest first, as the API pages them, in compressed
JSON pages of `PAGE_SIZE` events (what the API sends), then runs the real window loop over the days
(`sync.windows.run_windows`, as `abacus sync cursor` does, reading one day ahead while the previous one is stored):
each day's pages are decoded one by one on the event loop, as the HTTP client decodes them, the day is parsed in
pieces that hand the loop back (`parse_usage_window`, as the Cursor read does) and stored in ONE transaction that
locks the sync_state row, writes the rows and refreshes the rollup slices (`store_usage`) and records success. It
returns rows/s over that path (generation excluded) and the process's peak RSS.

Everything it writes is named by the seed (organization `bench-ingest:<seed>`, identities `cursor:bench<seed>-…`,
state `bench-ingest:<seed>`, days from 2000-01-01) and removed afterwards by `delete_ingest` (rows, mappings,
state, and the rollup slices refreshed). It prints nothing: the caller prints.
"""

from __future__ import annotations

import asyncio
import json
import random
import resource
import sys
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from abacus.providers.cursor import PAGE_SIZE, epoch_ms, parse_usage_window
from abacus.records import UsageRow
from abacus.rollups import refresh_rollup
from abacus.settings import Settings
from abacus.sync.context import SyncContext, SyncResult
from abacus.sync.windows import run_windows

FIRST_DAY = date(2000, 1, 1)
"""Benchmark days start here, far below any real data (the rollup slices they touch are refreshed on cleanup)."""

# ~40 Cursor model names; `default` becomes `auto`, the `-thinking` ones count as thinking records.
MODELS = (
    "claude-4.5-sonnet-thinking",
    "default",
    "claude-4.5-sonnet",
    "gpt-5",
    "claude-4-sonnet-thinking",
    "gpt-5-codex",
    "composer-1",
    "claude-4-sonnet",
    "gpt-5-high",
    "gemini-2.5-pro",
    "claude-4.1-opus-thinking",
    "grok-code-fast-1",
    "claude-4.1-opus",
    "gpt-4.1",
    "o3",
    "claude-3.7-sonnet",
    "claude-3.7-sonnet-thinking",
    "gpt-5-mini",
    "claude-4.5-haiku",
    "gemini-2.5-flash",
    "o4-mini",
    "claude-3.5-sonnet",
    "gpt-5-fast",
    "deepseek-v3.1",
    "kimi-k2-instruct",
    "claude-4-opus",
    "gpt-4o",
    "o3-pro",
    "claude-4.5-opus-high-thinking",
    "gpt-5-nano",
    "grok-4",
    "gemini-3-pro",
    "claude-3.5-haiku",
    "cursor-small",
    "gpt-4.1-mini",
    "o1",
    "qwen3-coder",
    "claude-4-sonnet-1m",
    "gpt-5.1-codex-max",
    "code-supernova-1-million",
)
MODEL_WEIGHTS = tuple(1 / (rank + 1) ** 1.3 for rank in range(len(MODELS)))  # Zipf-like long tail
UNMAPPED_SHARE = 0.01  # identities that are not an email → `unmapped:cursor:…`
MAPPED_SHARE = 0.05  # identities with an identity mapping to another email
ZERO_TOKEN_SHARE = 0.02  # events Cursor reports without tokens (parse skips them)
SAME_MS_SHARE = 0.01  # events repeated in the same millisecond (same-ms ordinals)


@dataclass(frozen=True)
class IngestResult:
    """One measured run: rows stored, wall time of the store path, and the process's peak RSS."""

    people: int
    days: int
    events: int  # generated events (zero-token ones included)
    rows: int  # distinct rows written (what the window loop reports)
    stored_rows: int  # rows found in usage_records afterwards, before cleanup
    seconds: float  # wall time of the window loop: decode + parse, write, rollup refresh, sync state, commits
    read_seconds: float  # wall time of the reads (decode + parse), which overlap the stores of the days before
    peak_rss_mb: float

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def organization(seed: int) -> str:
    return f"bench-ingest:{seed}"


def state_id(seed: int) -> str:
    return f"bench-ingest:{seed}"


def identity_name(seed: int, person: int) -> str:
    """Person `person`'s Cursor `userEmail` (an email, or — for the unmapped share — a bare id)."""
    if person % round(1 / UNMAPPED_SHARE) == 7:
        return f"bench{seed}-bot-{person}"
    return f"bench{seed}-user{person}@bench.example"


def mapped_people(seed: int, people: int) -> list[int]:
    return [p for p in range(people) if p % round(1 / MAPPED_SHARE) == 3]


def generate_day(seed: int, people: int, day_index: int, events_per_person_day: int) -> list[dict[str, Any]]:
    """One day's events in the Cursor C1 shape, deterministic from (seed, day): people's activity varies (a few
    heavy users, many light ones), models follow a long tail, timestamps lie anywhere in the UTC day; newest first,
    as the API answers (people interleaved)."""
    rng = random.Random(f"{seed}:{day_index}")
    start = epoch_ms(datetime.combine(FIRST_DAY + timedelta(days=day_index), datetime.min.time(), tzinfo=UTC))
    events: list[dict[str, Any]] = []
    for person in range(people):
        activity = random.Random(f"{seed}:person:{person}").choice((0.25, 0.5, 1.0, 1.0, 1.5, 2.75))
        count = rng.randint(0, round(2 * events_per_person_day * activity))
        email = identity_name(seed, person)
        favourites = rng.choices(MODELS, weights=MODEL_WEIGHTS, k=3)
        for _ in range(count):
            model = rng.choice(favourites) if rng.random() < 0.8 else rng.choices(MODELS, weights=MODEL_WEIGHTS)[0]
            zero = rng.random() < ZERO_TOKEN_SHARE
            usage = {
                "inputTokens": 0 if zero else rng.randint(200, 60_000),
                "outputTokens": 0 if zero else rng.randint(20, 8_000),
                "cacheWriteTokens": 0 if zero else rng.choice((0, 0, rng.randint(0, 20_000))),
                "cacheReadTokens": 0 if zero else rng.randint(0, 400_000),
                "totalCents": round(rng.uniform(0, 90), 2),
            }
            event = {
                "timestamp": str(start + rng.randrange(86_400_000)),
                "userEmail": email,
                "model": model,
                "kind": "Included in Business",
                "maxMode": rng.random() < 0.1,
                "isTokenBasedCall": True,
                "tokenUsage": usage,
            }
            events.append(event)
            if rng.random() < SAME_MS_SHARE:  # a second call in the same millisecond, different counts
                twin = dict(event, tokenUsage=dict(usage, outputTokens=usage["outputTokens"] + 1))
                events.append(twin)
    events.sort(key=lambda event: int(event["timestamp"]), reverse=True)
    return events


def peak_rss_mb() -> float:
    """The process's peak resident set size so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


async def _set_mappings(db: AsyncSession, seed: int, people: int) -> None:
    for person in mapped_people(seed, people):
        await db.execute(
            text(
                "INSERT INTO identity_mappings (source, external_id, email, updated_by) "
                "VALUES ('cursor', :id, :email, 'bench') ON CONFLICT (source, external_id) DO NOTHING"
            ),
            {"id": identity_name(seed, person).lower(), "email": f"bench{seed}-alias{person}@bench.example"},
        )


async def delete_ingest(engine: AsyncEngine, seed: int) -> None:
    """Remove everything a run with `seed` wrote (rows, mappings, sync state) and refresh the slices it touched."""
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    async with sessionmaker() as db, db.begin():
        touched = await db.execute(
            text("DELETE FROM usage_records WHERE organization_id = :org RETURNING date, tool"),
            {"org": organization(seed)},
        )
        slices = {(r.date, r.tool) for r in touched}
        await refresh_rollup(db, slices)
        await db.execute(
            text("DELETE FROM identity_mappings WHERE source = 'cursor' AND external_id LIKE :prefix"),
            {"prefix": f"bench{seed}-%"},
        )
        await db.execute(text("DELETE FROM sync_state WHERE id = :id"), {"id": state_id(seed)})


async def measure_ingest(
    engine: AsyncEngine, *, people: int, days: int, events_per_person_day: int, seed: int, keep: bool = False
) -> IngestResult:
    """Store `days` days of Cursor usage for `people` people through the real window loop, one transaction per day.

    Timed: the window loop (decode + parse → lock state, bulk write, rollup refresh, record success, commit, for
    every day). Event generation is not timed. Afterwards the rows are counted and — unless `keep` — deleted again
    (`delete_ingest`). Raises when a day fails or the database holds a different number of rows than were written.
    """
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    await delete_ingest(engine, seed)  # a previous interrupted run of the same seed
    async with sessionmaker() as db, db.begin():
        await _set_mappings(db, seed, people)
    pages: list[list[bytes]] = []  # per day, its API pages
    events_total = 0
    for day in range(days):
        events = generate_day(seed, people, day, events_per_person_day)
        events_total += len(events)
        pages.append(
            [
                zlib.compress(json.dumps({"usageEvents": events[start : start + PAGE_SIZE]}).encode(), 1)
                for start in range(0, len(events), PAGE_SIZE)
            ]
        )
        del events
    org = organization(seed)
    read_seconds = 0.0

    async def read(day: int) -> tuple[list[UsageRow], int]:
        """What the Cursor read does with a window: decode each page as it arrives, then parse the window."""
        nonlocal read_seconds
        started = time.perf_counter()
        events: list[Any] = []
        for page in pages[day]:
            events.extend(json.loads(zlib.decompress(page))["usageEvents"])
            await asyncio.sleep(0)  # the next page's request: the loop runs the store of the day before
        rows, _ = await parse_usage_window(events, organization_id=org)
        pages[day] = []
        read_seconds += time.perf_counter() - started
        return rows, len(events)

    ctx = SyncContext(settings=Settings(), sessionmaker=sessionmaker)
    result = SyncResult(provider="cursor", label="bench")
    try:
        started = time.perf_counter()
        await run_windows(
            ctx,
            state_id(seed),
            list(range(days)),
            result,
            read=read,
            name=lambda day: (FIRST_DAY + timedelta(days=day)).isoformat(),
            synced_until=None,
            provider="cursor",
            unit="day",
            label="bench",
            title="ingest benchmark",
        )
        seconds = time.perf_counter() - started
        if result.errors:
            raise RuntimeError(f"ingest benchmark: {result.errors[0]}")
        async with sessionmaker() as db:
            count = text("SELECT COUNT(*) FROM usage_records WHERE organization_id = :org")
            stored = int((await db.execute(count, {"org": org})).scalar_one())
    finally:
        if not keep:
            await delete_ingest(engine, seed)
    if stored != result.records:
        raise RuntimeError(f"ingest benchmark stored {stored} rows, the window loop wrote {result.records}")
    return IngestResult(
        people=people,
        days=days,
        events=events_total,
        rows=result.records,
        stored_rows=stored,
        seconds=seconds,
        read_seconds=read_seconds,
        peak_rss_mb=peak_rss_mb(),
    )

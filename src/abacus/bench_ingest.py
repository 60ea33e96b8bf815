"""Ingest benchmark: Cursor-shaped usage through the real store path, one day per transaction, timed and cleaned up.

`measure_ingest` generates Cursor Admin API events (the C1 JSON shape) deterministically from a seed — many events
per person-day, ~40 models with a long tail, timestamps spread over the day, a few unmapped and a few mapped
identities, a few zero-token events and same-millisecond groups — and stores them exactly as a sync window does
(`sync/windows.py`): parse (`parse_usage_events`), then in ONE transaction per day lock the sync_state row, write the
rows (`upsert_usage`), refresh the rollup slices (`refresh_rollup`) and record success. It returns rows/s over that
path (generation excluded) and the process's peak RSS.

Everything it writes is named by the seed (organization `bench-ingest:<seed>`, identities `cursor:bench<seed>-…`,
state `bench-ingest:<seed>`, days from 2000-01-01) and removed afterwards by `delete_ingest` (rows, mappings,
state, and the rollup slices refreshed). It prints nothing: the caller prints.
"""

from __future__ import annotations

import random
import resource
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from abacus.providers.cursor import epoch_ms, parse_usage_events
from abacus.rollups import refresh_rollup
from abacus.sync.state import lock_state, record_success
from abacus.sync.usage_store import upsert_usage

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
    """One measured run: rows stored, wall time of the store path, its phases, and the process's peak RSS."""

    people: int
    days: int
    events: int  # generated events (zero-token ones included)
    rows: int  # distinct rows the parse produced (what the path stored)
    stored_rows: int  # rows found in usage_records afterwards, before cleanup
    seconds: float  # parse + write + rollup refresh + sync state + commit, all windows
    parse_seconds: float
    write_seconds: float
    rollup_seconds: float
    state_commit_seconds: float
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
    heavy users, many light ones), models follow a long tail, timestamps lie anywhere in the UTC day."""
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
    """Store `days` days of Cursor usage for `people` people through the real path, one transaction per day.

    Timed per day: parse → (transaction: lock state, bulk write, rollup refresh, record success, commit).
    Event generation is not timed. Afterwards the rows are counted and — unless `keep` — deleted again
    (`delete_ingest`). Raises when the database holds a different number of rows than the parse produced.
    """
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    await delete_ingest(engine, seed)  # a previous interrupted run of the same seed
    async with sessionmaker() as db, db.begin():
        await _set_mappings(db, seed, people)
    events_total = rows_total = 0
    parse_s = write_s = rollup_s = state_s = 0.0
    org = organization(seed)
    try:
        for day in range(days):
            events = generate_day(seed, people, day, events_per_person_day)
            events_total += len(events)
            t0 = time.perf_counter()
            rows, _ = parse_usage_events(events, organization_id=org)
            del events
            t1 = time.perf_counter()
            async with sessionmaker() as db, db.begin():
                await lock_state(db, state_id(seed))
                t2 = time.perf_counter()
                slices = await upsert_usage(db, rows)
                t3 = time.perf_counter()
                await refresh_rollup(db, slices)
                t4 = time.perf_counter()
                rows_total += len({r.dedupe_key for r in rows})
                await record_success(db, state_id(seed), rows_total)
            t5 = time.perf_counter()
            parse_s += t1 - t0
            write_s += t3 - t2
            rollup_s += t4 - t3
            state_s += (t2 - t1) + (t5 - t4)
            del rows
        async with sessionmaker() as db:
            stored = int(
                (
                    await db.execute(
                        text("SELECT COUNT(*) FROM usage_records WHERE organization_id = :org"), {"org": org}
                    )
                ).scalar_one()
            )
    finally:
        if not keep:
            await delete_ingest(engine, seed)
    if stored != rows_total:
        raise RuntimeError(f"ingest benchmark stored {stored} rows, the parse produced {rows_total}")
    return IngestResult(
        people=people,
        days=days,
        events=events_total,
        rows=rows_total,
        stored_rows=stored,
        seconds=parse_s + write_s + rollup_s + state_s,
        parse_seconds=parse_s,
        write_seconds=write_s,
        rollup_seconds=rollup_s,
        state_commit_seconds=state_s,
        peak_rss_mb=peak_rss_mb(),
    )

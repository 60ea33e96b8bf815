"""Helpers of the provider sync tests, imported by name: the fixed clock and keys the emulator and the sync share,
table snapshots and the emulator's ground truth in the shape the database is compared in. The fixtures (`emulator`,
`ctx`, `clock`, …) are in tests/integration/conftest.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from abacus.emulators.dataset import DEMO_ANTHROPIC_KEYS, DEMO_CURSOR_KEYS, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.settings import AnthropicSettings, CursorSettings, ProviderKey, Settings

# The emulator's and the sync's clock: an hour boundary, so the last complete hour is "now".
NOW = datetime(2025, 12, 10, 15, 0, tzinfo=UTC)
TODAY = NOW.date()
EARLIER = NOW - timedelta(days=1)
HISTORY_DAYS = 20
FIRST_DAY = TODAY - timedelta(days=HISTORY_DAYS - 1)
PAGE_SIZE = 8  # small pages so every day/window spans several pages

ANTHROPIC_KEYS = tuple(ProviderKey(label, key) for label, key in DEMO_ANTHROPIC_KEYS.items())
CURSOR_KEYS = tuple(ProviderKey(label, key) for label, key in DEMO_CURSOR_KEYS.items())
ACME, LABS = ANTHROPIC_KEYS
CORE, MOBILE = CURSOR_KEYS


def emulator_config() -> EmulatorConfig:
    """The session's emulator: 12 people over HISTORY_DAYS days up to TODAY, its clock at NOW, small pages."""
    return EmulatorConfig(
        seed=7, users=12, days=HISTORY_DAYS, today=TODAY, now=lambda: NOW, max_page_size=PAGE_SIZE, repos=2, commits=50
    )


def sync_settings(emulator_url: str) -> Settings:
    """Settings of a sync pointed at the emulator's Anthropic and Cursor, without pacing."""
    return Settings(
        anthropic=AnthropicSettings(keys=ANTHROPIC_KEYS, api_url=f"{emulator_url}/anthropic"),
        cursor=CursorSettings(keys=CURSOR_KEYS, api_url=f"{emulator_url}/cursor"),
        provider_pacing_ms=0,
    )


class Clock:
    """The sync's clock; `at(moment)` moves it together with the emulator's."""

    def __init__(self, server: EmulatorServer) -> None:
        self.server = server
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now

    def at(self, moment: datetime) -> None:
        self.now = moment
        self.server.state.set_clock(moment)


# ---- snapshots ------------------------------------------------------------------------------------------------

USAGE_COLUMNS = (
    "date, identity, email, tool, model, raw_model, input_tokens, cache_write_tokens, cache_read_tokens, "
    "output_tokens, cost, tool_record_id, timestamp_ms, organization_id, customer_type"
)
STATE_COLUMNS = "id, last_cursor, last_synced_hour_end, backfill_oldest_date, backfill_complete"


async def _rows(db: AsyncSession, sql: str) -> list[tuple[Any, ...]]:
    return [tuple(row) for row in (await db.execute(text(sql))).all()]


async def data_snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, list[tuple[Any, ...]]]:
    """Every usage row, rollup row and mapping (without ids and write timestamps), sorted."""
    async with sessionmaker() as db:
        return {
            "usage_records": await _rows(db, f"SELECT {USAGE_COLUMNS} FROM usage_records ORDER BY {USAGE_COLUMNS}"),
            "usage_daily": await _rows(db, "SELECT * FROM usage_daily ORDER BY date, email, tool, model"),
            "identity_mappings": await _rows(
                db, "SELECT source, external_id, email, updated_by FROM identity_mappings ORDER BY source, external_id"
            ),
        }


async def state_snapshot(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, tuple[Any, ...]]:
    """The progress fields of every sync_state row (errors and run timestamps left out)."""
    async with sessionmaker() as db:
        return {row[0]: row for row in await _rows(db, f"SELECT {STATE_COLUMNS} FROM sync_state ORDER BY id")}


async def sync_state(sessionmaker: async_sessionmaker[AsyncSession], state_id: str) -> dict[str, Any] | None:
    async with sessionmaker() as db:
        row = (await db.execute(text("SELECT * FROM sync_state WHERE id = :id"), {"id": state_id})).mappings().first()
        return dict(row) if row else None


async def rollup_mismatches(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    from abacus.rollups import rollup_mismatches as count

    async with sessionmaker() as db:
        return await count(db)


# ---- ground truth -----------------------------------------------------------------------------------------------

Totals = tuple[int, int, int, int, Decimal]


def truth_totals(
    server: EmulatorServer, tool: str, start: date = FIRST_DAY, end: date = TODAY, org: str | None = None
) -> dict[tuple[date, str], Totals]:
    """The emulator's ground truth per (day, model) at its current clock."""
    return {
        (row["date"], row["model"]): (
            row["input_tokens"],
            row["cache_write_tokens"],
            row["cache_read_tokens"],
            row["output_tokens"],
            row["cost"],
        )
        for row in server.state.dataset.truth_usage(start, end, tool=tool, org_label=org)
    }


async def stored_totals(
    sessionmaker: async_sessionmaker[AsyncSession],
    tool: str,
    start: date = FIRST_DAY,
    end: date = TODAY,
    organization_id: str | None = None,
) -> dict[tuple[date, str], Totals]:
    """What the database holds per (day, model), summed over usage_records."""
    sql = """
        SELECT date, model, SUM(input_tokens), SUM(cache_write_tokens), SUM(cache_read_tokens), SUM(output_tokens),
               SUM(cost)
        FROM usage_records WHERE tool = :tool AND date BETWEEN :start AND :end
          AND (CAST(:org AS text) IS NULL OR organization_id = :org)
        GROUP BY date, model"""
    async with sessionmaker() as db:
        rows = (await db.execute(text(sql), {"tool": tool, "start": start, "end": end, "org": organization_id})).all()
    return {(r[0], r[1]): (int(r[2]), int(r[3]), int(r[4]), int(r[5]), Decimal(r[6])) for r in rows}

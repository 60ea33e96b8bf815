"""Properties of the usage write path against real PostgreSQL: after any sequence of ingests, changed re-ingests,
identity mapping changes and Cursor CSV imports, the rollups equal the sums of the raw rows
(`rollup_mismatches == 0`) and the raw rows equal a Python model of what should be stored (dedupe key with NULLs
matching NULLs, last duplicate of a batch wins, values replaced never added, emails resolved by the current
mappings). Also: `abacus db verify-rollups` passes on a consistent database and fails clearly on a tampered one.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool
from typer.testing import CliRunner

from abacus.cli import app
from abacus.domain.identities import own_email, unmapped_email
from abacus.domain.modelnames import normalize_model_name
from abacus.providers.cursor_csv import REQUIRED_COLUMNS, import_cursor_csv, parse_cursor_csv
from abacus.records import UsageRow
from abacus.rollups import rollup_mismatches
from abacus.services.mappings import delete_mapping, set_mapping
from abacus.sync.usage_store import store_usage
from tests.support import TABLES, run_async

DAYS = (date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3), date(2026, 2, 28))  # Feb 28: same week as Mar 1
# (source, external id): emails, a bare id (unmapped unless mapped), an Anthropic API key id
IDENTITIES = (
    ("cursor", "ada@example.com"),
    ("cursor", "bob@example.com"),
    ("cursor", "bot-7"),
    ("claude_code", "apikey_01"),
    ("claude_code", "cy@example.com"),
)
TOOLS = {"cursor": "cursor", "claude_code": "claude_code"}
RAW_MODELS = (None, "gpt-5", "claude-4-sonnet-thinking", "auto", "claude-sonnet-4-5-20250929")
MAPPED_EMAILS = ("ada@corp.example", "ops@corp.example")
CSV_ORG = "cursor:core"
KEY = ("date", "identity", "tool", "raw_model", "tool_record_id", "timestamp_ms", "organization_id")
VALUES = (
    "email",
    "model",
    "input_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "output_tokens",
    "cost",
    "customer_type",
)


def key_of(row: UsageRow) -> tuple[Any, ...]:
    return tuple(getattr(row, column) for column in KEY)


# ---- strategies -------------------------------------------------------------------------------------------------

tokens = st.integers(min_value=0, max_value=5000)
costs = st.decimals(min_value=0, max_value=50, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def usage_rows(draw: st.DrawFn) -> UsageRow:
    source, external_id = draw(st.sampled_from(IDENTITIES))
    raw_model = draw(st.sampled_from(RAW_MODELS))
    counts = draw(st.tuples(tokens, tokens, tokens, tokens))
    return UsageRow(
        date=draw(st.sampled_from(DAYS)),
        identity=f"{source}:{external_id}",
        tool=TOOLS[source],
        model=normalize_model_name(raw_model),
        raw_model=raw_model,
        input_tokens=counts[0],
        cache_write_tokens=counts[1],
        cache_read_tokens=counts[2],
        output_tokens=counts[3],
        cost=draw(costs),
        tool_record_id=draw(st.sampled_from((None, "1", "2"))),
        timestamp_ms=draw(st.sampled_from((None, 1_772_323_200_000, 1_772_323_200_001))),
        organization_id=draw(st.sampled_from((None, "cursor:core", "org-2"))),
        customer_type=draw(st.sampled_from((None, "api", "subscription"))),
    )


@dataclass(frozen=True)
class Ingest:
    rows: list[UsageRow]


@dataclass(frozen=True)
class Reingest:
    """New values for stored keys (picked by index into the sorted stored keys when the step runs)."""

    picks: list[tuple[int, tuple[int, int, int, int], Decimal]]


@dataclass(frozen=True)
class SetMapping:
    identity: int
    email: str


@dataclass(frozen=True)
class DeleteMapping:
    identity: int


@dataclass(frozen=True)
class CsvImport:
    """Export lines: (day, ms within the day, user, model, input, cache write, cache read, output, dollars)."""

    lines: list[tuple[date, int, str, str, int, int, int, int, Decimal]]


identity_index = st.integers(min_value=0, max_value=len(IDENTITIES) - 1)
operations = st.one_of(
    st.builds(Ingest, st.lists(usage_rows(), min_size=1, max_size=8)),
    st.builds(
        Reingest,
        st.lists(
            st.tuples(st.integers(min_value=0, max_value=100), st.tuples(tokens, tokens, tokens, tokens), costs),
            min_size=1,
            max_size=4,
        ),
    ),
    st.builds(SetMapping, identity_index, st.sampled_from(MAPPED_EMAILS)),
    st.builds(DeleteMapping, identity_index),
    st.builds(
        CsvImport,
        st.lists(
            st.tuples(
                st.sampled_from(DAYS),
                st.sampled_from((0, 1, 3_600_000)),  # shared milliseconds → same-ms ordinals
                st.sampled_from(("ada@example.com", "bob@example.com", "Dee@Example.com")),
                st.sampled_from(("gpt-5", "auto", "claude-4-sonnet-thinking")),
                tokens,
                tokens,
                tokens,
                tokens,
                st.decimals(min_value=0, max_value=20, places=2, allow_nan=False, allow_infinity=False),
            ),
            min_size=1,
            max_size=6,
        ),
    ),
)


def csv_bytes(lines: list[tuple[date, int, str, str, int, int, int, int, Decimal]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(REQUIRED_COLUMNS)
    for day, ms, user, model, inp, cw, cr, outp, dollars in lines:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(milliseconds=ms)
        stamp = moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
        total = inp + cw + cr + outp
        writer.writerow([stamp, user, "Included in Business", model, "No", cw, inp, cr, outp, total, f"${dollars}"])
    return out.getvalue().encode()


# ---- the model ---------------------------------------------------------------------------------------------------


@dataclass
class Model:
    """What usage_records should hold: key → row (email left to the mappings), and the identity mappings."""

    rows: dict[tuple[Any, ...], UsageRow]
    mappings: dict[str, str]

    def store(self, batch: list[UsageRow]) -> None:
        for row in batch:  # last duplicate wins; a stored key's values are replaced
            self.rows[key_of(row)] = row

    def email(self, identity: str) -> str:
        return self.mappings.get(identity) or own_email(identity) or unmapped_email(identity)

    def expected(self) -> list[tuple[Any, ...]]:
        return [
            (
                *key_of(row),
                self.email(row.identity),
                row.model,
                row.input_tokens,
                row.cache_write_tokens,
                row.cache_read_tokens,
                row.output_tokens,
                row.cost.quantize(Decimal("0.000001")),
                row.customer_type,
            )
            for row in self.rows.values()
        ]


def _sortable(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(("", "") if v is None else (type(v).__name__, v) for v in row)


async def stored(db: AsyncSession) -> list[tuple[Any, ...]]:
    rows = await db.execute(text(f"SELECT {', '.join(KEY + VALUES)} FROM usage_records"))
    return sorted((tuple(r) for r in rows), key=_sortable)


async def apply(step: object, model: Model, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    if isinstance(step, Ingest):
        async with sessionmaker() as db, db.begin():
            written = await store_usage(db, step.rows)
        assert written == len({key_of(r) for r in step.rows})
        model.store(step.rows)
    elif isinstance(step, Reingest):
        keys = sorted(model.rows, key=_sortable)
        if not keys:
            return
        batch = [
            model.rows[keys[index % len(keys)]]._replace(
                input_tokens=counts[0],
                cache_write_tokens=counts[1],
                cache_read_tokens=counts[2],
                output_tokens=counts[3],
                cost=cost,
            )
            for index, counts, cost in step.picks
        ]
        async with sessionmaker() as db, db.begin():
            await store_usage(db, batch)
        model.store(batch)
    elif isinstance(step, SetMapping):
        source, external_id = IDENTITIES[step.identity]
        async with sessionmaker() as db, db.begin():
            await set_mapping(db, source, external_id, step.email, updated_by="test")
        model.mappings[f"{source}:{external_id}"] = step.email
    elif isinstance(step, DeleteMapping):
        source, external_id = IDENTITIES[step.identity]
        async with sessionmaker() as db, db.begin():
            await delete_mapping(db, source, external_id)
        model.mappings.pop(f"{source}:{external_id}", None)
    elif isinstance(step, CsvImport):
        data = csv_bytes(step.lines)
        parsed = parse_cursor_csv(data, organization_id=CSV_ORG)
        assert not parsed.errors
        await import_cursor_csv(sessionmaker, data, organization_id=CSV_ORG)
        # an event already stored under other team labels only (same key but the team) is a duplicate, not written
        teams: dict[tuple[Any, ...], set[str | None]] = {}
        for row in model.rows.values():
            teams.setdefault(_event(row), set()).add(row.organization_id)
        model.store([r for r in parsed.rows if not teams.get(_event(r)) or CSV_ORG in teams[_event(r)]])


def _event(row: UsageRow) -> tuple[Any, ...]:
    """A Cursor event's key without its team label (what the CSV import matches across teams)."""
    return (row.date, row.identity, row.raw_model, row.tool_record_id, row.timestamp_ms)


# ---- tests -------------------------------------------------------------------------------------------------------


@pytest.fixture()
def loop_and_engine(clean_db: None, database_url: str) -> Iterator[tuple[asyncio.AbstractEventLoop, AsyncEngine]]:
    loop = asyncio.new_event_loop()
    engine = create_async_engine(database_url, poolclass=NullPool)
    yield loop, engine
    loop.run_until_complete(engine.dispose())
    loop.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(operations, min_size=1, max_size=6))
def test_any_sequence_of_writes_keeps_rows_and_rollups_exact(
    loop_and_engine: tuple[asyncio.AbstractEventLoop, AsyncEngine], database_url: str, steps: list[object]
) -> None:
    loop, engine = loop_and_engine
    sessionmaker = async_sessionmaker(engine, expire_on_commit=False)

    async def run() -> None:
        async with engine.begin() as conn:
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)}"))  # every rollup level too
        model = Model(rows={}, mappings={})
        for step in steps:
            await apply(step, model, sessionmaker)
            async with sessionmaker() as db:
                assert await rollup_mismatches(db) == 0, step
                assert await stored(db) == sorted(model.expected(), key=_sortable), step

    loop.run_until_complete(run())


def test_reingest_replaces_values_bumps_updated_at_and_matches_null_keys(clean_db: None, database_url: str) -> None:
    row = UsageRow(
        date=DAYS[0], identity="cursor:ada@example.com", tool="cursor", model="gpt-5", raw_model=None, input_tokens=5
    )

    async def run() -> None:
        engine = create_async_engine(database_url, poolclass=NullPool)
        sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
        async with sessionmaker() as db, db.begin():
            assert await store_usage(db, [row, row._replace(input_tokens=6)]) == 1  # in-batch duplicate: last wins
        async with sessionmaker() as db:
            first = (await db.execute(text("SELECT input_tokens, updated_at FROM usage_records"))).one()
        assert first.input_tokens == 6
        async with sessionmaker() as db, db.begin():
            # two batches in one transaction (the staging table is reused), NULL key columns match stored NULLs
            await store_usage(db, [row._replace(input_tokens=7)])
            await store_usage(db, [row._replace(input_tokens=9, output_tokens=1)])
        async with sessionmaker() as db:
            rows = (await db.execute(text("SELECT input_tokens, output_tokens, updated_at FROM usage_records"))).all()
            assert await rollup_mismatches(db) == 0
        await engine.dispose()
        assert [(r.input_tokens, r.output_tokens) for r in rows] == [(9, 1)]  # replaced, never added
        assert rows[0].updated_at > first.updated_at

    run_async(run())


def test_verify_rollups_command_passes_and_then_catches_a_tampered_row(clean_db: None, database_url: str) -> None:
    rows = [
        UsageRow(date=day, identity=f"cursor:{who}", tool="cursor", model="gpt-5", raw_model="gpt-5", input_tokens=n)
        for n, (day, who) in enumerate(((DAYS[0], "ada@example.com"), (DAYS[1], "bot-7"), (DAYS[1], "b@x.io")), 1)
    ]

    async def write(statement: str | None) -> None:
        engine = create_async_engine(database_url, poolclass=NullPool)
        async with async_sessionmaker(engine)() as db, db.begin():
            if statement is None:
                await store_usage(db, rows)
            else:
                await db.execute(text(statement))
        await engine.dispose()

    env = {"DATABASE_URL": database_url, "ABACUS_ENV": "dev"}
    run_async(write(None))
    ok = CliRunner().invoke(app, ["db", "verify-rollups"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "rollups match usage_records exactly" in ok.output

    run_async(write("UPDATE usage_daily SET total_tokens = total_tokens + 1 WHERE email = 'b@x.io'"))
    bad = CliRunner().invoke(app, ["db", "verify-rollups"], env=env)
    assert bad.exit_code != 0
    assert "1 rollup row(s) differ from usage_records" in bad.output
    assert "abacus db rebuild-rollups" in bad.output

"""The ingest benchmark stores exactly the rows it generates, through the real store path, and removes them again."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from abacus.bench_ingest import (
    FIRST_DAY,
    delete_ingest,
    generate_day,
    mapped_people,
    measure_ingest,
    organization,
    state_id,
)
from abacus.providers.cursor import parse_usage_events
from abacus.rollups import rollup_mismatches
from tests.support import run_async

PEOPLE, DAYS, EVENTS, SEED = 8, 2, 6, 11  # person 7 is unmapped, person 3 mapped


def expected_rows() -> set[tuple[object, ...]]:
    rows = set()
    for day in range(DAYS):
        parsed, _ = parse_usage_events(generate_day(SEED, PEOPLE, day, EVENTS), organization_id=organization(SEED))
        rows |= {(r.date, r.identity, r.raw_model, r.tool_record_id, r.timestamp_ms, r.input_tokens) for r in parsed}
    return rows


async def counts(engine) -> dict[str, int]:
    async with engine.connect() as conn:
        return {
            "rows": (
                await conn.execute(
                    text("SELECT COUNT(*) FROM usage_records WHERE organization_id = :o"), {"o": organization(SEED)}
                )
            ).scalar_one(),
            "rollup": (
                await conn.execute(
                    text("SELECT COUNT(*) FROM usage_daily WHERE date < :d"), {"d": FIRST_DAY.replace(year=2001)}
                )
            ).scalar_one(),
            "mappings": (
                await conn.execute(text("SELECT COUNT(*) FROM identity_mappings WHERE updated_by = 'bench'"))
            ).scalar_one(),
            "state": (
                await conn.execute(text("SELECT COUNT(*) FROM sync_state WHERE id = :id"), {"id": state_id(SEED)})
            ).scalar_one(),
        }


def test_measure_ingest_stores_what_it_generates_and_cleans_up(clean_db, database_url):
    async def run() -> None:
        engine = create_async_engine(database_url, poolclass=NullPool)
        kept = await measure_ingest(
            engine, people=PEOPLE, days=DAYS, events_per_person_day=EVENTS, seed=SEED, keep=True
        )
        async with engine.connect() as conn:
            stored = {
                tuple(r)
                for r in await conn.execute(
                    text(
                        "SELECT date, identity, raw_model, tool_record_id, timestamp_ms, input_tokens "
                        "FROM usage_records"
                    )
                )
            }
            emails = {r[0] for r in await conn.execute(text("SELECT DISTINCT email FROM usage_records"))}
        assert stored == expected_rows()
        assert kept.rows == kept.stored_rows == len(stored) > 0
        assert kept.events >= kept.rows and kept.rows_per_second > 0 and kept.peak_rss_mb > 0
        assert f"unmapped:cursor:bench{SEED}-bot-7" in emails
        assert {f"bench{SEED}-alias{p}@bench.example" for p in mapped_people(SEED, PEOPLE)} <= emails
        async with engine.connect() as conn:
            assert await rollup_mismatches(conn) == 0
        assert (await counts(engine))["state"] == 1

        await delete_ingest(engine, SEED)
        assert await counts(engine) == {"rows": 0, "rollup": 0, "mappings": 0, "state": 0}

        result = await measure_ingest(engine, people=PEOPLE, days=DAYS, events_per_person_day=EVENTS, seed=SEED)
        assert result.rows == kept.rows == result.stored_rows
        assert await counts(engine) == {"rows": 0, "rollup": 0, "mappings": 0, "state": 0}
        await engine.dispose()

    run_async(run())

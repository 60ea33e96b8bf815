"""Writing usage: bulk upsert on the dedupe key, email resolution, and the rollup refresh of touched slices.

Every function here runs inside the caller's transaction; the caller commits together with its sync_state advance,
so data, rollup and state are always consistent.

How a batch is written (why it is fast): building one ORM/Core parameter dict per row cost ~40 µs of Python per
row, so rows instead go to the server with asyncpg's binary COPY into a staging table of the connection
(`CREATE TEMP TABLE … ON COMMIT DELETE ROWS`: made once, emptied by every commit), and ONE
`INSERT INTO usage_records … SELECT … FROM staging ON CONFLICT
(dedupe key) DO UPDATE` applies them. Python only turns each row into a tuple. The guarantees are the ones the
row-by-row upsert had:

- rows are keyed by the dedupe key (`USAGE_KEY`); its unique constraint is NULLS NOT DISTINCT, so a NULL
  `raw_model`/`tool_record_id`/`timestamp_ms`/`organization_id` matches a stored NULL, exactly as before (the
  `ON CONFLICT (…)` target is the same column list and infers the same constraint);
- duplicates inside one batch collapse to the last one before staging (`last_of_each_key`: Python tuple equality
  treats None like None, as the constraint treats NULL like NULL), since one INSERT … ON CONFLICT cannot touch a
  row twice;
- on re-ingest the values are replaced, never added, and `updated_at` is bumped;
- emails are resolved in Python per distinct identity (`resolve_emails`: a mapping wins, else the identity's own
  email, else `unmapped:<identity>`) and joined in by identity;
- strings too long for a column and costs with more than 6 decimals behave as before: the staging columns have the
  target's types, so COPY rounds the same way and rejects the same values (the error then comes from COPY as an
  asyncpg exception, not wrapped by SQLAlchemy; either way the caller's transaction rolls back).

The database role needs the TEMP privilege (PostgreSQL grants it to PUBLIC by default). Two batches in one
transaction reuse the staging table (emptied first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import own_email, split_identity, unmapped_email
from abacus.models import USAGE_KEY
from abacus.records import UsageRow
from abacus.rollups import Slice, refresh_rollup

BATCH = 2000
STAGING = "usage_staging"

# Staged columns, in COPY order; their types are usage_records' (docs/schema.md).
STAGED = (
    ("date", "date"),
    ("identity", "varchar(320)"),
    ("tool", "varchar(64)"),
    ("model", "varchar(128)"),
    ("raw_model", "varchar(128)"),
    ("input_tokens", "bigint"),
    ("cache_write_tokens", "bigint"),
    ("cache_read_tokens", "bigint"),
    ("output_tokens", "bigint"),
    ("cost", "numeric(14,6)"),
    ("tool_record_id", "varchar(255)"),
    ("timestamp_ms", "bigint"),
    ("organization_id", "varchar(64)"),
    ("customer_type", "varchar(32)"),
)
STAGED_NAMES = tuple(name for name, _ in STAGED)
_staged_values = attrgetter(*STAGED_NAMES)  # UsageRow → COPY record, in C
_dedupe_key = attrgetter(*USAGE_KEY)  # UsageRow.dedupe_key, in C
REPLACED = (
    "email",
    "model",
    "input_tokens",
    "cache_write_tokens",
    "cache_read_tokens",
    "output_tokens",
    "cost",
    "customer_type",
)

CREATE_STAGING = text(
    f"CREATE TEMP TABLE IF NOT EXISTS {STAGING} ("
    + ", ".join(f"{name} {type_}" for name, type_ in STAGED)
    + ") ON COMMIT DELETE ROWS"
)  # made once per pooled connection, emptied by every commit (no catalog churn per window)
CLEAR_STAGING = text(f"DELETE FROM {STAGING}")  # a second batch in the same transaction starts empty
IDENTITY_FACTS = text(
    # one probe of each primary key per identity: its mapping's email and whether an admin marked it a bot
    "SELECT k.source, k.external_id, m.email, COALESCE(b.is_bot, false) AS bot "
    "FROM unnest(CAST(:sources AS text[]), CAST(:ids AS text[])) AS k(source, external_id) "
    "LEFT JOIN identity_mappings m ON m.source = k.source AND m.external_id = k.external_id "
    "LEFT JOIN bot_identities b ON b.source = k.source AND b.external_id = k.external_id "
    "WHERE m.email IS NOT NULL OR b.is_bot"
)
NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit = off")
"""A window's commit need not wait for its WAL to reach the disk: a crash can lose only whole transactions (rows,
rollups and the sync state advance together), which the next sync reads again. Never weaker than that: the
database stays consistent."""
UPSERT_STAGED = text(
    f"INSERT INTO usage_records (email, {', '.join(STAGED_NAMES)}) "
    f"SELECT e.email, {', '.join(f's.{c}' for c in STAGED_NAMES)} "
    f"FROM {STAGING} s JOIN unnest(CAST(:identities AS text[]), CAST(:emails AS text[])) AS e(identity, email) "
    "ON e.identity = s.identity "
    f"ON CONFLICT ({', '.join(USAGE_KEY)}) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in REPLACED)
    + ", updated_at = now()"
)


async def resolve_emails(db: AsyncSession, identities: Iterable[str]) -> dict[str, str]:
    """identity → email: an identity mapping wins, else `unmapped:<identity>` for an identity an admin marked as a
    bot (bots are nobody's usage), else the identity's own email, else `unmapped:<identity>`."""
    wanted = sorted(set(identities))
    pairs = [split_identity(i) for i in wanted]
    mapped: dict[tuple[str, str], str] = {}
    bots: set[tuple[str, str]] = set()
    for start in range(0, len(pairs), BATCH):
        chunk = pairs[start : start + BATCH]
        params = {"sources": [source for source, _ in chunk], "ids": [external for _, external in chunk]}
        for row in await db.execute(IDENTITY_FACTS, params):
            if row.email is not None:
                mapped[(row.source, row.external_id)] = row.email
            if row.bot:
                bots.add((row.source, row.external_id))

    def email(identity: str) -> str:
        key = split_identity(identity)
        if key in mapped:
            return mapped[key]
        return (None if key in bots else own_email(identity)) or unmapped_email(identity)

    return {i: email(i) for i in wanted}


def last_of_each_key(rows: Sequence[UsageRow]) -> Sequence[UsageRow]:
    """The rows with duplicates of a dedupe key collapsed to the last one (in the order the last ones came)."""
    keys = list(map(_dedupe_key, rows))
    if len(set(keys)) == len(keys):  # the usual case (Cursor's ordinals make every event's key unique)
        return rows
    return list(dict(zip(keys, rows, strict=True)).values())


async def _write(db: AsyncSession, rows: Sequence[UsageRow]) -> int:
    """COPY the rows into the staging table and upsert them in one statement; returns the distinct rows written."""
    unique = last_of_each_key(rows)  # one INSERT … ON CONFLICT cannot touch a row twice
    emails = await resolve_emails(db, {r.identity for r in unique})
    await db.execute(CREATE_STAGING)  # also makes sure the transaction is open before the raw COPY below
    await db.execute(CLEAR_STAGING)
    raw = await (await db.connection()).get_raw_connection()
    driver: Any = raw.driver_connection  # the asyncpg connection, inside the session's transaction
    await driver.copy_records_to_table(STAGING, records=map(_staged_values, unique), columns=STAGED_NAMES)
    await db.execute(UPSERT_STAGED, {"identities": list(emails), "emails": list(emails.values())})
    return len(unique)


async def upsert_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> set[Slice]:
    """INSERT … ON CONFLICT (dedupe key) DO UPDATE (values replaced, never added); returns touched slices."""
    if not rows:
        return set()
    await _write(db, rows)
    return {(r.date, r.tool) for r in rows}


async def store_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> int:
    """Upsert rows and refresh their rollup slices; returns the number of distinct rows written. The caller's
    transaction commits without waiting for the disk flush (`NO_FLUSH_WAIT`)."""
    await db.execute(NO_FLUSH_WAIT)
    written = await _write(db, rows) if rows else 0
    await refresh_rollup(db, {(r.date, r.tool) for r in rows})
    return written

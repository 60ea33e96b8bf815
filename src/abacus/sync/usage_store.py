"""Writing usage: bulk upsert on the dedupe key, email resolution, and the rollup refresh of touched slices.

Every function here runs inside the caller's transaction; the caller commits together with its sync_state advance,
so data, rollup and state are always consistent.

How a batch is written (why it is fast): building one ORM/Core parameter dict per row cost ~40 µs of Python per
row, so rows (`UsageRow` is a named tuple in the staged column order: each row is its own COPY record) go to the
server with asyncpg's binary COPY, in one of two ways:

- **a new batch** — no stored row shares a (date, tool, organization) with it (`BATCH_KEYS_STORED`, one probe; the
  first read of a day, a backfill): no key of it can be stored, so it is COPYed straight into usage_records (with its
  emails), under a savepoint. Should a concurrent writer commit one of its keys in between, the COPY fails on the
  unique constraint, the savepoint is rolled back and the batch takes the other way;
- **otherwise** (a re-read, the trailing hours of an incremental run) it is COPYed into a staging table of the
  connection (`CREATE TEMP TABLE … ON COMMIT DELETE ROWS`: made once, emptied by every commit) and ONE
  `INSERT INTO usage_records … SELECT … FROM staging ON CONFLICT (dedupe key) DO UPDATE … WHERE (values) IS DISTINCT
  FROM (new values)` applies it: a row whose values are all unchanged is not rewritten (no new row version, no index
  entries, `updated_at` kept), and only the (date, tool) slices whose rows were inserted or changed get their rollups
  refreshed — a re-read of unchanged data refreshes nothing.

Either way the guarantees are the upsert's:

- rows are keyed by the dedupe key (`USAGE_KEY`); its unique constraint is NULLS NOT DISTINCT, so a NULL
  `raw_model`/`tool_record_id`/`timestamp_ms`/`organization_id` matches a stored NULL (the `ON CONFLICT (…)`
  target is the same column list and infers that constraint; the probe compares organizations the same way);
- duplicates inside one batch collapse to the last one before writing (`last_of_each_key`: Python tuple equality
  treats None like None, as the constraint treats NULL like NULL), since one INSERT … ON CONFLICT cannot touch a
  row twice;
- on re-ingest changed values are replaced, never added, and `updated_at` is bumped;
- emails are resolved in Python per distinct identity (`resolve_emails`: a mapping wins, else the identity's own
  email, else `unmapped:<identity>`);
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

from asyncpg import UniqueViolationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.identities import own_email, split_identity, unmapped_email
from abacus.models import USAGE_KEY
from abacus.records import UsageRow
from abacus.rollups import Slice, refresh_rollup

BATCH = 2000
STAGING = "usage_staging"

# Types of the staged columns: usage_records' (docs/schema.md). The staging table has UsageRow's fields in their
# order, so each row is its own COPY record (a field without a type here fails at import).
STAGED_TYPES = {
    "date": "date",
    "identity": "varchar(320)",
    "tool": "varchar(64)",
    "model": "varchar(128)",
    "raw_model": "varchar(128)",
    "input_tokens": "bigint",
    "cache_write_tokens": "bigint",
    "cache_read_tokens": "bigint",
    "output_tokens": "bigint",
    "cost": "numeric(14,6)",
    "tool_record_id": "varchar(255)",
    "timestamp_ms": "bigint",
    "organization_id": "varchar(64)",
    "customer_type": "varchar(32)",
}
STAGED = tuple((name, STAGED_TYPES[name]) for name in UsageRow._fields)
STAGED_NAMES = UsageRow._fields
_dedupe_key = attrgetter(*USAGE_KEY)  # UsageRow.dedupe_key, in C
_index_order = attrgetter("date", "identity")
"""Rows are written in this order: the leading columns of the dedupe key (and, an identity having one email, of the
identity and (email, date) indexes). Providers answer newest first, people interleaved; written in that order every
row lands on another leaf page of each index, sorted they fill one page after another (COPY twice as fast)."""
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
CHANGED = ", ".join(REPLACED)
UPSERT_STAGED = text(
    # a stored row whose values are all the same is left alone (no new row version, no index entries); the
    # statement answers the (date, tool) slices whose rows it inserted or changed
    f"WITH written AS (INSERT INTO usage_records (email, {', '.join(STAGED_NAMES)}) "
    f"SELECT e.email, {', '.join(f's.{c}' for c in STAGED_NAMES)} "
    f"FROM {STAGING} s JOIN unnest(CAST(:identities AS text[]), CAST(:emails AS text[])) AS e(identity, email) "
    "ON e.identity = s.identity "
    f"ON CONFLICT ({', '.join(USAGE_KEY)}) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in REPLACED)
    + ", updated_at = now() "
    f"WHERE ({', '.join(f'usage_records.{c}' for c in REPLACED)}) IS DISTINCT FROM "
    f"({', '.join(f'excluded.{c}' for c in REPLACED)}) "
    "RETURNING date, tool) SELECT DISTINCT date, tool FROM written"
)
BATCH_KEYS_STORED = text(
    # could any stored row have a key of the batch? Every key carries its (date, tool, organization); when no stored
    # row shares one, none can (same test as the unique constraint's: NULL organizations match)
    "SELECT EXISTS (SELECT 1 FROM unnest(CAST(:dates AS date[]), CAST(:tools AS text[]), CAST(:orgs AS text[])) "
    "AS s(date, tool, org) JOIN usage_records r ON r.date = s.date AND r.tool = s.tool "
    "AND r.organization_id IS NOT DISTINCT FROM s.org)"
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


def last_of_each_key(rows: Sequence[UsageRow]) -> list[UsageRow]:
    """The rows with duplicates of a dedupe key collapsed to the last one, in index order (`_index_order`)."""
    keys = list(map(_dedupe_key, rows))
    unique = list(rows) if len(set(keys)) == len(keys) else list(dict(zip(keys, rows, strict=True)).values())
    unique.sort(key=_index_order)
    return unique


async def _driver(db: AsyncSession) -> Any:
    """The asyncpg connection under the session, inside its transaction (opened first if it is not yet)."""
    raw = await (await db.connection()).get_raw_connection()
    return raw.driver_connection


async def _copy_new(db: AsyncSession, rows: Sequence[UsageRow], emails: dict[str, str]) -> bool:
    """COPY rows none of whose keys is stored straight into usage_records, under a savepoint; False (nothing
    written) when a key turned up after all (a concurrent writer committed it first)."""
    records = ((*row, emails[row.identity]) for row in rows)  # made as COPY encodes them, freed at once
    try:
        async with db.begin_nested():
            await (await _driver(db)).copy_records_to_table(
                "usage_records", records=records, columns=(*STAGED_NAMES, "email")
            )
    except UniqueViolationError:
        return False
    return True


async def _write(db: AsyncSession, rows: Sequence[UsageRow]) -> tuple[int, set[Slice]]:
    """Write the rows (see the module docstring); returns the number of distinct rows and the (date, tool) slices
    whose rows were inserted or changed."""
    unique = last_of_each_key(rows)  # one INSERT … ON CONFLICT cannot touch a row twice
    emails = await resolve_emails(db, {r.identity for r in unique})
    scopes = list({(r.date, r.tool, r.organization_id) for r in unique})
    probe = {"dates": [d for d, _, _ in scopes], "tools": [t for _, t, _ in scopes], "orgs": [o for _, _, o in scopes]}
    if not (await db.execute(BATCH_KEYS_STORED, probe)).scalar_one() and await _copy_new(db, unique, emails):
        return len(unique), {(d, t) for d, t, _ in scopes}
    await db.execute(CREATE_STAGING)
    await db.execute(CLEAR_STAGING)
    await (await _driver(db)).copy_records_to_table(STAGING, records=unique, columns=STAGED_NAMES)
    changed = await db.execute(UPSERT_STAGED, {"identities": list(emails), "emails": list(emails.values())})
    return len(unique), {(r.date, r.tool) for r in changed}


async def upsert_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> set[Slice]:
    """INSERT … ON CONFLICT (dedupe key) DO UPDATE (values replaced, never added); returns the slices whose rows
    were inserted or changed."""
    if not rows:
        return set()
    _, changed = await _write(db, rows)
    return changed


async def store_usage(db: AsyncSession, rows: Sequence[UsageRow]) -> int:
    """Upsert rows and refresh the rollup slices they changed; returns the number of distinct rows in the batch.
    The caller's transaction commits without waiting for the disk flush (`NO_FLUSH_WAIT`)."""
    await db.execute(NO_FLUSH_WAIT)
    if not rows:
        return 0
    written, changed = await _write(db, rows)
    await refresh_rollup(db, changed)
    return written

"""Provisional OTel rows against the Admin API's days (docs/schema.md §13): `reconcile_provisional(days)` is the one
place where Claude Code's OpenTelemetry meets the Anthropic Admin API.

For each day it deletes the provisional rows (`usage_records` with `tool_record_id = 'otel'`, `activity_daily` with an
`otel:` organisation) and writes them again from the stored points — but only for the people (by resolved email) that
the Admin API has not covered that day in the same table: any other Claude Code row for that (day, email) wins and
the OTel figures are left out. It then refreshes the rollups of the days' Claude Code slice. The result is a function
of what is stored, not of the order things arrived in, so OTel first, Admin API first, interleaved or re-sent all end
in the same rows and no (day, person) is counted twice.

Every writer that can change who covers a day calls it in its own transaction: the OTLP receiver (`sync/otel_store`),
the Anthropic window loop (`sync/windows`) and identity mapping changes (`services/mappings`). They all take
`lock_provisional` first, before any row lock, so they queue instead of deadlocking on each other's rollup rows.
An OTel identity resolves like usage identities (`sync/usage_store.resolve_emails`: a mapping wins, else
`unmapped:` for a bot, else its own email, else `unmapped:<identity>`), here in SQL.

The receiver does none of this: it stores points (a cumulative point with delta NULL, pending) and one
`otel_dirty_days` mark per (day, OTel identity) in the points' statement, and queues `rebuild_dirty_days`
(worker/otel_jobs.py), which rewrites only the marked people's rows of those days (a day's other people keep theirs:
a busy day is not re-read whole for every export); `reconcile_provisional(days)` rewrites whole days.
Every reconcile first settles the pending deltas (`settle_deltas`: under the lock, so two exports of one series never
difference against each other's uncommitted points) and deletes exactly the marks it read before reading any point:
a mark committed later stays for the next run, so no stored point is ever left out of its day for good.

A (day, person) whose rows cannot be written (a data error: a value too long for its column, a sum out of range)
must not stop everyone else's: each rebuild runs under a savepoint, and when it fails on such an error the groups are
rewritten one (day, person) at a time. A group that fails alone loses its provisional rows (never counted twice,
never stale) and keeps a mark with its attempts and error: it is held back for `retry_pause(attempts)`, its later
marks waiting with it, and the status page lists it (`failing_marks`) until a retry succeeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.domain.modelnames import normalize_model_name
from abacus.domain.tools import CLAUDE_CODE
from abacus.logging_setup import get_logger
from abacus.models import ActivityDaily, UsageRecord
from abacus.rollups import refresh_rollup

OTEL_RECORD = "otel"
"""`usage_records.tool_record_id` of a provisional OTel row (the source `otel`)."""
OTEL_SOURCE = "otel"
"""The identity source of OTel people: `otel:<user.email>` or `otel:<user.account_uuid>` (mappable on Mappings)."""
OTEL_ORG_PREFIX = "otel:"
"""`organization_id` prefix of provisional rows: `otel:<ingest token label>`."""

LOCK = text("SELECT pg_advisory_xact_lock(hashtext('abacus:otel-provisional'))")
OTEL_EMAIL = (
    "COALESCE(m.email, CASE WHEN COALESCE(b.is_bot, false) THEN 'unmapped:' || p.identity "
    "WHEN substr(p.identity, strpos(p.identity, ':') + 1) ~ '^[^@]*@[^@]*[.][^@]*$' "
    "THEN substr(p.identity, strpos(p.identity, ':') + 1) ELSE 'unmapped:' || p.identity END)"
)
OTEL_IDENTITY_JOINS = (
    "LEFT JOIN identity_mappings m ON m.source = split_part(p.identity, ':', 1) "
    "AND m.external_id = substr(p.identity, strpos(p.identity, ':') + 1) "
    "LEFT JOIN bot_identities b ON b.source = split_part(p.identity, ':', 1) "
    "AND b.external_id = substr(p.identity, strpos(p.identity, ':') + 1)"
)
SCOPE = (
    # what a rebuild rewrites: whole days (:days), and single (day, OTel identity) pairs of other days
    "({t}date = ANY(:days) OR ({t}date, {t}identity) IN "
    "(SELECT d, i FROM unnest(CAST(:pair_days AS date[]), CAST(:pair_ids AS text[])) AS u(d, i)))"
)
POINT_SUMS = text(
    f"SELECT p.date, p.identity, {OTEL_EMAIL} AS email, p.organization_label AS label, p.metric, p.model, p.kind, "
    f"SUM(p.delta) AS total, COUNT(*) AS points FROM otel_points p {OTEL_IDENTITY_JOINS} "
    f"WHERE {SCOPE.format(t='p.')} AND p.identity IS NOT NULL AND p.metric = ANY(:metrics) "
    "GROUP BY 1, 2, 3, 4, 5, 6, 7"
).bindparams(bindparam("metrics", value=list(otlp.READ_METRICS)))
DELETE_USAGE = text(
    f"DELETE FROM usage_records WHERE tool = :tool AND tool_record_id = :record AND {SCOPE.format(t='')}"
).bindparams(tool=CLAUDE_CODE, record=OTEL_RECORD)
DELETE_ACTIVITY = text(
    f"DELETE FROM activity_daily WHERE tool = :tool AND organization_id LIKE :prefix AND {SCOPE.format(t='')}"
).bindparams(tool=CLAUDE_CODE, prefix=OTEL_ORG_PREFIX + "%")
COVERED_USAGE = text(
    # (day, email) pairs the Admin API (any Claude Code row that is not OTel's) covers
    "SELECT DISTINCT date, email FROM usage_records WHERE tool = :tool AND date = ANY(:days) "
    "AND tool_record_id IS DISTINCT FROM :record"
).bindparams(tool=CLAUDE_CODE, record=OTEL_RECORD)
COVERED_ACTIVITY = text(
    "SELECT DISTINCT date, email FROM activity_daily WHERE tool = :tool AND date = ANY(:days) "
    "AND organization_id NOT LIKE :prefix"
).bindparams(tool=CLAUDE_CODE, prefix=OTEL_ORG_PREFIX + "%")
RETRY_FIRST_SECONDS = 60
RETRY_MAX_SECONDS = 3600
DIRTY_MARKS = text(
    # the marks of every (day, identity) not held back by a recent failure: a held group's new marks wait with it
    "SELECT m.id, m.date, m.identity, m.attempts FROM otel_dirty_days m WHERE NOT EXISTS (SELECT 1 "
    "FROM otel_dirty_days h WHERE h.date = m.date AND h.identity IS NOT DISTINCT FROM m.identity AND h.attempts > 0 "
    "AND h.failed_at > now() - make_interval(secs => LEAST(:cap, :first * 2 ^ (h.attempts - 1))))"
).bindparams(cap=RETRY_MAX_SECONDS, first=RETRY_FIRST_SECONDS)
DIRTY_MARKS_OF = text("SELECT id, date, identity, attempts FROM otel_dirty_days WHERE date = ANY(:days)")
CLEAR_MARKS = text("DELETE FROM otel_dirty_days WHERE id = ANY(:ids)")
MARK_FAILED = text(
    # one failure mark per group, counting on from the one it replaces
    "WITH gone AS (DELETE FROM otel_dirty_days WHERE attempts > 0 AND date = :date "
    "AND identity IS NOT DISTINCT FROM CAST(:identity AS text) RETURNING attempts) "
    "INSERT INTO otel_dirty_days (date, identity, attempts, failed_at, error) "
    "SELECT :date, :identity, GREATEST(:attempts, COALESCE((SELECT MAX(attempts) FROM gone), 0)) + 1, now(), :error "
    "RETURNING attempts"
)
CLEAR_FAILURES = text(f"DELETE FROM otel_dirty_days WHERE attempts > 0 AND {SCOPE.format(t='')}")
IDENTITIES_OF_DAYS = text(
    "SELECT DISTINCT date, identity FROM otel_points WHERE date = ANY(:days) AND identity IS NOT NULL"
)
SETTLE_DELTAS = text(
    # the deltas of every cumulative (series, start) with a pending point, from its values in time order (a drop is a
    # restart: the value itself); returns the days whose deltas moved
    "WITH pending AS (SELECT DISTINCT organization_label, series_key, start_ns FROM otel_points WHERE delta IS NULL), "
    "ordered AS (SELECT p.id, p.value, lag(p.value) OVER (PARTITION BY p.organization_label, p.series_key, "
    "p.start_ns ORDER BY p.time_ns) AS previous FROM otel_points p "
    "JOIN pending s USING (organization_label, series_key, start_ns) WHERE p.cumulative) "
    "UPDATE otel_points p SET delta = CASE WHEN o.previous IS NULL OR o.value < o.previous THEN o.value "
    "ELSE o.value - o.previous END "
    "FROM ordered o WHERE p.id = o.id AND p.delta IS DISTINCT FROM "
    "(CASE WHEN o.previous IS NULL OR o.value < o.previous THEN o.value ELSE o.value - o.previous END) "
    "RETURNING p.date, p.identity"
)
HAS_OTEL = text(
    "SELECT EXISTS (SELECT 1 FROM otel_points WHERE date = ANY(:days)) "
    "OR EXISTS (SELECT 1 FROM usage_records WHERE tool = :tool AND tool_record_id = :record AND date = ANY(:days)) "
    "OR EXISTS (SELECT 1 FROM activity_daily WHERE tool = :tool AND organization_id LIKE :prefix "
    "AND date = ANY(:days))"
).bindparams(tool=CLAUDE_CODE, record=OTEL_RECORD, prefix=OTEL_ORG_PREFIX + "%")

TOKEN_COLUMNS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cacheRead": "cache_read_tokens",
    "cacheCreation": "cache_write_tokens",
}
ACTIVITY_COUNTERS = {
    otlp.SESSIONS: "sessions",
    otlp.COMMITS: "commits",
    otlp.PULL_REQUESTS: "pull_requests",
}


async def lock_provisional(db: AsyncSession) -> None:
    """Take the transaction-level lock every writer of Claude Code days takes first (OTel exports, the Anthropic
    window loop), so they queue instead of deadlocking on each other's rollup rows."""
    await db.execute(LOCK)


MAX_COUNT = 10**15
MAX_COST = Decimal("99999999.999999")
"""Bounds of one provisional row (usage_records.cost is numeric(14,6)): each point is plausible, but a hostile token
could send many; a day beyond them is clamped rather than failing the export."""


def _cents(value: float) -> Decimal:
    return min(Decimal(str(round(value, 6))).quantize(Decimal("0.000001")), MAX_COST)


def _count(value: float) -> int:
    return min(max(round(value), 0), MAX_COUNT)


Pair = tuple[date, str]
"""(day, OTel identity): one person's provisional rows of one day."""

log = get_logger("abacus.otel")

DATA_ERROR_CLASSES = ("22", "23", "P0")
"""SQLSTATE classes a row's own data causes (data exception, integrity violation, a trigger's RAISE): another
(day, person) would not hit them, so they are isolated; any other error (a lost connection, a deadlock, a bug) fails
the whole rebuild, which its job retries."""


def is_data_error(exc: BaseException) -> bool:
    """The rebuild failed on what one (day, person)'s rows hold, not on the database or the code."""
    if isinstance(exc, DBAPIError):
        sqlstate = getattr(exc.orig, "sqlstate", None) or ""
        return not exc.connection_invalidated and sqlstate[:2] in DATA_ERROR_CLASSES
    return isinstance(exc, (ArithmeticError, ValueError))


def retry_pause(attempts: int) -> int:
    """Seconds a group that failed `attempts` times is held back: a minute, doubling, at most an hour."""
    return min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** max(attempts - 1, 0))


async def settle_deltas(db: AsyncSession) -> set[Pair]:
    """Give every pending cumulative point its delta (and fix its series' later ones); returns the (day, identity)
    pairs whose deltas moved. Call under `lock_provisional`."""
    return {(row.date, row.identity) for row in await db.execute(SETTLE_DELTAS) if row.identity is not None}


async def reconcile_provisional(db: AsyncSession, days: Iterable[date], *, known_otel: bool = False) -> set[date]:
    """Rewrite the provisional OTel rows of `days` (and of any day whose deltas the settling moved) for the
    (day, person) pairs the Admin API has not covered, refresh those days' Claude Code rollups and clear their
    dirty marks; returns the days rewritten (none for days without any OTel data)."""
    wanted = set(days)
    if not wanted:
        return set()
    if not known_otel and not (await db.execute(HAS_OTEL, {"days": sorted(wanted)})).scalar():
        return set()
    await lock_provisional(db)
    marks = (await db.execute(DIRTY_MARKS_OF, {"days": sorted(wanted)})).all()
    return await _rebuild(db, wanted, set(), marks)


async def rebuild_dirty_days(db: AsyncSession) -> set[date]:
    """The rebuild job's work: settle pending deltas and rewrite the marked people's provisional rows of their days
    (a whole day for a mark without an identity), clearing the marks read, in the caller's transaction; returns the
    days rewritten."""
    await lock_provisional(db)
    marks = (await db.execute(DIRTY_MARKS)).all()
    whole = {m.date for m in marks if m.identity is None}
    pairs = {(m.date, m.identity) for m in marks if m.identity is not None}
    return await _rebuild(db, whole, pairs, marks)


def _scope(whole: Iterable[date], pairs: Iterable[Pair]) -> dict[str, list[Any]]:
    ordered = sorted(pairs)
    return {
        "days": sorted(whole),
        "pair_days": [day for day, _ in ordered],
        "pair_ids": [identity for _, identity in ordered],
    }


async def _rebuild(db: AsyncSession, whole: set[date], pairs: set[Pair], marks: Sequence[Any]) -> set[date]:
    """Rewrite the provisional rows of the `whole` days and of the (day, identity) `pairs` (plus the pairs whose
    deltas settling moves), refresh the touched days' rollups, clear the `marks` read; returns the days written.
    On a data error, one (day, person) at a time (`_rebuild_one_by_one`)."""
    pairs = {(day, identity) for day, identity in pairs | await settle_deltas(db) if day not in whole}
    if marks:
        await db.execute(CLEAR_MARKS, {"ids": [m.id for m in marks]})
    if not whole and not pairs:
        return set()
    try:
        async with db.begin_nested():
            return await _write(db, whole, pairs)
    except Exception as exc:
        if not is_data_error(exc):
            raise
        log.warning("otel rebuild failed, rewriting one person-day at a time", error=_error_text(exc))
    attempts: dict[tuple[date, str | None], int] = defaultdict(int)
    for mark in marks:
        attempts[(mark.date, mark.identity)] = max(attempts[(mark.date, mark.identity)], mark.attempts)
    return await _rebuild_one_by_one(db, whole, pairs, attempts)


def _error_text(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "orig", None) or exc).split())[:500]


async def _rebuild_one_by_one(
    db: AsyncSession, whole: set[date], pairs: set[Pair], attempts: dict[tuple[date, str | None], int]
) -> set[date]:
    """Each (day, person) of the `whole` days and the `pairs` under its own savepoint: a group that fails loses its
    provisional rows and gets a failure mark; the others are written. Returns every day touched."""
    if whole:  # a whole day's rows go first: a person whose rewrite fails is left without rows, not with stale ones
        await db.execute(DELETE_USAGE, _scope(whole, ()))
        await db.execute(DELETE_ACTIVITY, _scope(whole, ()))
        pairs = pairs | {(r.date, r.identity) for r in await db.execute(IDENTITIES_OF_DAYS, {"days": sorted(whole)})}
    failed: list[tuple[Pair, str]] = []
    for pair in sorted(pairs):
        try:
            async with db.begin_nested():
                await _write(db, set(), {pair})
        except Exception as exc:
            if not is_data_error(exc):
                raise
            failed.append((pair, _error_text(exc)))
    for (day, identity), error in failed:
        await db.execute(DELETE_USAGE, _scope((), [(day, identity)]))
        await db.execute(DELETE_ACTIVITY, _scope((), [(day, identity)]))
        before = max(attempts[(day, identity)], attempts[(day, None)])
        tries = (
            await db.execute(MARK_FAILED, {"date": day, "identity": identity, "attempts": before, "error": error})
        ).scalar_one()
        log.error("otel provisional rows not written", day=day.isoformat(), identity=identity, attempts=tries,
                  error=error, retry_in_s=retry_pause(tries))  # fmt: skip
    days = whole | {day for day, _ in pairs}
    if failed:
        await refresh_rollup(db, {(day, CLAUDE_CODE) for (day, _), _ in failed})
    return days


async def _write(db: AsyncSession, whole: set[date], pairs: set[Pair]) -> set[date]:
    """Delete and write again the provisional rows of the `whole` days and the `pairs`, refresh their days' rollups;
    returns those days."""
    wanted = sorted(whole | {day for day, _ in pairs})
    scope = _scope(whole, pairs)
    await db.execute(CLEAR_FAILURES, scope)  # rewritten now: no longer held back
    await db.execute(DELETE_USAGE, scope)
    await db.execute(DELETE_ACTIVITY, scope)
    sums = (await db.execute(POINT_SUMS, scope)).all()
    emails = {row.identity: row.email for row in sums}
    covered_usage = {(r.date, r.email) for r in await db.execute(COVERED_USAGE, {"days": wanted})}
    covered_activity = {(r.date, r.email) for r in await db.execute(COVERED_ACTIVITY, {"days": wanted})}

    usage: dict[tuple[date, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    activity: dict[tuple[date, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in sums:
        email = row.email
        total = float(row.total or 0)
        if row.metric in (otlp.COST, otlp.TOKENS):
            if (row.date, email) in covered_usage:
                continue
            key = (row.date, row.identity, row.label, row.model or "unknown")
            if row.metric == otlp.COST:
                usage[key]["cost"] += total
            elif row.kind in TOKEN_COLUMNS:
                usage[key][TOKEN_COLUMNS[row.kind]] += total
            continue
        if (row.date, email) in covered_activity:
            continue
        counts = activity[(row.date, row.identity, row.label)]
        counts["active"] += row.points
        if row.metric in ACTIVITY_COUNTERS:
            counts[ACTIVITY_COUNTERS[row.metric]] += total
        elif row.metric == otlp.LINES and row.kind in ("added", "removed"):
            counts[f"lines_{row.kind}"] += total
        elif row.metric == otlp.EDIT_DECISIONS:
            counts["suggested"] += total
            if row.kind == "accept":
                counts["accepted"] += total
        elif row.metric == otlp.ACTIVE_TIME:
            counts["active_seconds"] += total

    usage_values = [
        {
            "date": day,
            "identity": identity,
            "email": emails[identity],
            "tool": CLAUDE_CODE,
            "model": normalize_model_name(raw_model),
            "raw_model": raw_model,
            "input_tokens": _count(sums_["input_tokens"]),
            "cache_write_tokens": _count(sums_["cache_write_tokens"]),
            "cache_read_tokens": _count(sums_["cache_read_tokens"]),
            "output_tokens": _count(sums_["output_tokens"]),
            "cost": _cents(sums_["cost"]),
            "tool_record_id": OTEL_RECORD,
            "organization_id": OTEL_ORG_PREFIX + label,
            "customer_type": OTEL_RECORD,
        }
        for (day, identity, label, raw_model), sums_ in usage.items()
    ]
    activity_values = [
        {
            "tool": CLAUDE_CODE,
            "organization_id": OTEL_ORG_PREFIX + label,
            "identity": identity,
            "date": day,
            "email": emails[identity],
            "sessions": _count(counts["sessions"]),
            "lines_added": _count(counts["lines_added"]),
            "lines_removed": _count(counts["lines_removed"]),
            "suggested": _count(counts["suggested"]),
            "accepted": _count(counts["accepted"]),
            "requests": 0,
            "commits": _count(counts["commits"]),
            "pull_requests": _count(counts["pull_requests"]),
            "active": True,
            "details": {"source": OTEL_RECORD, "active_seconds": round(counts["active_seconds"], 3)},
        }
        for (day, identity, label), counts in activity.items()
    ]
    if usage_values:
        await db.execute(insert(UsageRecord), usage_values)
    if activity_values:
        await db.execute(insert(ActivityDaily), activity_values)
    await refresh_rollup(db, {(day, CLAUDE_CODE) for day in wanted})
    return set(wanted)

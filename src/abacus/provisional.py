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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from sqlalchemy import bindparam, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.domain.modelnames import normalize_model_name
from abacus.domain.tools import CLAUDE_CODE
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
DIRTY_MARKS = text("SELECT id, date, identity FROM otel_dirty_days")
DIRTY_MARKS_OF = text("SELECT id, date, identity FROM otel_dirty_days WHERE date = ANY(:days)")
CLEAR_MARKS = text("DELETE FROM otel_dirty_days WHERE id = ANY(:ids)")
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
    return await _rebuild(db, wanted, set(), [m.id for m in marks])


async def rebuild_dirty_days(db: AsyncSession) -> set[date]:
    """The rebuild job's work: settle pending deltas and rewrite the marked people's provisional rows of their days
    (a whole day for a mark without an identity), clearing the marks read, in the caller's transaction; returns the
    days rewritten."""
    await lock_provisional(db)
    marks = (await db.execute(DIRTY_MARKS)).all()
    whole = {m.date for m in marks if m.identity is None}
    pairs = {(m.date, m.identity) for m in marks if m.identity is not None}
    return await _rebuild(db, whole, pairs, [m.id for m in marks])


async def _rebuild(db: AsyncSession, whole: set[date], pairs: set[Pair], mark_ids: list[int]) -> set[date]:
    """Rewrite the provisional rows of the `whole` days and of the (day, identity) `pairs` (plus the pairs whose
    deltas settling moves), refresh the touched days' rollups; returns those days."""
    pairs = {(day, identity) for day, identity in pairs | await settle_deltas(db) if day not in whole}
    if mark_ids:
        await db.execute(CLEAR_MARKS, {"ids": mark_ids})
    wanted = sorted(whole | {day for day, _ in pairs})
    if not wanted:
        return set()
    scope = {
        "days": sorted(whole),
        "pair_days": [day for day, _ in sorted(pairs)],
        "pair_ids": [identity for _, identity in sorted(pairs)],
    }
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

"""Writing OpenTelemetry points, and the provisional usage and activity rows they stand for.

`store_points` inserts an export's points once each (`ON CONFLICT DO NOTHING` on the point's unique key: a retried
or duplicated export changes nothing), recomputes the deltas of the cumulative series it touched (order of arrival
does not matter: a series' deltas are always its values in time order, differenced, a drop counting as a restart) and
then calls `reconcile_provisional` for every day whose figures moved, all in the caller's transaction.

`reconcile_provisional(days)` is the one place where OTel meets the Admin API. For each day it deletes the
provisional rows (`usage_records` with `tool_record_id = 'otel'`, `activity_daily` with an `otel:` organisation)
and writes them again from the points — but only for the people (by resolved email) that the Admin API has not
covered that day in the same table: any other Claude Code row for that (day, email) wins and the OTel figures are
left out. It then refreshes the rollups of the days' Claude Code slice. Because the result is a function of what is
stored (not of the order things arrived in), OTel first, Admin API first, interleaved or re-sent all end in the same
rows, and no (day, person) is counted twice. The Anthropic window loop calls it after every window it stores
(`sync/windows.py`), in the same transaction, so the Admin API's day replaces the provisional rows atomically.
Reconciles serialise on one transaction-level advisory lock, so two concurrent exports cannot both write a day.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.domain.modelnames import normalize_model_name
from abacus.domain.tools import CLAUDE_CODE
from abacus.models import ActivityDaily, UsageRecord
from abacus.rollups import refresh_rollup
from abacus.sync.usage_store import resolve_emails

OTEL_RECORD = "otel"
"""`usage_records.tool_record_id` of a provisional OTel row (the source `otel`)."""
OTEL_ORG_PREFIX = "otel:"
"""`organization_id` prefix of provisional rows: `otel:<ingest token label>`."""
LOCK = text("SELECT pg_advisory_xact_lock(hashtext('abacus:otel-provisional'))")

INSERT_POINTS = text(
    "INSERT INTO otel_points (organization_label, series_key, start_ns, time_ns, observed_at, date, metric, "
    "cumulative, value, delta, identity, model, kind, attributes) "
    "SELECT :label, p.series_key, p.start_ns, p.time_ns, to_timestamp(p.time_ns / 1e9), "
    "(to_timestamp(p.time_ns / 1e9) AT TIME ZONE 'UTC')::date, p.metric, p.cumulative, p.value, p.value, "
    "p.identity, p.model, p.kind, p.attributes::jsonb "
    "FROM unnest(CAST(:series AS text[]), CAST(:starts AS bigint[]), CAST(:times AS bigint[]), "
    "CAST(:metrics AS text[]), CAST(:cumulative AS boolean[]), CAST(:vals AS float8[]), "
    "CAST(:identities AS text[]), CAST(:models AS text[]), CAST(:kinds AS text[]), CAST(:attrs AS text[])) "
    "AS p(series_key, start_ns, time_ns, metric, cumulative, value, identity, model, kind, attributes) "
    "ON CONFLICT ON CONSTRAINT uq_otel_points_point DO NOTHING "
    "RETURNING series_key, start_ns, cumulative, date"
)
REDELTA = text(
    # the deltas of the touched cumulative (series, start) pairs, from their values in time order
    "WITH ordered AS ("
    " SELECT id, value, lag(value) OVER (PARTITION BY series_key, start_ns ORDER BY time_ns) AS previous "
    " FROM otel_points WHERE organization_label = :label AND cumulative "
    " AND (series_key, start_ns) IN (SELECT * FROM unnest(CAST(:series AS text[]), CAST(:starts AS bigint[])))) "
    "UPDATE otel_points p SET delta = CASE WHEN o.previous IS NULL OR o.value < o.previous THEN o.value "
    "ELSE o.value - o.previous END "
    "FROM ordered o WHERE p.id = o.id AND p.delta IS DISTINCT FROM "
    "(CASE WHEN o.previous IS NULL OR o.value < o.previous THEN o.value ELSE o.value - o.previous END) "
    "RETURNING p.date"
)
POINT_SUMS = text(
    "SELECT date, identity, organization_label AS label, metric, model, kind, SUM(delta) AS total, "
    "COUNT(*) AS points FROM otel_points "
    "WHERE date = ANY(:days) AND identity IS NOT NULL AND metric = ANY(:metrics) "
    "GROUP BY date, identity, organization_label, metric, model, kind"
).bindparams(bindparam("metrics", value=list(otlp.READ_METRICS)))
DELETE_USAGE = text(
    "DELETE FROM usage_records WHERE tool = :tool AND tool_record_id = :record AND date = ANY(:days)"
).bindparams(tool=CLAUDE_CODE, record=OTEL_RECORD)
DELETE_ACTIVITY = text(
    "DELETE FROM activity_daily WHERE tool = :tool AND organization_id LIKE :prefix AND date = ANY(:days)"
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


def _point_arrays(points: Sequence[otlp.OtelPoint]) -> dict[str, list[Any]]:
    return {
        "series": [p.series_key for p in points],
        "starts": [p.start_ns for p in points],
        "times": [p.time_ns for p in points],
        "metrics": [p.metric for p in points],
        "cumulative": [p.cumulative for p in points],
        "vals": [p.value for p in points],
        "identities": [p.identity for p in points],
        "models": [p.model for p in points],
        "kinds": [p.kind for p in points],
        "attrs": [json.dumps(p.attributes, default=str) for p in points],
    }


async def store_points(db: AsyncSession, label: str, points: Sequence[otlp.OtelPoint]) -> int:
    """Insert the points not stored yet, fix the deltas of their cumulative series and reconcile the days whose
    figures moved; returns the number of new points (0 for a repeated export)."""
    if not points:
        return 0
    await lock_provisional(db)  # before any row lock, in the same order as the Anthropic window loop
    keyed = {(p.series_key, p.start_ns, p.time_ns): p for p in points}
    unique = [keyed[key] for key in sorted(keyed)]
    inserted = (await db.execute(INSERT_POINTS, {"label": label, **_point_arrays(unique)})).all()
    if not inserted:
        return 0
    days = {row.date for row in inserted}
    cumulative = sorted({(row.series_key, row.start_ns) for row in inserted if row.cumulative})
    if cumulative:
        moved = await db.execute(
            REDELTA,
            {"label": label, "series": [s for s, _ in cumulative], "starts": [start for _, start in cumulative]},
        )
        days.update(row.date for row in moved)
    await reconcile_provisional(db, days, known_otel=True)
    return len(inserted)


async def lock_provisional(db: AsyncSession) -> None:
    """Take the transaction-level lock every writer of Claude Code days takes first (OTel exports, the Anthropic
    window loop), so they queue instead of deadlocking on each other's rollup rows."""
    await db.execute(LOCK)


def _cents(value: float) -> Decimal:
    return Decimal(str(round(value, 6))).quantize(Decimal("0.000001"))


async def reconcile_provisional(db: AsyncSession, days: Iterable[date], *, known_otel: bool = False) -> None:
    """Rewrite the provisional OTel rows of `days` for the (day, person) pairs the Admin API has not covered, and
    refresh the days' Claude Code rollups; a no-op for days without any OTel data."""
    wanted = sorted(set(days))
    if not wanted:
        return
    if not known_otel and not (await db.execute(HAS_OTEL, {"days": wanted})).scalar():
        return
    await lock_provisional(db)
    await db.execute(DELETE_USAGE, {"days": wanted})
    await db.execute(DELETE_ACTIVITY, {"days": wanted})
    sums = (await db.execute(POINT_SUMS, {"days": wanted})).all()
    emails = await resolve_emails(db, {row.identity for row in sums})
    covered_usage = {(r.date, r.email) for r in await db.execute(COVERED_USAGE, {"days": wanted})}
    covered_activity = {(r.date, r.email) for r in await db.execute(COVERED_ACTIVITY, {"days": wanted})}

    usage: dict[tuple[date, str, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    activity: dict[tuple[date, str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for row in sums:
        email = emails[row.identity]
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
            "input_tokens": round(sums_["input_tokens"]),
            "cache_write_tokens": round(sums_["cache_write_tokens"]),
            "cache_read_tokens": round(sums_["cache_read_tokens"]),
            "output_tokens": round(sums_["output_tokens"]),
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
            "sessions": round(counts["sessions"]),
            "lines_added": round(counts["lines_added"]),
            "lines_removed": round(counts["lines_removed"]),
            "suggested": round(counts["suggested"]),
            "accepted": round(counts["accepted"]),
            "requests": 0,
            "commits": round(counts["commits"]),
            "pull_requests": round(counts["pull_requests"]),
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

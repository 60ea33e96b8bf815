"""Writing OpenTelemetry points, and the provisional usage and activity rows they stand for.

`store_points` inserts an export's points once each (`ON CONFLICT DO NOTHING` on the point's unique key: a retried
or duplicated export changes nothing), recomputes the deltas of the cumulative series it touched (order of arrival
does not matter: a series' deltas are always its values in time order, differenced, a drop counting as a restart) and
then calls `reconcile_provisional` for every day whose figures moved, all in the caller's transaction.

`reconcile_provisional` (`abacus/provisional.py`) rewrites those days' provisional usage and activity rows for the
people the Admin API has not covered, under the lock every writer of Claude Code days takes first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain import otlp
from abacus.provisional import lock_provisional, reconcile_provisional

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

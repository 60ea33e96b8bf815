"""Writing OpenTelemetry points: the receiver's whole share of the work, kept small so exports stay fast.

`store_points` inserts an export's points once each (`ON CONFLICT DO NOTHING` on the point's unique key: a retried
or duplicated export changes nothing) and, in the same statement, one `otel_dirty_days` mark per day it stored points
for. A delta point's delta is its value; a cumulative point's is left pending (NULL), because its predecessor may be
in another export committing at the same moment. It takes no lock and touches no usage row, rollup or page-cache
version: the rebuild job (`worker/otel_jobs.py` → `provisional.rebuild_dirty_days`) settles the deltas and rewrites
the marked days' provisional rows, and a point stored with its mark is never lost if that job is late or dies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from abacus.domain import otlp

STORE_POINTS = text(
    "WITH stored AS ("
    "INSERT INTO otel_points (organization_label, series_key, start_ns, time_ns, observed_at, date, metric, "
    "cumulative, value, delta, identity, model, kind, attributes) "
    "SELECT :label, p.series_key, p.start_ns, p.time_ns, to_timestamp(p.time_ns / 1e9), "
    "(to_timestamp(p.time_ns / 1e9) AT TIME ZONE 'UTC')::date, p.metric, p.cumulative, p.value, "
    "CASE WHEN p.cumulative THEN NULL ELSE p.value END, p.identity, p.model, p.kind, p.attributes::jsonb "
    "FROM unnest(CAST(:series AS text[]), CAST(:starts AS bigint[]), CAST(:times AS bigint[]), "
    "CAST(:metrics AS text[]), CAST(:cumulative AS boolean[]), CAST(:vals AS float8[]), "
    "CAST(:identities AS text[]), CAST(:models AS text[]), CAST(:kinds AS text[]), CAST(:attrs AS text[])) "
    "AS p(series_key, start_ns, time_ns, metric, cumulative, value, identity, model, kind, attributes) "
    "ON CONFLICT ON CONSTRAINT uq_otel_points_point DO NOTHING "
    "RETURNING date, identity), "
    # one mark per (day, person) stored; a point without an identity never reaches a provisional row
    "marks AS (INSERT INTO otel_dirty_days (date, identity) SELECT DISTINCT date, identity FROM stored "
    "WHERE identity IS NOT NULL) "
    "SELECT count(*) FROM stored"
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
        "attrs": [p.attributes_json or json.dumps(p.attributes, default=str) for p in points],
    }


async def store_points(db: AsyncSession | AsyncConnection, label: str, points: Sequence[otlp.OtelPoint]) -> int:
    """Insert the points not stored yet and mark their days for the rebuild job, in one statement (atomic on its
    own, in the caller's transaction when there is one); returns the number of new points (0 for a repeated export,
    which marks nothing)."""
    if not points:
        return 0
    keyed = {(p.series_key, p.start_ns, p.time_ns): p for p in points}
    unique = [keyed[key] for key in sorted(keyed)]  # one order for every export: concurrent duplicates never deadlock
    return int((await db.execute(STORE_POINTS, {"label": label, **_point_arrays(unique)})).scalar() or 0)

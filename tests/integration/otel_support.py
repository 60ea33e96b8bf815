"""Writing OTel samples as the receiver and the worker would: one export stored, then the rebuild job's work."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from abacus.db import create_engine, session_factory
from abacus.domain import otlp
from abacus.emulators.otel import Sample, build_export, encode
from abacus.provisional import rebuild_dirty_days
from abacus.sync.otel_store import store_points


async def store_and_rebuild(database_url: str, samples: list[Sample], organization: str = "acme") -> None:
    """`samples` as one protobuf export stored under `organization`, then the days it marked rebuilt."""
    body, _ = encode(build_export(samples))
    points = otlp.parse_export(body, json_body=False, now=datetime.now(UTC)).points
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            await store_points(db, organization, points)
        async with session_factory(engine)() as db, db.begin():
            await rebuild_dirty_days(db)  # the worker's job
    finally:
        await engine.dispose()


def map_otel_identity(client: httpx.Client, external_id: str, email: str) -> httpx.Response:
    """An admin's mapping of an OTel identity, posted from the Mappings page as htmx does (its tables come back)."""
    return client.post(
        "/mappings",
        data={
            "source": "otel",
            "external_id": external_id,
            "email": email,
            "_csrf_token": client.cookies.get("abacus_csrf"),
        },
        headers={"HX-Request": "true", "HX-Target": "mapping-tables"},
    )

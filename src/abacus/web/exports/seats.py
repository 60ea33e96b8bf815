"""GET /export/seats.csv — every seat held in the range with its last activity, idle days and price."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.queries.seats import SeatLine
from abacus.web.csv_download import csv_filename, csv_response
from abacus.web.seat_views import seats_for_request

COLUMNS = (
    "email", "identity", "tool", "plan", "since", "ended", "last_active", "idle_days", "idle", "monthly_price_usd",
    "seat_cost_usd",
)  # fmt: skip


async def _rows(seats: list[SeatLine]) -> AsyncIterator[Sequence[Any]]:
    for s in seats:
        yield (
            s.email, s.identity, s.tool, s.plan, s.since, s.ended, s.last_active, s.idle_days, s.idle,
            s.monthly_price, round(s.cost, 2),
        )  # fmt: skip


@get(["/export/seats.csv", "/api/v1/export/seats.csv"], name="export_seats", include_in_schema=False)
async def export_seats(
    request: Request[Any, Any, Any], db: AsyncSession, rng: NamedDependency[DateRange], tool: str | None = None
) -> Stream:
    view = await seats_for_request(request, db, rng, tool)
    return csv_response(csv_filename("seats", rng), COLUMNS, _rows(view.seats))

"""GET /export/seats.csv — every seat held in the range with its last activity, idle days and price; the /seats
table's filters (tool, idle=1, search) apply."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.visibility import Viewer, others_label
from abacus.queries.seats import HiddenSeats, SeatLine
from abacus.web.csv_download import csv_filename, csv_response
from abacus.web.params import SearchText, TeamFilter, one_of, search_text
from abacus.web.seat_views import seat_rows, seats_for_request

COLUMNS = (
    "email", "identity", "tool", "plan", "since", "ended", "last_active", "idle_days", "idle", "monthly_price_usd",
    "seat_cost_usd",
)  # fmt: skip


async def _rows(seats: list[SeatLine], others: HiddenSeats | None) -> AsyncIterator[Sequence[Any]]:
    for s in seats:
        yield (
            s.email, s.identity, s.tool, s.plan, s.since, s.ended, s.last_active, s.idle_days, s.idle,
            s.monthly_price, round(s.cost, 2),
        )  # fmt: skip
    if others is not None:  # the seats of people hidden from the viewer, as one line (docs/security.md §6)
        label = others_label(others.people)
        yield (label, None, None, None, None, None, None, None, None, others.monthly_price, round(others.cost, 2))


@get(
    ["/export/seats.csv", "/api/v1/export/seats.csv"],
    name="export_seats",
    include_in_schema=False,
    dependencies={"query_text": search_text()},
)
async def export_seats(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
    tool: str | None = None,
    idle: str | None = None,
) -> Stream:
    """The seats of the /seats table with the same filters (tool, idle=1, search, team), by person then tool."""
    view = await seats_for_request(request, db, rng, tool, team_filter.slug, viewer)
    idle_only = one_of("idle", idle, ("1", "0"), "0") == "1"
    chosen = seat_rows(view.seats, idle_only=idle_only, search=query_text.text, sort="email", descending=False)
    name = "seats" if team_filter.slug is None else f"seats_{team_filter.slug}"
    others = view.others if not idle_only and not query_text.text else None
    return csv_response(csv_filename(name, rng), COLUMNS, _rows(chosen, others))

"""GET /seats — seats and licences (docs/metrics.md §11): per tool seats, active, idle seats and what they cost,
then every seat of the range (filter by tool, sortable)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.web.params import one_of, range_query
from abacus.web.rendering import range_context, render
from abacus.web.seat_views import seats_for_request

FRAGMENTS = {"page-body": "fragments/seats_body.html"}
SORTS = ("idle_days", "email", "tool", "since", "last_active", "price")


@get("/seats", name="seats_page", include_in_schema=False)
async def seats_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    tool: str | None = None,
    sort: str | None = None,
) -> Template:
    view = await seats_for_request(request, db, rng, tool)
    order = one_of("sort", sort, SORTS, "idle_days")
    keys = {
        "idle_days": lambda s: (-s.idle_days, s.email),
        "email": lambda s: (s.email, s.tool),
        "tool": lambda s: (s.tool, s.email),
        "since": lambda s: (s.since, s.email),
        "last_active": lambda s: (s.last_active is not None, s.last_active or s.since, s.email),
        "price": lambda s: (-s.monthly_price, s.email),
    }
    context = {
        **range_context(request, rng),
        "nav": "seats",
        "view": view,
        "seats": sorted(view.seats, key=keys[order]),
        "tool": tool or "",
        "sort": order,
        "keep": {**range_query(rng), **({"tool": tool} if tool else {})},
        "idle_after": request.app.state.settings.seats.idle_days,
    }
    return render(request, "pages/seats.html", context, fragments=FRAGMENTS)

"""GET /seats — seats and licences (docs/metrics.md §11): per tool seats, active, idle seats and what they cost,
then every seat of the range: filter by tool, idle only and a search of person or vendor identity; sortable by any
column both ways (docs/pages.md §16)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.visibility import Viewer
from abacus.web.params import SearchText, TeamFilter, one_of, range_query, search_text
from abacus.web.rendering import range_context, render
from abacus.web.seat_views import seat_rows, seats_for_request

FRAGMENTS = {"page-body": "fragments/seats_body.html"}
SORTS = ("idle_days", "email", "tool", "plan", "since", "last_active", "price")
DEFAULT_SORT, DEFAULT_DIR = "idle_days", "desc"


@get("/seats", name="seats_page", include_in_schema=False, dependencies={"query_text": search_text()})
async def seats_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
    tool: str | None = None,
    sort: str | None = None,
    dir_: Annotated[str | None, Parameter(query="dir")] = None,
    idle: str | None = None,
) -> Template:
    view = await seats_for_request(request, db, rng, tool, team_filter.slug, viewer)
    order = one_of("sort", sort, SORTS, DEFAULT_SORT)
    direction = one_of("dir", dir_, ("asc", "desc"), DEFAULT_DIR)
    idle_only = one_of("idle", idle, ("1", "0"), "0") == "1"
    filters = {
        "tool": tool or None,
        "idle": "1" if idle_only else None,
        "search": query_text.text,
        "team": team_filter.slug,
    }
    keep = {k: v for k, v in {**range_query(rng), **filters}.items() if v}
    sorted_keep = {**keep, "sort": order, "dir": direction}
    context = {
        **range_context(request, rng),
        "nav": "seats",
        "team_choice": team_filter,
        "team_query": team_filter.query,
        "view": view,
        "seats": seat_rows(
            view.seats, idle_only=idle_only, search=query_text.text, sort=order, descending=direction == "desc"
        ),
        "tool": tool or "",
        "sort": order,
        "dir": direction,
        "idle_only": idle_only,
        "search": query_text.text or "",
        "keep": keep,
        "sorted_keep": sorted_keep,
        "idle_after": request.app.state.settings.seats.idle_days,
    }
    return render(request, "pages/seats.html", context, fragments=FRAGMENTS)

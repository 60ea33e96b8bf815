"""GET /export/usage.csv (alias /api/v1/export/usage.csv): usage per day and model or tool, CSV (docs/pages.md §12)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream

from abacus.db import borrowed_session
from abacus.domain.periods import DateRange
from abacus.domain.provisional import ProvisionalMarks
from abacus.queries.provisional import provisional_marks
from abacus.queries.usage import USAGE_MODEL_COLUMNS, USAGE_TOOL_COLUMNS, stream_usage_rows
from abacus.web.csv_download import csv_filename, csv_response
from abacus.web.params import TeamFilter


def _provisional(row: Sequence[Any], view: str, marks: ProvisionalMarks) -> str:
    """The row's M-PROVISIONAL as the last column ("true"/"false", as JSON says it)."""
    if view == "tools":
        day, tool, model = row[0], row[1], None
    else:
        day, model, tool = row[0], row[1], row[6]
    return "true" if marks.on(day, tool=tool, model=model) else "false"


async def _usage_rows(
    request: Request[Any, Any, Any], rng: DateRange, view: str, team_slug: str | None
) -> AsyncIterator[Sequence[Any]]:
    async with borrowed_session(request.app.state.sessionmaker) as db:
        marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_slug)
    async with request.app.state.engine.connect() as conn:
        async for row in stream_usage_rows(conn, rng, view, team_slug):
            yield (*row, _provisional(row, view, marks))


@get(["/export/usage.csv", "/api/v1/export/usage.csv"], name="export_usage", include_in_schema=False)
async def export_usage(
    request: Request[Any, Any, Any],
    rng: NamedDependency[DateRange],
    usage_view: NamedDependency[str],
    team_filter: NamedDependency[TeamFilter],
) -> Stream:
    """Usage per (date, model, tool) — or per (date, tool) with `view=tools` — for the range, as a CSV download;
    `team=<slug>` keeps that team's members' usage; the last column is the row's M-PROVISIONAL."""
    view, team = usage_view, team_filter.slug
    columns = (*(USAGE_TOOL_COLUMNS if view == "tools" else USAGE_MODEL_COLUMNS), "provisional")
    name = f"usage_{view}" if team is None else f"usage_{view}_{team}"
    return csv_response(csv_filename(name, rng), columns, _usage_rows(request, rng, view, team))

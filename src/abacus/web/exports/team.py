"""GET /export/team.csv (docs/pages.md §12): every member of the Team population, tokens desc, streamed (no cap)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream

from abacus.domain.periods import DateRange
from abacus.queries.team import TeamQuery, stream_team_members
from abacus.web.csv_download import csv_filename, csv_response
from abacus.web.params import SearchText, today_utc

TEAM_COLUMNS = (
    "email", "total_tokens", "total_cost", "claude_code_tokens", "cursor_tokens", "input_tokens", "output_tokens",
    "cache_read_tokens", "first_active", "last_active", "days_active", "avg_tokens_per_day", "tool_count",
    "has_thinking_models",
)  # fmt: skip


async def _team_rows(request: Request[Any, Any, Any], query: TeamQuery) -> AsyncIterator[Sequence[Any]]:
    # Its own connection: the request's session is closed before the body streams.
    async with request.app.state.engine.connect() as conn:
        async for m in stream_team_members(conn, query):
            yield (
                m.email,
                m.total_tokens,
                m.total_cost,
                m.claude_code_tokens,
                m.cursor_tokens,
                m.input_tokens,
                m.output_tokens,
                m.cache_read_tokens,
                m.first_active,
                m.last_active,
                m.days_active,
                m.avg_tokens_per_day,
                m.tool_count,
                m.has_thinking_models,
            )


@get(["/export/team.csv", "/api/v1/export/team.csv"], name="export_team", include_in_schema=False)
async def export_team(
    request: Request[Any, Any, Any], rng: NamedDependency[DateRange], query_text: NamedDependency[SearchText]
) -> Stream:
    """The Team table as CSV for the range and search: one line per person, tokens desc (ties by email)."""
    query = TeamQuery(rng=rng, today=today_utc(request), email_pattern=query_text.pattern)
    return csv_response(csv_filename("team", rng), TEAM_COLUMNS, _team_rows(request, query))

"""GET /export/team.csv (docs/pages.md §12): every member of the Team population, tokens desc, streamed (no cap)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from decimal import Decimal
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.db import borrowed_session
from abacus.domain.periods import DateRange
from abacus.domain.tools import CLAUDE_CODE, CURSOR
from abacus.domain.visibility import Viewer, others_label
from abacus.queries.provisional import provisional_marks
from abacus.queries.team import TeamQuery, hidden_totals, stream_team_members, team_tools, team_totals
from abacus.web.csv_download import csv_filename, csv_response, tool_column
from abacus.web.params import SearchText, TeamFilter, today_utc

HEAD_COLUMNS = ("email", "total_tokens", "total_cost", "claude_code_tokens", "cursor_tokens")
TAIL_COLUMNS = (
    "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "first_active", "last_active",
    "days_active", "avg_tokens_per_day", "tool_count", "has_thinking_models", "lines_added", "acceptance_rate",
    "ai_active_days", "cost_per_1k_lines", "provisional",
)  # fmt: skip
"""Between the two: a `<tool>_tokens` column for every other tool with usage in the range (the Team page's tool
columns), so the tool columns add up to `total_tokens`, as do input + output + cache read + cache write. The last,
`provisional`, is the line's M-PROVISIONAL (docs/metrics.md)."""


def team_columns(other_tools: Sequence[str]) -> tuple[str, ...]:
    return (*HEAD_COLUMNS, *(tool_column(t, "tokens") for t in other_tools), *TAIL_COLUMNS)


def _flag(provisional: bool) -> str:
    return "true" if provisional else "false"


async def _team_rows(request: Request[Any, Any, Any], query: TeamQuery) -> AsyncIterator[Sequence[Any]]:
    async with borrowed_session(request.app.state.sessionmaker) as db:
        marks = await provisional_marks(db, query.rng.start, query.rng.end, team_slug=query.team_slug)
    listed: set[str] = set()
    # Its own connection: the request's session is closed before the body streams.
    async with request.app.state.engine.connect() as conn:
        async for m in stream_team_members(conn, query):
            listed.add(m.email)
            yield (
                m.email,
                m.total_tokens,
                m.total_cost,
                m.claude_code_tokens,
                m.cursor_tokens,
                *(m.tool_tokens.get(t, 0) for t in query.tools),
                m.input_tokens,
                m.output_tokens,
                m.cache_read_tokens,
                m.cache_write_tokens,
                m.first_active,
                m.last_active,
                m.days_active,
                m.avg_tokens_per_day,
                m.tool_count,
                m.has_thinking_models,
                m.lines_added,
                round(Decimal(m.acceptance_rate.numerator) / m.acceptance_rate.denominator, 4)
                if m.acceptance_rate is not None
                else None,
                m.activity_days,
                round(m.cost_per_1k_lines, 6) if m.cost_per_1k_lines is not None else None,
                _flag(marks.of(m.email)),
            )
    if query.people is not None and not query.email_pattern:  # the hidden people as one line (docs/security.md §6)
        async with borrowed_session(request.app.state.sessionmaker) as db:
            shown = await team_totals(db, query)
            _, others = await hidden_totals(db, query, shown)
        if others is not None:
            tail = [None] * (len(TAIL_COLUMNS) - 1)
            yield (
                others_label(others.count),
                others.total_tokens,
                others.total_cost,
                others.tool_tokens.get(CLAUDE_CODE, 0),
                others.tool_tokens.get(CURSOR, 0),
                *(others.tool_tokens.get(t, 0) for t in query.tools),
                *tail,
                _flag(any(mark.email not in listed for mark in marks.marks)),
            )


@get(["/export/team.csv", "/api/v1/export/team.csv"], name="export_team", include_in_schema=False)
async def export_team(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
) -> Stream:
    """The Team table as CSV for the range, search and `team=<slug>` (that team's members only): one line per
    person, tokens desc (ties by email); the people hidden from the viewer as one last "Others (N people)" line."""
    tools = (await team_tools(db, rng)).other_present
    team = team_filter.slug
    query = TeamQuery(
        rng=rng,
        today=today_utc(request),
        email_pattern=query_text.pattern,
        team_slug=team,
        tools=tools,
        people=viewer.people,
    )
    name = "team" if team is None else f"team_{team}"
    return csv_response(csv_filename(name, rng), team_columns(tools), _team_rows(request, query))

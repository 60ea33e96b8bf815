"""GET /export/commits.csv (alias /api/v1/export/commits.csv): the per-repository pivot as CSV (docs/pages.md §12).

One `<tool>_commits` column per AI tool: Claude Code, Cursor and Copilot always, then every other tool with AI commits
in the range, so the tool columns of a row add up to its `ai_assisted_commits`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream

from abacus.db import borrowed_session
from abacus.domain.periods import DateRange
from abacus.domain.tools import CLAUDE_CODE, CURSOR, GITHUB_COPILOT, KNOWN_TOOLS
from abacus.queries.commits import RepoRow, ai_tools_in_range, stream_repo_rows
from abacus.web.csv_download import csv_filename, csv_response, tool_column
from abacus.web.params import SearchText, TeamFilter

COMMIT_COLUMNS = (
    "repository", "source", "total_commits", "ai_assisted_commits", "ai_assistance_rate", "total_additions",
    "total_deletions", "unique_authors", "first_commit", "last_commit",
)  # fmt: skip
ALWAYS_TOOLS = (CLAUDE_CODE, CURSOR, GITHUB_COPILOT)
"""Tools whose column is there even without commits (the columns every export has had)."""


def commit_tools(present: Sequence[str]) -> list[str]:
    """The tools that get a column: the always-present three, then the other known tools present in their usual
    order, then unknown tools present by key."""
    known = [t for t in KNOWN_TOOLS if t in ALWAYS_TOOLS or t in present]
    return known + sorted(t for t in set(present) if t not in KNOWN_TOOLS)


def commit_csv_row(row: RepoRow, tools: Sequence[str]) -> tuple[Any, ...]:
    """One CSV record; numbers stay numbers, timestamps are written ISO-8601 UTC by `csv_line`."""
    return (
        row.full_name,
        row.source,
        row.total_commits,
        row.ai_commits,
        row.ai_rate,
        row.total_additions,
        row.total_deletions,
        row.unique_authors,
        row.first_commit,
        row.last_commit,
        *(row.tool(t) for t in tools),
    )


async def _rows(
    request: Request[Any, Any, Any], rng: DateRange, pattern: str | None, tools: Sequence[str], team: str | None
) -> AsyncIterator[Sequence[Any]]:
    async with request.app.state.engine.connect() as conn:
        async for row in stream_repo_rows(conn, rng, pattern, team):
            yield commit_csv_row(row, tools)


@get(["/export/commits.csv", "/api/v1/export/commits.csv"], name="export_commits", include_in_schema=False)
async def export_commits(
    request: Request[Any, Any, Any],
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    team_filter: NamedDependency[TeamFilter],
) -> Stream:
    """Every repository with ≥1 commit in the range (optionally filtered by name; `team=<slug>`: the members'
    commits only), commits desc, streamed."""
    team = team_filter.slug
    async with borrowed_session(request.app.state.sessionmaker) as db:  # the request's connection, not a second
        tools = commit_tools(await ai_tools_in_range(await db.connection(), rng, team))
    header = (*COMMIT_COLUMNS, *(tool_column(t, "commits") for t in tools))
    name = "commits" if team is None else f"commits_{team}"
    rows = _rows(request, rng, query_text.pattern, tools, team)
    return csv_response(csv_filename(name, rng), header, rows)

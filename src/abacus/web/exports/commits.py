"""GET /export/commits.csv (alias /api/v1/export/commits.csv): the per-repository pivot as CSV (docs/pages.md §12)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Stream

from abacus.domain.periods import DateRange
from abacus.domain.tools import CLAUDE_CODE, CURSOR, GITHUB_COPILOT
from abacus.queries.commits import RepoRow, stream_repo_rows
from abacus.web.csv_download import csv_filename, csv_response
from abacus.web.params import SearchText

COMMIT_COLUMNS = (
    "repository", "source", "total_commits", "ai_assisted_commits", "ai_assistance_rate", "total_additions",
    "total_deletions", "unique_authors", "first_commit", "last_commit", "claude_code_commits", "cursor_commits",
    "copilot_commits",
)  # fmt: skip


def commit_csv_row(row: RepoRow) -> tuple[Any, ...]:
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
        row.tool(CLAUDE_CODE),
        row.tool(CURSOR),
        row.tool(GITHUB_COPILOT),
    )


async def _rows(request: Request[Any, Any, Any], rng: DateRange, pattern: str | None) -> AsyncIterator[Sequence[Any]]:
    async with request.app.state.engine.connect() as conn:
        async for row in stream_repo_rows(conn, rng, pattern):
            yield commit_csv_row(row)


@get(["/export/commits.csv", "/api/v1/export/commits.csv"], name="export_commits", include_in_schema=False)
async def export_commits(
    request: Request[Any, Any, Any], rng: NamedDependency[DateRange], query_text: NamedDependency[SearchText]
) -> Stream:
    """Every repository with ≥1 commit in the range (optionally filtered by name), commits desc, streamed."""
    return csv_response(csv_filename("commits", rng), COMMIT_COLUMNS, _rows(request, rng, query_text.pattern))

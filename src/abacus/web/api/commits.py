"""Read-only JSON under /api/v1 for commits (docs/pages.md §13): stats, trends, the repository pivot, one repository.

snake_case keys; range from `start`/`end` (or `range`/`days`, default 30 days) as on the pages (docs/pages.md §1.1); bad
values → 400 `{"error", "parameter"}`. Timestamps are ISO-8601 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from litestar import get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.tools import CLAUDE_CODE, CURSOR, GITHUB_COPILOT, WINDSURF
from abacus.domain.visibility import Viewer
from abacus.queries.commits import (
    COMMIT_FILTERS,
    REPO_SORTS,
    CommitOverview,
    CommitRow,
    CommitStats,
    DailyCommits,
    RepoRow,
    commit_overview,
    daily_commits,
    find_repository,
    repo_pivot_slice,
    repository_detail,
)
from abacus.web.params import Paging, SearchText, TeamFilter, one_of, paging, search_text

TAGS = ["commits"]

SORT_BY: dict[str, str] = {
    **{key: key for key in REPO_SORTS},
    "full_name": "fullName",
    "total_commits": "totalCommits",
    "ai_assisted_commits": "aiAssistedCommits",
    "ai_assistance_rate": "aiAssistanceRate",
    "total_additions": "totalAdditions",
    "total_deletions": "totalDeletions",
    "unique_authors": "uniqueAuthors",
    "last_commit": "lastCommit",
}
"""`sort_by` accepts the page's keys and their snake_case spelling."""


# --- /api/v1/stats/commits ---------------------------------------------------------------------------------------


@dataclass
class ToolBreakdown:
    tool: str
    commits: int
    additions: int
    deletions: int


@dataclass
class CommitPeriod:
    start: date
    end: date
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    total_additions: int
    total_deletions: int
    unique_authors: int
    repository_count: int


@dataclass
class CommitTotals:
    start: date
    end: date
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    """round(AI / total × 100); 0 without commits."""
    total_additions: int
    total_deletions: int
    ai_additions: int
    ai_deletions: int
    commits_without_line_stats: int
    """Commits whose line stats are unknown; they count 0 lines."""
    unique_authors: int
    repository_count: int
    tool_breakdown: list[ToolBreakdown]
    previous_period: CommitPeriod | None = None


def _period(stats: CommitStats, rng: DateRange) -> CommitPeriod:
    return CommitPeriod(
        start=rng.start,
        end=rng.end,
        total_commits=stats.commits,
        ai_assisted_commits=stats.ai_commits,
        ai_assistance_rate=stats.ai_rate,
        total_additions=stats.additions,
        total_deletions=stats.deletions,
        unique_authors=stats.contributors,
        repository_count=stats.repos,
    )


def _totals(overview: CommitOverview, rng: DateRange, comparison: bool) -> CommitTotals:
    cur = overview.current
    return CommitTotals(
        start=rng.start,
        end=rng.end,
        total_commits=cur.commits,
        ai_assisted_commits=cur.ai_commits,
        ai_assistance_rate=cur.ai_rate,
        total_additions=cur.additions,
        total_deletions=cur.deletions,
        ai_additions=cur.ai_additions,
        ai_deletions=cur.ai_deletions,
        commits_without_line_stats=cur.without_stats,
        unique_authors=cur.contributors,
        repository_count=cur.repos,
        tool_breakdown=[ToolBreakdown(t.tool, t.commits, t.additions, t.deletions) for t in overview.tools],
        previous_period=_period(overview.previous, rng.previous()) if comparison else None,
    )


@get("/api/v1/stats/commits", name="api_stats_commits", tags=TAGS, summary="Commit totals for a range")
async def api_stats_commits(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    compare: NamedDependency[bool],
    team_filter: NamedDependency[TeamFilter],
) -> CommitTotals:
    """M-COMMITS, M-AI-COMMITS, M-AI-RATE, lines, M-COMMIT-TOOLS, M-REPOS; `comparison=true` adds the previous
    period of equal length; `team=<slug>` counts that team's members' commits."""
    return _totals(await commit_overview(db, rng, team_slug=team_filter.slug), rng, compare)


# --- /api/v1/commits/trends -------------------------------------------------------------------------------------


@dataclass
class CommitDay:
    date: date
    total_commits: int
    ai_assisted_commits: int
    human_commits: int
    additions: int
    deletions: int
    tools: dict[str, int]
    """AI commits per primary tool on that day (tools with commits only)."""


@dataclass
class CommitTrends:
    daily: list[CommitDay]
    overall: CommitTotals


def _day(point: DailyCommits) -> CommitDay:
    return CommitDay(
        date=point.day,
        total_commits=point.total,
        ai_assisted_commits=point.ai,
        human_commits=point.human,
        additions=point.additions,
        deletions=point.deletions,
        tools=dict(point.tools),
    )


@get("/api/v1/commits/trends", name="api_commit_trends", tags=TAGS, summary="Daily commits for a range")
async def api_commit_trends(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    compare: NamedDependency[bool],
    team_filter: NamedDependency[TeamFilter],
) -> CommitTrends:
    """One zero-filled point per UTC day of the range, plus the range totals (`team=<slug>`: the members' commits)."""
    overview = await commit_overview(db, rng, team_slug=team_filter.slug)
    series = await daily_commits(db, rng, team_slug=team_filter.slug)
    return CommitTrends(daily=[_day(p) for p in series], overall=_totals(overview, rng, compare))


# --- /api/v1/commits/pivot --------------------------------------------------------------------------------------


@dataclass
class Repository:
    id: int
    source: str
    full_name: str
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    total_additions: int
    total_deletions: int
    ai_additions: int
    ai_deletions: int
    unique_authors: int
    first_commit: datetime
    last_commit: datetime
    claude_code_commits: int
    cursor_commits: int
    copilot_commits: int
    tool_commits: dict[str, int]
    """AI commits per primary tool, every tool present."""


@dataclass
class RepositoryPivot:
    repositories: list[Repository]
    total_count: int
    total_commits: int
    """Σ commits over every matching repository (not just this slice)."""
    ai_assisted_commits: int
    ai_assistance_rate: int


def _repository(row: RepoRow) -> Repository:
    return Repository(
        id=row.id,
        source=row.source,
        full_name=row.full_name,
        total_commits=row.total_commits,
        ai_assisted_commits=row.ai_commits,
        ai_assistance_rate=row.ai_rate,
        total_additions=row.total_additions,
        total_deletions=row.total_deletions,
        ai_additions=row.ai_additions,
        ai_deletions=row.ai_deletions,
        unique_authors=row.unique_authors,
        first_commit=row.first_commit,
        last_commit=row.last_commit,
        claude_code_commits=row.tool(CLAUDE_CODE),
        cursor_commits=row.tool(CURSOR),
        copilot_commits=row.tool(GITHUB_COPILOT),
        tool_commits=dict(row.tool_commits),
    )


@get(
    "/api/v1/commits/pivot",
    name="api_commit_pivot",
    tags=TAGS,
    summary="Repositories with commits in a range",
    dependencies={
        "query_text": search_text("Substring of the full name, case-insensitive"),
        "paging": paging(500, 1000),
    },
)
async def api_commit_pivot(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    direction: NamedDependency[str],
    paging: NamedDependency[Paging],
    team_filter: NamedDependency[TeamFilter],
    sort_by: Annotated[str | None, Parameter(description="A page sort key, e.g. totalCommits or total_commits")] = None,
) -> RepositoryPivot:
    """The Commits table as JSON: ties broken by full name; totals cover every matching repository."""
    sort = SORT_BY[one_of("sort_by", sort_by, tuple(SORT_BY), "totalCommits")]
    result = await repo_pivot_slice(
        db,
        rng,
        pattern=query_text.pattern,
        sort=sort,
        direction=direction,
        limit=paging.limit,
        offset=paging.offset,
        team_slug=team_filter.slug,
    )
    return RepositoryPivot(
        repositories=[_repository(r) for r in result.rows],
        total_count=result.total_count,
        total_commits=result.sum_commits,
        ai_assisted_commits=result.sum_ai_commits,
        ai_assistance_rate=result.ai_rate,
    )


# --- /api/v1/repositories/{owner}/{repo} -------------------------------------------------------------------------


@dataclass
class RepositoryPrevious:
    start: date
    end: date
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    unique_authors: int
    total_additions: int
    total_deletions: int


@dataclass
class RepositoryDetails:
    id: int
    source: str
    full_name: str
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    total_additions: int
    total_deletions: int
    ai_additions: int
    ai_deletions: int
    commits_without_line_stats: int
    unique_authors: int
    first_commit: datetime | None
    last_commit: datetime | None
    claude_code_commits: int
    cursor_commits: int
    copilot_commits: int
    windsurf_commits: int
    tool_breakdown: list[ToolBreakdown]
    previous_period: RepositoryPrevious | None = None


@dataclass
class AttributionOut:
    ai_tool: str
    ai_model: str | None
    confidence: str
    source: str | None


@dataclass
class CommitOut:
    id: int
    commit_id: str
    author_email: str | None
    mapped_email: str | None
    committed_at: datetime
    message: str | None
    ai_tool: str | None
    ai_model: str | None
    additions: int | None
    deletions: int | None
    attributions: list[AttributionOut]


@dataclass
class AuthorOut:
    email: str | None
    commits: int
    ai_commits: int
    ai_assistance_rate: int
    last_commit: datetime


@dataclass
class RepositoryDay:
    date: date
    total_commits: int
    human_commits: int
    claude_code_commits: int
    cursor_commits: int
    copilot_commits: int
    windsurf_commits: int
    tools: dict[str, int]


@dataclass
class DataRange:
    first_commit: datetime | None
    last_commit: datetime | None
    total_commits: int
    """All stored commits of the repository, all time."""


@dataclass
class OtherAuthorsOut:
    authors: int
    commits: int
    ai_commits: int


@dataclass
class RepositoryResponse:
    details: RepositoryDetails
    commits: list[CommitOut]
    total_commits: int
    """Commits in range after `ai_filter`."""
    authors: list[AuthorOut]
    daily_stats: list[RepositoryDay]
    data_range: DataRange
    hidden_commits: int = 0
    """Commits in range after `ai_filter` by authors hidden from the signed-in person (docs/security.md §6): counted
    in the details, not listed."""
    other_authors: OtherAuthorsOut | None = None
    """The authors hidden from the signed-in person, summed (null when none)."""


def _commit(row: CommitRow) -> CommitOut:
    return CommitOut(
        id=row.id,
        commit_id=row.sha,
        author_email=row.author_email,
        mapped_email=row.mapped_email,
        committed_at=row.committed_at,
        message=row.message,
        ai_tool=row.ai_tool,
        ai_model=row.ai_model,
        additions=row.additions,
        deletions=row.deletions,
        attributions=[AttributionOut(a.tool, a.model, a.confidence, a.source) for a in row.attributions],
    )


@get(
    "/api/v1/repositories/{owner:str}/{repo:str}",
    name="api_repository",
    tags=TAGS,
    summary="One repository's commits in a range",
    dependencies={"paging": paging(50, 100, limit="commits_limit", offset="commits_offset")},
)
async def api_repository(
    db: AsyncSession,
    repository_name: NamedDependency[str],
    rng: NamedDependency[DateRange],
    compare: NamedDependency[bool],
    paging: NamedDependency[Paging],
    viewer: NamedDependency[Viewer],
    ai_filter: Annotated[str | None, Parameter(description="all (default), ai or human")] = None,
) -> RepositoryResponse:
    """Totals, per-tool split, daily series, top 20 authors and a slice of the commits list (newest first, each
    with every attribution). 404 `Repository not found` for an unknown `owner/repo`."""
    filter_key = one_of("ai_filter", ai_filter, tuple(COMMIT_FILTERS), "all")
    info = await find_repository(db, repository_name)
    if info is None:
        raise NotFoundException("Repository not found")
    detail = await repository_detail(
        db, info, rng, filter_key=filter_key, commits_slice=(paging.limit, paging.offset), viewer=viewer
    )
    cur, prev = detail.overview.current, detail.overview.previous
    tools = {t.tool: t.commits for t in detail.overview.tools}
    prev_rng = rng.previous()
    details = RepositoryDetails(
        id=info.id,
        source=info.source,
        full_name=info.full_name,
        total_commits=cur.commits,
        ai_assisted_commits=cur.ai_commits,
        ai_assistance_rate=cur.ai_rate,
        total_additions=cur.additions,
        total_deletions=cur.deletions,
        ai_additions=cur.ai_additions,
        ai_deletions=cur.ai_deletions,
        commits_without_line_stats=cur.without_stats,
        unique_authors=cur.contributors,
        first_commit=cur.first_commit,
        last_commit=cur.last_commit,
        claude_code_commits=tools.get(CLAUDE_CODE, 0),
        cursor_commits=tools.get(CURSOR, 0),
        copilot_commits=tools.get(GITHUB_COPILOT, 0),
        windsurf_commits=tools.get(WINDSURF, 0),
        tool_breakdown=[ToolBreakdown(t.tool, t.commits, t.additions, t.deletions) for t in detail.overview.tools],
        previous_period=RepositoryPrevious(
            start=prev_rng.start,
            end=prev_rng.end,
            total_commits=prev.commits,
            ai_assisted_commits=prev.ai_commits,
            ai_assistance_rate=prev.ai_rate,
            unique_authors=prev.contributors,
            total_additions=prev.additions,
            total_deletions=prev.deletions,
        )
        if compare
        else None,
    )
    return RepositoryResponse(
        details=details,
        commits=[_commit(c) for c in detail.commits.rows],
        total_commits=detail.commits.total,
        authors=[AuthorOut(a.author, a.commits, a.ai_commits, a.ai_rate, a.last_commit) for a in detail.contributors],
        daily_stats=[
            RepositoryDay(
                date=d.day,
                total_commits=d.total,
                human_commits=d.human,
                claude_code_commits=d.tools.get(CLAUDE_CODE, 0),
                cursor_commits=d.tools.get(CURSOR, 0),
                copilot_commits=d.tools.get(GITHUB_COPILOT, 0),
                windsurf_commits=d.tools.get(WINDSURF, 0),
                tools=dict(d.tools),
            )
            for d in detail.daily
        ],
        data_range=DataRange(info.first_commit, info.last_commit, info.total_commits),
        hidden_commits=detail.commits.hidden,
        other_authors=None
        if detail.other_contributors is None
        else OtherAuthorsOut(
            detail.other_contributors.authors, detail.other_contributors.commits, detail.other_contributors.ai_commits
        ),
    )

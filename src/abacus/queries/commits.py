"""Commits and repositories (docs/metrics.md §6): range totals, per-tool split, daily series, the per-repository pivot,
and everything the repository detail page shows.

A commit is in the range `[S, E]` when `committed_at >= S 00:00Z AND committed_at < (E + 1) 00:00Z`
(`DateRange.commit_bounds()`). A commit is AI-attributed when `commits.ai_tool IS NOT NULL`;
`commit_attributions` only feeds the badges of the commits list. Line stats still unknown (NULL) count as 0.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import RowMapping, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from abacus.db import concurrently
from abacus.domain.periods import DateRange, Delta, delta, rate_delta
from abacus.domain.usage import rate_percent
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.cache import cached
from abacus.rollups import COMMIT_AUTHOR, COMMIT_DAY, COUNTED

REPO_PAGE_SIZE = 100
COMMIT_PAGE_SIZE = 50
TOP_CONTRIBUTORS = 20

AUTHOR_KEY = "COALESCE(c.author_email, 'github:' || c.author_id)"
"""M-REPO-AUTHORS: an author without an email still counts, by GitHub id."""

REPO_SORTS: dict[str, str] = {
    "fullName": "p.full_name",
    "totalCommits": "p.total_commits",
    "aiAssistedCommits": "p.ai_commits",
    "aiAssistanceRate": "p.ai_rate",
    "totalAdditions": "p.total_additions",
    "totalDeletions": "p.total_deletions",
    "uniqueAuthors": "p.unique_authors",
    "lastCommit": "p.last_commit",
}
"""Sort keys of the pivot (docs/pages.md §6) → SQL; ties are always broken by full name ascending."""

COMMIT_FILTERS: dict[str, str] = {
    "all": "",
    "ai": "AND c.ai_tool IS NOT NULL",
    "human": "AND c.ai_tool IS NULL",
}


def _pages(total: int, per_page: int) -> int:
    return max(1, -(-total // per_page))


def _repo_clause(repo_id: int | None, alias: str = "c") -> str:
    return f"AND {alias}.repo_id = :repo_id" if repo_id is not None else ""


def _window(rng: DateRange) -> dict[str, datetime]:
    lower, upper = rng.commit_bounds()
    return {"lower": lower, "upper": upper}


def _days(rng: DateRange) -> dict[str, date]:
    """The range as rollup days: `day >= :lo AND day < :hi` is the UTC commit window of `commit_bounds`."""
    return {"lo": rng.start, "hi": rng.end + timedelta(days=1)}


TEAM_AUTHORS = "(SELECT m.email FROM team_members m WHERE m.team_slug = :team_slug AND m.removed_at IS NULL)"
_TEAM_ROLLUPS = {
    # the commit rollups' rows recomputed from the members' commits alone, as abacus.rollups builds them
    "commit_daily": (
        f"(SELECT {COMMIT_DAY} AS day, c.repo_id, COALESCE(c.ai_tool, '') AS ai_tool, COUNT(*) AS commits,"
        " COALESCE(SUM(c.additions), 0) AS additions, COALESCE(SUM(c.deletions), 0) AS deletions,"
        " COUNT(*) FILTER (WHERE c.additions IS NULL OR c.deletions IS NULL) AS without_stats,"
        " MIN(c.committed_at) AS first_at, MAX(c.committed_at) AS last_at"
        f" FROM commits c WHERE {COUNTED} AND c.author_email IN {TEAM_AUTHORS} GROUP BY 1, 2, 3)"
    ),
    "commit_author_daily": (
        f"(SELECT {COMMIT_DAY} AS day, c.repo_id, {COMMIT_AUTHOR} AS author, COUNT(*) AS commits,"
        " COUNT(c.ai_tool) AS ai_commits, MAX(c.committed_at) AS last_at"
        f" FROM commits c WHERE {COUNTED} AND c.author_email IN {TEAM_AUTHORS} GROUP BY 1, 2, 3)"
    ),
}
_ROLLUP_NAME = re.compile(r"\bFROM (commit_daily|commit_author_daily) ([a-z])\b")


def _for_team(statement: Any, team_slug: str | None) -> Any:
    """`statement` as is (everyone), or over the commits whose author email is one of `team_slug`'s members
    (docs/pages.md §1.3; bind `:team_slug`)."""
    if team_slug is None:
        return statement
    return text(_ROLLUP_NAME.sub(lambda m: f"FROM {_TEAM_ROLLUPS[m.group(1)]} AS {m.group(2)}", statement.text))


def _with_team(params: dict[str, Any], team_slug: str | None) -> dict[str, Any]:
    return params if team_slug is None else {**params, "team_slug": team_slug}


# --- range totals (M-COMMITS, M-AI-COMMITS, M-AI-RATE, M-REPOS, lines, authors) --------------------------------


@dataclass(frozen=True)
class CommitStats:
    commits: int = 0
    ai_commits: int = 0
    additions: int = 0
    deletions: int = 0
    ai_additions: int = 0
    ai_deletions: int = 0
    repos: int = 0
    contributors: int = 0
    without_stats: int = 0
    """Commits whose line stats are still unknown (they count 0 lines)."""
    first_commit: datetime | None = None
    last_commit: datetime | None = None

    @property
    def ai_rate(self) -> int:
        """M-AI-RATE: round(AI / commits × 100), 0 without commits."""
        return rate_percent(self.ai_commits, self.commits)

    @property
    def lines_changed(self) -> int:
        return self.additions + self.deletions


@dataclass(frozen=True)
class ToolCommits:
    """M-COMMIT-TOOLS: one primary tool's commits and lines; `share` is of all AI commits (percent, exact)."""

    tool: str
    commits: int
    additions: int
    deletions: int
    share: Fraction


@dataclass(frozen=True)
class CommitOverview:
    current: CommitStats
    previous: CommitStats
    tools: list[ToolCommits]

    @property
    def commits_delta(self) -> Delta | None:
        return delta(self.current.commits, self.previous.commits)

    @property
    def rate_delta(self) -> Delta | None:
        """AI rate change in percentage points (hidden under 1 pp or without previous commits)."""
        cur, prev = self.current, self.previous
        return rate_delta(cur.ai_commits, cur.commits, prev.ai_commits, prev.commits)

    @property
    def contributors_delta(self) -> Delta | None:
        return delta(self.current.contributors, self.previous.contributors)

    @property
    def lines_delta(self) -> Delta | None:
        return delta(self.current.lines_changed, self.previous.lines_changed)


def _stats_sql(repo_id: int | None) -> Any:
    def period(flag: str, when: str) -> str:
        ai = f"{when} AND d.ai_tool <> ''"
        return f"""
  COALESCE(SUM(d.commits) FILTER (WHERE {when}), 0) AS {flag}_commits,
  COALESCE(SUM(d.commits) FILTER (WHERE {ai}), 0) AS {flag}_ai_commits,
  COALESCE(SUM(d.additions) FILTER (WHERE {when}), 0) AS {flag}_additions,
  COALESCE(SUM(d.deletions) FILTER (WHERE {when}), 0) AS {flag}_deletions,
  COALESCE(SUM(d.additions) FILTER (WHERE {ai}), 0) AS {flag}_ai_additions,
  COALESCE(SUM(d.deletions) FILTER (WHERE {ai}), 0) AS {flag}_ai_deletions,
  COUNT(DISTINCT d.repo_id) FILTER (WHERE {when}) AS {flag}_repos,
  COALESCE(SUM(d.without_stats) FILTER (WHERE {when}), 0) AS {flag}_without_stats,
  MIN(d.first_at) FILTER (WHERE {when}) AS {flag}_first_commit,
  MAX(d.last_at) FILTER (WHERE {when}) AS {flag}_last_commit"""

    return text(f"""
SELECT sums.*, authors.*
FROM (SELECT {period("cur", "d.day >= :lo")},{period("prev", "d.day < :lo")}
      FROM commit_daily d
      WHERE d.day >= :prev_lo AND d.day < :hi {_repo_clause(repo_id, "d")}) AS sums,
     (SELECT COUNT(*) FILTER (WHERE g.cur) AS cur_contributors, COUNT(*) FILTER (WHERE g.prev) AS prev_contributors
      FROM (SELECT a.author, bool_or(a.day >= :lo) AS cur, bool_or(a.day < :lo) AS prev
            FROM commit_author_daily a
            WHERE a.day >= :prev_lo AND a.day < :hi AND a.author <> '' {_repo_clause(repo_id, "a")}
            GROUP BY a.author) AS g) AS authors
""")


def _stats_from_row(row: RowMapping, flag: str) -> CommitStats:
    return CommitStats(
        commits=int(row[f"{flag}_commits"]),
        ai_commits=int(row[f"{flag}_ai_commits"]),
        additions=int(row[f"{flag}_additions"]),
        deletions=int(row[f"{flag}_deletions"]),
        ai_additions=int(row[f"{flag}_ai_additions"]),
        ai_deletions=int(row[f"{flag}_ai_deletions"]),
        repos=int(row[f"{flag}_repos"]),
        contributors=int(row[f"{flag}_contributors"]),
        without_stats=int(row[f"{flag}_without_stats"]),
        first_commit=row[f"{flag}_first_commit"],
        last_commit=row[f"{flag}_last_commit"],
    )


def _tools_sql(repo_id: int | None) -> Any:
    return text(f"""
SELECT d.ai_tool AS tool, SUM(d.commits) AS commits, SUM(d.additions) AS additions, SUM(d.deletions) AS deletions
FROM commit_daily d
WHERE d.day >= :lo AND d.day < :hi AND d.ai_tool <> '' {_repo_clause(repo_id, "d")}
GROUP BY d.ai_tool
ORDER BY 2 DESC, 1 ASC
""")


@cached
async def commit_overview(
    db: AsyncSession, rng: DateRange, repo_id: int | None = None, team_slug: str | None = None
) -> CommitOverview:
    """Totals of the range and of the previous period, plus the per-tool split (2 statements).

    With `repo_id` everything is restricted to that repository; with `team_slug`, to that team's members' commits.
    """
    params: dict[str, Any] = _with_team({**_days(rng), "prev_lo": rng.previous().start}, team_slug)
    if repo_id is not None:
        params["repo_id"] = repo_id
    row = (await db.execute(_for_team(_stats_sql(repo_id), team_slug), params)).mappings().one()
    current, previous = _stats_from_row(row, "cur"), _stats_from_row(row, "prev")
    tool_rows = (await db.execute(_for_team(_tools_sql(repo_id), team_slug), params)).all()
    tools = [
        ToolCommits(
            tool=r.tool,
            commits=int(r.commits),
            additions=int(r.additions),
            deletions=int(r.deletions),
            share=Fraction(int(r.commits) * 100, current.ai_commits) if current.ai_commits else Fraction(0),
        )
        for r in tool_rows
    ]
    return CommitOverview(current=current, previous=previous, tools=tools)


# --- daily series ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DailyCommits:
    """One day of the zero-filled series; `tools` holds the AI commits per primary tool (only tools with commits)."""

    day: date
    total: int = 0
    ai: int = 0
    additions: int = 0
    deletions: int = 0
    tools: dict[str, int] = field(default_factory=dict)

    @property
    def human(self) -> int:
        """Commits with `ai_tool IS NULL`."""
        return self.total - self.ai


def _daily_sql(repo_id: int | None) -> Any:
    return text(f"""
SELECT d.day, NULLIF(d.ai_tool, '') AS tool, SUM(d.commits) AS commits,
       SUM(d.additions) AS additions, SUM(d.deletions) AS deletions
FROM commit_daily d
WHERE d.day >= :lo AND d.day < :hi {_repo_clause(repo_id, "d")}
GROUP BY d.day, d.ai_tool
""")


@cached
async def daily_commits(
    db: AsyncSession, rng: DateRange, repo_id: int | None = None, team_slug: str | None = None
) -> list[DailyCommits]:
    """One point per day of the range (zero-filled): total, AI, per tool, additions, deletions (optionally one
    repository, or one team's members' commits)."""
    params: dict[str, Any] = _with_team(dict(_days(rng)), team_slug)
    if repo_id is not None:
        params["repo_id"] = repo_id
    acc: dict[date, dict[str, Any]] = {
        day: {"total": 0, "ai": 0, "additions": 0, "deletions": 0, "tools": {}} for day in rng.iter_days()
    }
    for row in (await db.execute(_for_team(_daily_sql(repo_id), team_slug), params)).all():
        point = acc[row.day]
        point["total"] += int(row.commits)
        point["additions"] += int(row.additions)
        point["deletions"] += int(row.deletions)
        if row.tool is not None:
            point["ai"] += int(row.commits)
            point["tools"][row.tool] = int(row.commits)
    return [DailyCommits(day=day, **values) for day, values in acc.items()]


# --- per-repository pivot ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoRow:
    id: int
    source: str
    full_name: str
    total_commits: int
    ai_commits: int
    ai_rate: int
    total_additions: int
    total_deletions: int
    ai_additions: int
    ai_deletions: int
    unique_authors: int
    first_commit: datetime
    last_commit: datetime
    without_stats: int
    tool_commits: dict[str, int]
    """AI commits per primary tool, most commits first."""

    def tool(self, key: str) -> int:
        return self.tool_commits.get(key, 0)


@dataclass(frozen=True)
class RepoPage:
    rows: list[RepoRow]
    total_count: int
    """Repositories in the population (range + search), not just this page."""
    sum_commits: int
    sum_ai_commits: int
    page: int = 1
    pages: int = 1

    @property
    def ai_rate(self) -> int:
        """Footer AI %: Σ AI / Σ commits (not the mean of the row rates)."""
        return rate_percent(self.sum_ai_commits, self.sum_commits)


def _pivot_sql(pattern: str | None, order_by: str, limited: bool) -> Any:
    search_clause = "AND r.full_name ILIKE :pattern ESCAPE '\\'" if pattern else ""
    limit_clause = "LIMIT :limit OFFSET :offset" if limited else ""
    ai = "s.ai_tool <> ''"
    return text(f"""
WITH scoped AS (
  SELECT d.repo_id, d.ai_tool, d.commits, d.additions, d.deletions, d.without_stats, d.first_at, d.last_at
  FROM commit_daily d
  WHERE d.day >= :lo AND d.day < :hi
),
authors AS (
  SELECT x.repo_id, COUNT(*) AS unique_authors
  FROM (SELECT DISTINCT a.repo_id, a.author FROM commit_author_daily a
        WHERE a.day >= :lo AND a.day < :hi AND a.author <> '') x
  GROUP BY x.repo_id
),
sums AS (
  SELECT r.id, r.source, r.full_name,
         SUM(s.commits) AS total_commits,
         COALESCE(SUM(s.commits) FILTER (WHERE {ai}), 0) AS ai_commits,
         SUM(s.additions) AS total_additions,
         SUM(s.deletions) AS total_deletions,
         COALESCE(SUM(s.additions) FILTER (WHERE {ai}), 0) AS ai_additions,
         COALESCE(SUM(s.deletions) FILTER (WHERE {ai}), 0) AS ai_deletions,
         MIN(s.first_at) AS first_commit,
         MAX(s.last_at) AS last_commit,
         SUM(s.without_stats) AS without_stats,
         (COALESCE(SUM(s.commits) FILTER (WHERE {ai}), 0) * 200 + SUM(s.commits)) / (2 * SUM(s.commits)) AS ai_rate
  FROM scoped s JOIN repositories r ON r.id = s.repo_id
  WHERE TRUE {search_clause}
  GROUP BY r.id, r.source, r.full_name
),
per_repo AS (
  SELECT s.*, COALESCE(a.unique_authors, 0) AS unique_authors FROM sums s LEFT JOIN authors a ON a.repo_id = s.id
),
tools AS (
  SELECT t.repo_id, jsonb_agg(jsonb_build_array(t.ai_tool, t.n) ORDER BY t.n DESC, t.ai_tool) AS tool_commits
  FROM (SELECT repo_id, ai_tool, SUM(commits) AS n FROM scoped WHERE ai_tool <> '' GROUP BY repo_id, ai_tool) t
  GROUP BY t.repo_id
)
SELECT p.*,
       COALESCE(t.tool_commits, '[]'::jsonb) AS tool_commits,
       COUNT(*) OVER () AS total_count,
       SUM(p.total_commits) OVER () AS sum_commits,
       SUM(p.ai_commits) OVER () AS sum_ai_commits
FROM per_repo p LEFT JOIN tools t ON t.repo_id = p.id
ORDER BY {order_by}
{limit_clause}
""")


def _order_by(sort: str, direction: str) -> str:
    if sort not in REPO_SORTS:
        raise ValueError(f"unknown sort key {sort!r}")
    column = REPO_SORTS[sort]
    way = "DESC" if direction == "desc" else "ASC"
    return f"{column} {way}, p.full_name ASC"


def _pivot_params(rng: DateRange, pattern: str | None) -> dict[str, Any]:
    params: dict[str, Any] = _days(rng)
    if pattern:
        params["pattern"] = pattern
    return params


def _repo_row(row: Any) -> RepoRow:
    return RepoRow(
        id=int(row.id),
        source=row.source,
        full_name=row.full_name,
        total_commits=int(row.total_commits),
        ai_commits=int(row.ai_commits),
        ai_rate=int(row.ai_rate),
        total_additions=int(row.total_additions),
        total_deletions=int(row.total_deletions),
        ai_additions=int(row.ai_additions),
        ai_deletions=int(row.ai_deletions),
        unique_authors=int(row.unique_authors),
        first_commit=row.first_commit,
        last_commit=row.last_commit,
        without_stats=int(row.without_stats),
        tool_commits={str(tool): int(n) for tool, n in row.tool_commits},
    )


@cached
async def repo_pivot_slice(
    db: AsyncSession,
    rng: DateRange,
    *,
    pattern: str | None = None,
    sort: str = "totalCommits",
    direction: str = "desc",
    limit: int = REPO_PAGE_SIZE,
    offset: int = 0,
    team_slug: str | None = None,
) -> RepoPage:
    """Repositories with ≥1 commit in range whose full name matches `pattern` (an escaped ILIKE pattern from
    `like_pattern`), sorted by an allow-listed key with ties by full name; footer sums cover the whole population.
    One statement (plus one more when the offset is past the end).
    """
    params = _with_team({**_pivot_params(rng, pattern), "limit": limit, "offset": offset}, team_slug)
    statement = _for_team(_pivot_sql(pattern, _order_by(sort, direction), True), team_slug)
    rows = (await db.execute(statement, params)).all()
    if rows:
        first = rows[0]
        return RepoPage(
            rows=[_repo_row(r) for r in rows],
            total_count=int(first.total_count),
            sum_commits=int(first.sum_commits),
            sum_ai_commits=int(first.sum_ai_commits),
        )
    if offset == 0:
        return RepoPage(rows=[], total_count=0, sum_commits=0, sum_ai_commits=0)
    totals = await repo_pivot_slice(
        db, rng, pattern=pattern, sort=sort, direction=direction, limit=1, offset=0, team_slug=team_slug
    )
    return RepoPage(
        rows=[], total_count=totals.total_count, sum_commits=totals.sum_commits, sum_ai_commits=totals.sum_ai_commits
    )


async def repo_pivot(
    db: AsyncSession,
    rng: DateRange,
    *,
    pattern: str | None = None,
    sort: str = "totalCommits",
    direction: str = "desc",
    page: int = 1,
    per_page: int = REPO_PAGE_SIZE,
    team_slug: str | None = None,
) -> RepoPage:
    """The Commits table's page `page` (a page past the end shows the last page)."""
    offset = (page - 1) * per_page
    result = await repo_pivot_slice(
        db, rng, pattern=pattern, sort=sort, direction=direction, limit=per_page, offset=offset, team_slug=team_slug
    )
    pages = _pages(result.total_count, per_page)
    if not result.rows and page > pages and result.total_count:
        return await repo_pivot(
            db, rng, pattern=pattern, sort=sort, direction=direction, page=pages, per_page=per_page, team_slug=team_slug
        )
    return RepoPage(
        rows=result.rows,
        total_count=result.total_count,
        sum_commits=result.sum_commits,
        sum_ai_commits=result.sum_ai_commits,
        page=min(page, pages),
        pages=pages,
    )


async def stream_repo_rows(
    conn: AsyncConnection, rng: DateRange, pattern: str | None = None, team_slug: str | None = None
) -> AsyncIterator[RepoRow]:
    """Every repository of the pivot population, commits desc (ties by name), streamed from a server-side cursor;
    with `team_slug`, over that team's members' commits."""
    statement = _for_team(_pivot_sql(pattern, _order_by("totalCommits", "desc"), False), team_slug)
    result = await conn.stream(statement, _with_team(_pivot_params(rng, pattern), team_slug))
    async for row in result:
        yield _repo_row(row)


async def ai_tools_in_range(conn: AsyncConnection, rng: DateRange, team_slug: str | None = None) -> list[str]:
    """Primary tools of the range's AI commits (all repositories), most commits first (ties by key)."""
    result = await conn.execute(_for_team(_tools_sql(None), team_slug), _with_team(dict(_days(rng)), team_slug))
    return [str(row.tool) for row in result]


# --- repository detail ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepositoryInfo:
    """A repository and its all-time span of stored commits ("Data from")."""

    id: int
    source: str
    full_name: str
    first_commit: datetime | None
    last_commit: datetime | None
    total_commits: int

    @property
    def owner(self) -> str:
        return self.full_name.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.full_name.split("/", 1)[-1]


FIND_REPO_SQL = text("""
SELECT r.id, r.source, r.full_name,
       (SELECT MIN(committed_at) FROM commits WHERE repo_id = r.id) AS first_commit,
       (SELECT MAX(committed_at) FROM commits WHERE repo_id = r.id) AS last_commit,
       (SELECT COALESCE(SUM(commits), 0) FROM commit_daily WHERE repo_id = r.id) AS total_commits
FROM repositories r
WHERE r.source = 'github' AND lower(r.full_name) = lower(:full_name)
ORDER BY (r.full_name = :full_name) DESC, r.id
LIMIT 1
""")


@cached
async def find_repository(db: AsyncSession, full_name: str) -> RepositoryInfo | None:
    """The GitHub repository named `owner/repo` (exact name preferred, else case-insensitive), or None."""
    row = (await db.execute(FIND_REPO_SQL, {"full_name": full_name})).one_or_none()
    if row is None:
        return None
    return RepositoryInfo(
        id=int(row.id),
        source=row.source,
        full_name=row.full_name,
        first_commit=row.first_commit,
        last_commit=row.last_commit,
        total_commits=int(row.total_commits),
    )


@dataclass(frozen=True)
class Contributor:
    author: str | None
    """The author's email, or `github:<id>` when the commit has no email."""
    commits: int
    ai_commits: int
    last_commit: datetime

    @property
    def ai_rate(self) -> int:
        return rate_percent(self.ai_commits, self.commits)


PEOPLE_AUTHORS = "(CAST(:people AS text[]) IS NULL OR a.author = ANY(CAST(:people AS text[])))"
"""The authors a viewer may see (docs/security.md §6; bind `:people`, NULL: everyone)."""

CONTRIBUTORS_SQL = text(f"""
SELECT NULLIF(a.author, '') AS author, SUM(a.commits) AS commits, SUM(a.ai_commits) AS ai_commits,
       MAX(a.last_at) AS last_commit
FROM commit_author_daily a
WHERE a.repo_id = :repo_id AND a.day >= :lo AND a.day < :hi AND {PEOPLE_AUTHORS}
GROUP BY a.author
ORDER BY 2 DESC, 1 ASC NULLS LAST
LIMIT :limit
""")

HIDDEN_CONTRIBUTORS_SQL = text(f"""
SELECT COUNT(DISTINCT a.author) AS authors, COALESCE(SUM(a.commits), 0) AS commits,
       COALESCE(SUM(a.ai_commits), 0) AS ai_commits
FROM commit_author_daily a
WHERE a.repo_id = :repo_id AND a.day >= :lo AND a.day < :hi AND NOT {PEOPLE_AUTHORS}
""")


@dataclass(frozen=True)
class HiddenAuthors:
    """The authors a viewer may not see, as one "Others (N people)" row (docs/security.md §6)."""

    authors: int
    commits: int
    ai_commits: int

    @property
    def ai_rate(self) -> int:
        return rate_percent(self.ai_commits, self.commits)


def _people(viewer: Viewer) -> list[str] | None:
    return None if viewer.people is None else list(viewer.people)


async def repository_contributors(
    db: AsyncSession, repo_id: int, rng: DateRange, limit: int = TOP_CONTRIBUTORS, viewer: Viewer = EVERYONE
) -> list[Contributor]:
    """Top authors of the repository in range by commits (ties by email), of those `viewer` may see."""
    params = {**_days(rng), "repo_id": repo_id, "limit": limit, "people": _people(viewer)}
    return [
        Contributor(author=r.author, commits=int(r.commits), ai_commits=int(r.ai_commits), last_commit=r.last_commit)
        for r in (await db.execute(CONTRIBUTORS_SQL, params)).all()
    ]


async def hidden_contributors(db: AsyncSession, repo_id: int, rng: DateRange, viewer: Viewer) -> HiddenAuthors | None:
    """The repository's authors in range that `viewer` may not see, summed (None: there are none)."""
    if viewer.people is None:
        return None
    params = {**_days(rng), "repo_id": repo_id, "people": _people(viewer)}
    row = (await db.execute(HIDDEN_CONTRIBUTORS_SQL, params)).one()
    if not row.authors:
        return None
    return HiddenAuthors(int(row.authors), int(row.commits), int(row.ai_commits))


@dataclass(frozen=True)
class Attribution:
    tool: str
    model: str | None
    confidence: str
    source: str | None


@dataclass(frozen=True)
class CommitRow:
    id: int
    sha: str
    author_email: str | None
    author_login: str | None
    author_id: str | None
    mapped_email: str | None
    """The email of the identity mapping (source github, external id = author_id), when one exists."""
    committed_at: datetime
    message: str | None
    ai_tool: str | None
    ai_model: str | None
    additions: int | None
    deletions: int | None
    attributions: list[Attribution]

    @property
    def title(self) -> str:
        first = (self.message or "").split("\n", 1)[0].strip()
        return first or "No commit message"

    @property
    def body(self) -> str:
        parts = (self.message or "").split("\n", 1)
        return parts[1].strip() if len(parts) > 1 else ""

    @property
    def short_sha(self) -> str:
        return self.sha[:7]

    @property
    def author_label(self) -> str:
        if self.author_email:
            return self.author_email.split("@", 1)[0]
        return self.author_login or (f"github:{self.author_id}" if self.author_id else "unknown")

    @property
    def has_stats(self) -> bool:
        return self.additions is not None and self.deletions is not None


@dataclass(frozen=True)
class CommitList:
    rows: list[CommitRow]
    total: int
    """Commits in range after the filter (of the authors the viewer may see)."""
    page: int = 1
    pages: int = 1
    hidden: int = 0
    """Commits in range after the filter by authors the viewer may not see: counted, never listed."""


PEOPLE_COMMITS = (
    "AND (CAST(:people AS text[]) IS NULL OR c.author_email = ANY(CAST(:people AS text[])) OR EXISTS ("
    "SELECT 1 FROM identity_mappings pm WHERE pm.source = 'github' AND pm.external_id = c.author_id "
    "AND pm.email = ANY(CAST(:people AS text[]))))"
)
"""Commits whose author (email, or GitHub identity mapped to an email) a viewer may see (docs/security.md §6)."""


def _commits_sql(filter_key: str) -> Any:
    return text(f"""
SELECT c.id, c.commit_id, c.author_email, c.author_login, c.author_id, c.committed_at, c.message, c.ai_tool,
       c.ai_model, c.additions, c.deletions, m.email AS mapped_email, COUNT(*) OVER () AS total
FROM commits c
LEFT JOIN identity_mappings m ON m.source = 'github' AND m.external_id = c.author_id
WHERE c.repo_id = :repo_id AND c.committed_at >= :lower AND c.committed_at < :upper {COMMIT_FILTERS[filter_key]}
  {PEOPLE_COMMITS}
ORDER BY c.committed_at DESC, c.commit_id ASC
LIMIT :limit OFFSET :offset
""")


COUNT_COMMITS_SQL = {
    key: text(f"""SELECT COUNT(*) FROM commits c
WHERE c.repo_id = :repo_id AND c.committed_at >= :lower AND c.committed_at < :upper {clause} {PEOPLE_COMMITS}""")
    for key, clause in COMMIT_FILTERS.items()
}

ATTRIBUTIONS_SQL = text("""
SELECT a.commit_id, a.ai_tool, a.ai_model, a.confidence, a.source
FROM commit_attributions a JOIN commits c ON c.id = a.commit_id
WHERE a.commit_id = ANY(:ids)
ORDER BY a.commit_id, (a.ai_tool IS DISTINCT FROM c.ai_tool), a.ai_tool
""")


async def repository_commits_slice(
    db: AsyncSession,
    repo_id: int,
    rng: DateRange,
    *,
    filter_key: str = "all",
    limit: int = COMMIT_PAGE_SIZE,
    offset: int = 0,
    viewer: Viewer = EVERYONE,
) -> CommitList:
    """Commits of the repository in range, newest first (ties by sha), with every attribution of each listed
    commit fetched in one extra statement; only commits of authors `viewer` may see, the others counted in
    `hidden`."""
    if filter_key not in COMMIT_FILTERS:
        raise ValueError(f"unknown filter {filter_key!r}")
    params = {**_window(rng), "repo_id": repo_id, "limit": limit, "offset": offset, "people": _people(viewer)}
    rows = (await db.execute(_commits_sql(filter_key), params)).all()
    if rows:
        total = int(rows[0].total)
    else:
        total = int((await db.execute(COUNT_COMMITS_SQL[filter_key], params)).scalar_one()) if offset else 0
    hidden = 0
    if viewer.people is not None:
        everyone = int((await db.execute(COUNT_COMMITS_SQL[filter_key], {**params, "people": None})).scalar_one())
        hidden = everyone - total
    by_commit: dict[int, list[Attribution]] = {int(r.id): [] for r in rows}
    if rows:
        for a in (await db.execute(ATTRIBUTIONS_SQL, {"ids": list(by_commit)})).all():
            by_commit[int(a.commit_id)].append(Attribution(a.ai_tool, a.ai_model, a.confidence, a.source))
    commits = []
    for r in rows:
        attributions = by_commit[int(r.id)]
        if not attributions and r.ai_tool is not None:
            attributions = [Attribution(r.ai_tool, r.ai_model, "detected", None)]
        commits.append(
            CommitRow(
                id=int(r.id),
                sha=r.commit_id,
                author_email=r.author_email,
                author_login=r.author_login,
                author_id=r.author_id,
                mapped_email=r.mapped_email,
                committed_at=r.committed_at,
                message=r.message,
                ai_tool=r.ai_tool,
                ai_model=r.ai_model,
                additions=r.additions,
                deletions=r.deletions,
                attributions=attributions,
            )
        )
    return CommitList(rows=commits, total=total, hidden=hidden)


async def repository_commits(
    db: AsyncSession,
    repo_id: int,
    rng: DateRange,
    *,
    filter_key: str = "all",
    page: int = 1,
    per_page: int = COMMIT_PAGE_SIZE,
    viewer: Viewer = EVERYONE,
) -> CommitList:
    """Page `page` of the commits list (a page past the end shows the last page)."""
    result = await repository_commits_slice(
        db, repo_id, rng, filter_key=filter_key, limit=per_page, offset=(page - 1) * per_page, viewer=viewer
    )
    pages = _pages(result.total, per_page)
    if not result.rows and page > pages and result.total:
        return await repository_commits(
            db, repo_id, rng, filter_key=filter_key, page=pages, per_page=per_page, viewer=viewer
        )
    return CommitList(rows=result.rows, total=result.total, page=min(page, pages), pages=pages, hidden=result.hidden)


@dataclass(frozen=True)
class RepositoryDetail:
    repo: RepositoryInfo
    overview: CommitOverview
    daily: list[DailyCommits]
    contributors: list[Contributor]
    commits: CommitList
    other_contributors: HiddenAuthors | None = None

    @property
    def chart_tools(self) -> list[str]:
        """Tools with commits in range, most commits first (one chart segment each)."""
        return [t.tool for t in self.overview.tools]


@cached
async def repository_detail(
    db: AsyncSession,
    repo: RepositoryInfo,
    rng: DateRange,
    *,
    filter_key: str = "all",
    page: int = 1,
    commits_slice: tuple[int, int] | None = None,
    viewer: Viewer = EVERYONE,
) -> RepositoryDetail:
    """Everything the repository page shows for the range (a handful of statements, none per commit).

    The commits list is page `page` of 50, or `(limit, offset)` when `commits_slice` is given (JSON API). Totals
    count every author; contributors and commits listed are those of authors `viewer` may see (docs/security.md §6).
    """
    overview = await commit_overview(db, rng, repo.id)
    daily = await daily_commits(db, rng, repo.id)
    contributors = await repository_contributors(db, repo.id, rng, viewer=viewer)
    others = await hidden_contributors(db, repo.id, rng, viewer)
    if commits_slice is None:
        commits = await repository_commits(db, repo.id, rng, filter_key=filter_key, page=page, viewer=viewer)
    else:
        limit, offset = commits_slice
        commits = await repository_commits_slice(
            db, repo.id, rng, filter_key=filter_key, limit=limit, offset=offset, viewer=viewer
        )
    return RepositoryDetail(
        repo=repo,
        overview=overview,
        daily=daily,
        contributors=contributors,
        commits=commits,
        other_contributors=others,
    )


@dataclass(frozen=True)
class CommitsPage:
    overview: CommitOverview | None
    table: RepoPage


@cached
async def commits_page(
    sessionmaker: async_sessionmaker[AsyncSession],
    rng: DateRange,
    *,
    pattern: str | None,
    sort: str,
    direction: str,
    page: int,
    with_overview: bool = True,
    team_slug: str | None = None,
) -> CommitsPage:
    """The Commits page: range totals with previous period and tool split (skipped for a table-only swap), and
    the requested page of the repository pivot — the two run concurrently; `team_slug` keeps that team's
    members' commits."""

    def table(db: AsyncSession) -> Awaitable[RepoPage]:
        return repo_pivot(db, rng, pattern=pattern, sort=sort, direction=direction, page=page, team_slug=team_slug)

    if not with_overview:
        (pivot,) = await concurrently(sessionmaker, table)
        return CommitsPage(overview=None, table=pivot)
    overview, pivot = await concurrently(sessionmaker, lambda db: commit_overview(db, rng, team_slug=team_slug), table)
    return CommitsPage(overview=overview, table=pivot)


def tools_in(rows: Sequence[RepoRow]) -> list[str]:
    """Tools present in the given pivot rows, by total commits desc then key."""
    totals: dict[str, int] = {}
    for row in rows:
        for tool, n in row.tool_commits.items():
            totals[tool] = totals.get(tool, 0) + n
    return sorted(totals, key=lambda t: (-totals[t], t))

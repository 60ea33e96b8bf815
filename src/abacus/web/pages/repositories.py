"""GET /repositories/{owner}/{repo} — one repository's commits (pages.md §7), and the reference's
/repositories/github/{owner}/{repo} path as a permanent redirect."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from litestar import Request, get
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.formatting import fmt_day, fmt_status_date, format_commit_count
from abacus.domain.periods import MONTH_ABBR, should_bucket_weekly, weekly_buckets
from abacus.domain.tools import HUMAN_COLOR, HUMAN_NAME, tool_color, tool_name
from abacus.queries.commits import COMMIT_FILTERS, DailyCommits, RepositoryInfo, find_repository, repository_detail
from abacus.web.charts import WIDE, ChartOptions, Column, Segment, stacked_columns
from abacus.web.pages.commits import overall_split_bar
from abacus.web.params import choice, date_range, integer
from abacus.web.rendering import is_htmx, range_context, render

FRAGMENTS = {"page-body": "fragments/repository_body.html", "repo-commits": "fragments/repo_commits.html"}
HUMAN_KEY = "_human"


@dataclass(frozen=True)
class CommitChart:
    svg: Markup
    weekly: bool
    legend: list[tuple[str, str, str | None]]


def _axis_count(value: float) -> str:
    return format_commit_count(value) if value == int(value) else f"{value:g}"


def commit_chart(daily: Sequence[DailyCommits], tools: Sequence[str]) -> CommitChart:
    """Stacked columns per day (Monday weeks past 90 days): Human at the bottom, then one segment per tool."""
    points = [(d.day, {HUMAN_KEY: d.human, **{t: d.tools.get(t, 0) for t in tools}}) for d in daily]
    weekly = should_bucket_weekly(len(points))
    buckets = weekly_buckets(points) if weekly else points
    keys = [HUMAN_KEY, *tools]
    columns = []
    for day, values in buckets:
        total = sum(int(values.get(k, 0)) for k in keys)
        head = f"Week of {fmt_day(day)}" if weekly else fmt_day(day)
        lines = [f"{head}: {total:,} {'commit' if total == 1 else 'commits'}"]
        lines += [
            f"{HUMAN_NAME if k == HUMAN_KEY else tool_name(k)}: {int(values.get(k, 0)):,}"
            for k in keys
            if values.get(k, 0)
        ]
        segments = [Segment(k, values.get(k, 0), HUMAN_COLOR if k == HUMAN_KEY else tool_color(k)) for k in keys]
        columns.append(Column(label=fmt_day(day), segments=segments, title="\n".join(lines)))
    svg = stacked_columns(
        columns,
        ChartOptions(
            height=200, width=WIDE, y_format=_axis_count, aria_label="Weekly commits" if weekly else "Daily commits"
        ),
    )
    humans = sum(d.human for d in daily)
    legend: list[tuple[str, str, str | None]] = []
    if humans:
        legend.append((f"{HUMAN_NAME}: {humans:,}", HUMAN_COLOR, None))
    for tool in tools:
        n = sum(d.tools.get(tool, 0) for d in daily)
        if n:
            legend.append((f"{tool_name(tool)}: {n:,}", tool_color(tool), None))
    return CommitChart(svg=svg, weekly=weekly, legend=legend)


def _data_from(repo: RepositoryInfo) -> tuple[str | None, str | None]:
    """ "Data from Mon YYYY" and its title "Data synced from … to …" (all-time span of stored commits)."""
    if repo.first_commit is None:
        return None, None
    first = repo.first_commit
    label = f"Data from {MONTH_ABBR[first.month - 1]} {first.year}"
    title = f"Data synced from {fmt_status_date(first)} to {fmt_status_date(repo.last_commit)}"
    return label, title


def repository_path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"/repositories/{quote(owner, safe='')}/{quote(name, safe='')}"


@get("/repositories/{owner:str}/{repo:str}", name="repository")
async def repository(request: Request[Any, Any, Any], db: AsyncSession, owner: str, repo: str) -> Template:
    rng = date_range(request)
    filter_key = choice(request, "filter", tuple(COMMIT_FILTERS), "all")
    page = integer(request, "page", 1)
    info = await find_repository(db, f"{owner}/{repo}")
    if info is None:
        raise NotFoundException("Repository not found")
    detail = await repository_detail(db, info, rng, filter_key=filter_key, page=page)
    ranges = range_context(request, rng)
    keep = {**ranges["range_query"], **({"filter": filter_key} if filter_key != "all" else {})}
    data_from, data_title = _data_from(info)
    overview = detail.overview
    context = {
        **ranges,
        "nav": "commits",
        "repo": info,
        "base": repository_path(info.full_name),
        "detail": detail,
        "overview": overview,
        "filter": filter_key,
        "keep": keep,
        "tool_bar": overall_split_bar(overview.tools, overview.current.ai_commits),
        "chart": commit_chart(detail.daily, detail.chart_tools),
        "data_from": data_from,
        "data_title": data_title,
        "oob": is_htmx(request) and request.headers.get("hx-target") == "repo-commits",
    }
    return render(request, "pages/repository.html", context, fragments=FRAGMENTS)


@get("/repositories/github/{owner:str}/{repo:str}", name="repository_legacy")
async def repository_legacy(request: Request[Any, Any, Any], owner: str, repo: str) -> Redirect:
    """The reference's `/repositories/<source>/<owner>/<repo>` path: 301 to the new one, query kept."""
    query = request.url.query
    return Redirect(repository_path(f"{owner}/{repo}") + (f"?{query}" if query else ""), status_code=301)

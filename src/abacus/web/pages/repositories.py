"""GET /repositories/{owner}/{repo} — one repository's commits (docs/pages.md §7), and the reference's
/repositories/github/{owner}/{repo} path as a permanent redirect."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.formatting import fmt_status_date
from abacus.domain.periods import MONTH_ABBR, DateRange
from abacus.domain.visibility import Viewer
from abacus.queries.commits import COMMIT_FILTERS, RepositoryInfo, find_repository, repository_detail
from abacus.web.commit_charts import commit_chart, overall_split_bar
from abacus.web.params import one_of
from abacus.web.rendering import has_page_body, is_htmx, page_body_key, range_context, render

PAGE = "pages/repository.html"
FRAGMENTS = {"page-body": "fragments/repository_body.html", "repo-commits": "fragments/repo_commits.html"}


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
async def repository(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    repository_name: NamedDependency[str],
    rng: NamedDependency[DateRange],
    page_number: NamedDependency[int],
    viewer: NamedDependency[Viewer],
    filter_: Annotated[str | None, Parameter(query="filter")] = None,
) -> Template:
    filter_key = one_of("filter", filter_, tuple(COMMIT_FILTERS), "all")
    info = await find_repository(db, repository_name)
    if info is None:
        raise NotFoundException("Repository not found")
    ranges = range_context(request, rng)
    body_key = await page_body_key(request, info.full_name, rng, filter_key, page_number, ranges["today"])
    if has_page_body(request, PAGE, body_key):  # the body is rendered already: the shell needs only the name
        return render(request, PAGE, {**ranges, "nav": "commits", "repo": info}, fragments=FRAGMENTS, body_key=body_key)
    detail = await repository_detail(db, info, rng, filter_key=filter_key, page=page_number, viewer=viewer)
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
    return render(request, PAGE, context, fragments=FRAGMENTS, body_key=body_key)


@get("/repositories/github/{owner:str}/{repo:str}", name="repository_legacy")
async def repository_legacy(request: Request[Any, Any, Any], owner: str, repo: str) -> Redirect:
    """The reference's `/repositories/<source>/<owner>/<repo>` path: 301 to the new one, query kept."""
    query = request.url.query
    return Redirect(repository_path(f"{owner}/{repo}") + (f"?{query}" if query else ""), status_code=301)

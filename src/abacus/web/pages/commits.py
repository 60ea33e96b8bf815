"""GET /commits — AI-attributed commits across repositories (docs/pages.md §6)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Template
from markupsafe import Markup

from abacus.domain.periods import DateRange
from abacus.queries.commits import REPO_SORTS, RepoRow, commits_page, tools_in
from abacus.web.commit_charts import overall_split_bar, tool_split_bar
from abacus.web.params import SearchText, TeamFilter, column_keys, one_of
from abacus.web.rendering import is_htmx, range_context, render
from abacus.web.templating import query
from abacus.web.usage_charts import tool_legend

COLUMNS: dict[str, str] = {
    "fullName": "Repository",
    "totalCommits": "Commits",
    "aiAssistedCommits": "AI Attributed",
    "aiAssistanceRate": "AI %",
    "toolSplit": "Tool Split",
    "uniqueAuthors": "Authors",
    "lastCommit": "Last Commit",
    "totalAdditions": "Additions",
    "totalDeletions": "Deletions",
}
"""Column keys (the `cols` allow-list) → header labels; the first seven are shown by default."""
DEFAULT_COLS = (
    "fullName",
    "totalCommits",
    "aiAssistedCommits",
    "aiAssistanceRate",
    "toolSplit",
    "uniqueAuthors",
    "lastCommit",
)
DEFAULT_SORT = "totalCommits"
DEFAULT_DIR = "desc"
FRAGMENTS = {"page-body": "fragments/commits_body.html", "repo-table": "fragments/repo_table.html"}


@dataclass(frozen=True)
class Chip:
    key: str
    label: str
    on: bool
    href: str


def _keep(
    range_query: dict[str, str], search: str | None, sort: str, direction: str, cols: list[str]
) -> dict[str, str]:
    """The page's own params as links carry them (defaults omitted)."""
    keep = dict(range_query)
    if search:
        keep["search"] = search
    if sort != DEFAULT_SORT:
        keep["sort"] = sort
    if direction != DEFAULT_DIR:
        keep["dir"] = direction
    if tuple(cols) != DEFAULT_COLS:
        keep["cols"] = ",".join(cols)
    return keep


def _chips(cols: list[str], keep: dict[str, str]) -> list[Chip]:
    chips = []
    for key, label in COLUMNS.items():
        if key == "fullName":
            continue
        toggled = [c for c in COLUMNS if (c in cols) != (c == key)]
        if "fullName" not in toggled:
            toggled.insert(0, "fullName")
        value = None if tuple(toggled) == DEFAULT_COLS else ",".join(toggled)
        chips.append(Chip(key, label, key in cols, "/commits" + query(keep, cols=value, page=None)))
    return chips


def _split_rows(rows: list[RepoRow]) -> list[tuple[RepoRow, Markup]]:
    return [(row, tool_split_bar(row.tool_commits, row.ai_commits)) for row in rows]


@get("/commits", name="commits")
async def commits(
    request: Request[Any, Any, Any],
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    page_number: NamedDependency[int],
    team_filter: NamedDependency[TeamFilter],
    sort: str | None = None,
    dir_: Annotated[str | None, Parameter(query="dir")] = None,
    cols: str | None = None,
) -> Template:
    search = query_text.text
    sort_key = one_of("sort", sort, tuple(REPO_SORTS), DEFAULT_SORT)
    direction = one_of("dir", dir_, ("asc", "desc"), DEFAULT_DIR)
    columns = column_keys("cols", cols, tuple(COLUMNS), DEFAULT_COLS)
    table_only = is_htmx(request) and request.headers.get("hx-target") == "repo-table"
    data = await commits_page(
        request.app.state.sessionmaker,
        rng,
        pattern=query_text.pattern,
        sort=sort_key,
        direction=direction,
        page=page_number,
        with_overview=not table_only,
        team_slug=team_filter.slug,
    )
    ranges = range_context(request, rng)
    keep = {**_keep(ranges["range_query"], search, sort_key, direction, columns), **team_filter.query}
    overview = data.overview
    context = {
        **ranges,
        "nav": "commits",
        "team_choice": team_filter,
        "team_query": team_filter.query,
        "search": search,
        "sort": sort_key,
        "dir": direction,
        "cols": columns,
        "columns": COLUMNS,
        "keep": keep,
        "chips": _chips(columns, keep),
        "overview": overview,
        "tool_bar": overall_split_bar(overview.tools, overview.current.ai_commits) if overview else None,
        "table": data.table,
        "rows": _split_rows(data.table.rows),
        "split_legend": tool_legend(tools_in(data.table.rows)),
        "oob": table_only,
    }
    return render(request, "pages/commits.html", context, fragments=FRAGMENTS)

"""GET /team — the Team pivot table (docs/pages.md §4) — and GET /users, its old address."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.formatting import format_percent_int, format_tokens
from abacus.domain.periods import DateRange
from abacus.domain.tools import tool_color, tool_name
from abacus.domain.visibility import Viewer
from abacus.queries.provisional import provisional_marks
from abacus.queries.team import (
    DEDICATED_TOOLS,
    TeamMember,
    TeamQuery,
    TeamTools,
    sort_keys,
    team_page,
    team_tools,
    tool_sort_key,
    unattributed_in_range,
)
from abacus.queries.teams import team_groups, team_slugs
from abacus.web.charts import BarPart, split_bar
from abacus.web.params import BadParameter, SearchText, chosen_team_slug, column_keys, one_of, range_query, today_utc
from abacus.web.rendering import has_page_body, page_body_key, range_context, render
from abacus.web.templating import query
from abacus.web.usage_charts import tool_legend

PAGE = "pages/team.html"
FRAGMENTS = {"page-body": "fragments/team_body.html", "team-table": "fragments/team_table.html"}
GROUP_FRAGMENTS = {**FRAGMENTS, "team-table": "fragments/team_groups.html"}
"""group=team: the same swap target holds the per-team table."""
DEFAULT_SORT = "totalTokens"
DEFAULT_DIR = "desc"
DEFAULT_COLUMNS = ("email", "totalTokens", "totalCost", "split", "lastActive")
FIXED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("email", "User"),
    ("totalTokens", "Total Tokens"),
    ("totalCost", "Cost"),
    ("split", "Tools"),
    ("claudeCodeTokens", "Claude Code"),
    ("cursorTokens", "Cursor"),
    ("daysActive", "Days Active"),
    ("avgTokensPerDay", "Avg/Day"),
    ("lastActive", "Last Active"),
    ("linesAdded", "Lines Added"),
    ("acceptanceRate", "Acceptance"),
    ("activityDays", "AI Active Days"),
    ("costPer1kLines", "Cost / 1k Lines"),
)
TOOL_COLUMNS_AFTER = "cursorTokens"
"""Per-tool columns of other tools sit right after the dedicated tool columns."""


@dataclass(frozen=True)
class TeamColumn:
    key: str
    label: str
    sortable: bool = True
    numeric: bool = True
    tool: str | None = None
    """The tool whose tokens the column shows (Claude Code, Cursor and `tool_<tool>` columns)."""
    title: str | None = None
    info: str | None = None
    """The definition (web/definitions.py) the header's ⓘ links to, for columns whose meaning is not obvious."""


COLUMN_INFO = {
    "totalTokens": "M-TOKENS",
    "totalCost": "M-COST",
    "split": "M-TOOL-SHARE",
    "avgTokensPerDay": "M-AVG-DAY",
    "linesAdded": "M-LINES",
    "acceptanceRate": "M-ACCEPT",
    "activityDays": "M-ACTIVE-DAYS",
    "costPer1kLines": "M-COST-1K-LINES",
}


def _columns(other_tools: tuple[str, ...]) -> list[TeamColumn]:
    """Every column the page can show, in display order."""
    columns: list[TeamColumn] = []
    for key, label in FIXED_COLUMNS:
        if key == "email":
            columns.append(TeamColumn(key, label, numeric=False))
        elif key == "split":
            columns.append(TeamColumn(key, label, sortable=False, numeric=False))
        elif key == "claudeCodeTokens":
            columns.append(TeamColumn(key, label, tool=DEDICATED_TOOLS[0]))
        elif key == "cursorTokens":
            columns.append(TeamColumn(key, label, tool=DEDICATED_TOOLS[1]))
        elif key == "lastActive":
            columns.append(TeamColumn(key, label, numeric=False, title="Last day with usage (all time)"))
        else:
            columns.append(TeamColumn(key, label))
        if key == TOOL_COLUMNS_AFTER:
            columns += [TeamColumn(tool_sort_key(t), tool_name(t), tool=t) for t in other_tools]
    return [replace(c, info=COLUMN_INFO.get(c.key)) for c in columns]


def team_request_state(
    tools: TeamTools, search: str | None, sort: str | None, direction: str | None, cols: str | None
) -> dict[str, Any]:
    """Validate the Team page's own parameters (sort/dir/cols) against the tools known; bad ones → 400."""
    sort_key = one_of("sort", sort, sort_keys(tools.known), DEFAULT_SORT)
    direction = one_of("dir", direction, ("asc", "desc"), DEFAULT_DIR)
    all_columns = _columns(tools.other_known)
    keys = [c.key for c in all_columns]
    chosen = set(column_keys("cols", cols, keys, DEFAULT_COLUMNS)) | {"email"}
    shown = [k for k in keys if k in chosen]
    return {"search": search, "sort": sort_key, "dir": direction, "cols": shown}


def _cols_param(cols: list[str]) -> str | None:
    return None if set(cols) == set(DEFAULT_COLUMNS) else ",".join(cols)


def _split(member: TeamMember, tools: tuple[str, ...]) -> Markup:
    parts = []
    for tool in tools:
        tokens = member.tool_tokens.get(tool, 0)
        share = format_percent_int(Fraction(tokens * 100, member.total_tokens)) if member.total_tokens else "0%"
        parts.append(BarPart(tokens, tool_color(tool), f"{tool_name(tool)}: {format_tokens(tokens)} ({share})"))
    return split_bar(parts)


def team_context(rng: DateRange, state: dict[str, Any], tools: TeamTools, page: Any) -> dict[str, Any]:
    """What the Team templates need: columns and chips, the rows with their split bars, links' parameters."""
    cols: list[str] = state["cols"]
    shown_tools = tools.tool_columns({*cols, state["sort"]})
    all_columns = _columns(shown_tools)
    range_q = range_query(rng)
    keep = {
        **range_q,
        "search": state["search"],
        "sort": None if state["sort"] == DEFAULT_SORT else state["sort"],
        "dir": None if state["dir"] == DEFAULT_DIR else state["dir"],
        "cols": _cols_param(cols),
        "team": state.get("team"),
    }
    chips = []
    for column in all_columns:
        on = column.key in cols
        toggled = [k for k in (c.key for c in all_columns) if (k in cols) != (k == column.key)]
        chips.append(
            {
                "column": column,
                "on": on,
                "locked": column.key == "email",
                "keep": {**keep, "cols": _cols_param(toggled)},
            }
        )
    split_tools = tuple(dict.fromkeys((*tools.present, *DEDICATED_TOOLS, *shown_tools)))
    return {
        "columns": [c for c in all_columns if c.key in cols],
        "chips": chips,
        "team": page,
        "splits": {m.email: _split(m, split_tools) for m in page.members},
        "split_legend": tool_legend([t for t in split_tools if t in tools.present]),
        "keep": keep,
        "state_params": {k: v for k, v in keep.items() if k != "search" and v},
        "search": state["search"],
        "sort": state["sort"],
        "dir": state["dir"],
        "export_href": "/export/team.csv" + query({**range_q, "search": state["search"], "team": state.get("team")}),
    }


def team_query(
    request: Request[Any, Any, Any],
    rng: DateRange,
    state: dict[str, Any],
    tools: TeamTools,
    pattern: str | None,
    viewer: Viewer,
) -> TeamQuery:
    return TeamQuery(
        rng=rng,
        today=today_utc(request),
        email_pattern=pattern,
        team_slug=state.get("team"),
        people=viewer.people,
        sort=state["sort"],
        descending=state["dir"] == "desc",
        tools=tools.tool_columns({*state["cols"], state["sort"]}),
    )


@get("/team", name="team", include_in_schema=False)
async def team(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    page_number: NamedDependency[int],
    viewer: NamedDependency[Viewer],
    sort: str | None = None,
    dir_: Annotated[str | None, Parameter(query="dir")] = None,
    cols: str | None = None,
    team_param: Annotated[str | None, Parameter(query="team")] = None,
    group: str | None = None,
) -> Template:
    inputs = (rng, query_text.text, query_text.pattern, sort, dir_, cols, page_number, today_utc(request))
    body_key = await page_body_key(request, *inputs, team_param, group)
    if has_page_body(request, PAGE, body_key):  # rendered (and its parameters found valid) for this key already
        shell = {**range_context(request, rng), "nav": "team", "search": query_text.text}
        return render(request, PAGE, shell, fragments=FRAGMENTS, body_key=body_key)
    grouping = one_of("group", group, ("people", "team"), "people")
    choices = await team_slugs(db, viewer)
    chosen_team = chosen_team_slug(team_param, choices)
    if grouping == "team":
        if chosen_team is not None:
            raise BadParameter("team", "group=team shows every team; leave out team=")
        keep = {**range_query(rng), "group": "team"}
        grouped = {
            **range_context(request, rng),
            "nav": "team",
            "group": "team",
            "groups": await team_groups(db, rng, request.app.state.settings.seats.idle_days, viewer),
            "team_choices": choices,
            "team_filter": None,
            "keep": keep,
            "state_params": keep,
        }
        return render(request, PAGE, grouped, fragments=GROUP_FRAGMENTS, body_key=body_key)
    tools = await team_tools(db, rng)
    state = {**team_request_state(tools, query_text.text, sort, dir_, cols), "team": chosen_team}
    page = await team_page(db, team_query(request, rng, state, tools, query_text.pattern, viewer), page_number)
    context = {
        **range_context(request, rng),
        **team_context(rng, state, tools, page),
        "nav": "team",
        "group": "people",
        "team_choices": choices,
        "team_filter": chosen_team,
        "team_query": {"team": chosen_team} if chosen_team else {},
        "unattributed": await unattributed_in_range(db, rng),
        "provisional": await provisional_marks(db, rng.start, rng.end, team_slug=chosen_team),
    }
    return render(request, PAGE, context, fragments=FRAGMENTS, body_key=body_key)


@get("/users", name="users_redirect", include_in_schema=False)
async def users_redirect(request: Request[Any, Any, Any]) -> Redirect:
    """The reference's /users address: 301 to /team with the query string kept."""
    query_string = request.url.query
    return Redirect("/team" + (f"?{query_string}" if query_string else ""), status_code=301)

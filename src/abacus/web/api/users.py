"""Read-only JSON under /api/v1 for people (docs/pages.md §13): users, Team pivot, user detail, raw usage, percentile.

snake_case keys; range from `start`/`end` (or `range`/`days`, default 30 days) as on the pages (docs/pages.md §1.1); bad
values → 400 `{"error", "parameter"}`; an unknown user → 404 `{"error": "User not found"}`. Costs are JSON numbers
in USD.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.provisional import ProvisionalMarks
from abacus.domain.tools import CLAUDE_CODE, CURSOR
from abacus.domain.visibility import Viewer
from abacus.queries.provisional import provisional_marks
from abacus.queries.team import (
    SORT_COLUMNS,
    TeamMember,
    TeamQuery,
    favorite_models,
    hidden_totals,
    sort_keys,
    team_members,
    team_slice,
    team_tools,
)
from abacus.queries.users import UserLifetime, UserMatch, raw_usage, raw_usage_filters, user_overview, user_percentile
from abacus.web.params import (
    Paging,
    SearchText,
    TeamFilter,
    one_of,
    page_paging,
    paging,
    raw_usage_filter,
    search_text,
    today_utc,
)

EMAIL_SEARCH = search_text("Substring of the email, case-insensitive (≤ 100 chars)")
TAGS = ["users"]

SNAKE_SORTS = {
    "total_tokens": "totalTokens", "total_cost": "totalCost", "claude_code_tokens": "claudeCodeTokens",
    "cursor_tokens": "cursorTokens", "input_tokens": "inputTokens", "output_tokens": "outputTokens",
    "first_active": "firstActive", "last_active": "lastActive", "days_active": "daysActive",
    "avg_tokens_per_day": "avgTokensPerDay",
}  # fmt: skip


def _money(value: Decimal) -> float:
    return float(value)


def _known(match: UserMatch) -> tuple[str, UserLifetime]:
    """The lower-cased full email the path segment names (a full email or a unique local part) and that person's
    lifetime figures, else 404."""
    if match.email is None:
        if match.candidates:
            raise NotFoundException(f"Ambiguous user name — use the full email: {', '.join(match.candidates)}")
        raise NotFoundException("User not found")
    if match.lifetime is None or not match.lifetime.known:
        raise NotFoundException("User not found")
    return match.email, match.lifetime


# --- /api/v1/users ------------------------------------------------------------------------------------------------


@dataclass
class UserListItem:
    email: str
    total_tokens: int
    total_cost: float
    claude_code_tokens: int
    cursor_tokens: int
    favorite_model: str
    """M-FAV-MODEL: the model with most tokens in the range (ties alphabetical)."""
    last_active: date
    """Last day with usage, all time."""
    provisional: bool = False
    """M-PROVISIONAL: the person's figures in the range include live OTel rows."""


@get(
    "/api/v1/users",
    name="api_users",
    tags=TAGS,
    summary="People with usage in a range, tokens desc",
    dependencies={"query_text": EMAIL_SEARCH, "paging": paging(50, 100)},
)
async def api_users(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    paging: NamedDependency[Paging],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
) -> list[UserListItem]:
    """Mapped people with ≥ 1 usage row in the range, by tokens desc (ties by email); `team=<slug>`: its members.
    Only the people the signed-in person may see (docs/security.md §6)."""
    query = TeamQuery(
        rng=rng,
        today=today_utc(request),
        email_pattern=query_text.pattern,
        team_slug=team_filter.slug,
        people=viewer.people,
    )
    members = await team_members(db, query, limit=paging.limit, offset=paging.offset)
    favorites = await favorite_models(db, [m.email for m in members], rng)
    marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)
    return [
        UserListItem(
            m.email,
            m.total_tokens,
            _money(m.total_cost),
            m.claude_code_tokens,
            m.cursor_tokens,
            favorites[m.email],
            m.last_active,
            marks.of(m.email),
        )
        for m in members
    ]


# --- /api/v1/users/pivot ------------------------------------------------------------------------------------------


@dataclass
class PivotUser:
    email: str
    total_tokens: int
    total_cost: float
    claude_code_tokens: int
    cursor_tokens: int
    tool_tokens: dict[str, int]
    """Tokens per tool for every tool with mapped usage in the range (and any tool sorted by)."""
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    """input + output + cache_read + cache_write = total_tokens."""
    first_active: date
    last_active: date
    """All time, not range-bound."""
    days_active: int
    avg_tokens_per_day: int
    tool_count: int
    has_thinking_models: bool
    days_since_last_active: int
    provisional: bool = False
    """M-PROVISIONAL: the person's figures in the range include live OTel rows."""


@dataclass
class PivotTotals:
    total_tokens: int
    total_cost: float
    tool_tokens: dict[str, int]


@dataclass
class PivotOthers:
    count: int
    total_tokens: int
    total_cost: float


@dataclass
class UserPivot:
    users: list[PivotUser]
    total_count: int
    """M-TEAM-COUNT: every matching person the signed-in person may see, not just this slice."""
    totals: PivotTotals
    """Footer sums over every matching person the signed-in person may see."""
    others: PivotOthers | None = None
    """The people hidden from the signed-in person (docs/security.md §6), summed; null when none or with a search."""


def _pivot_user(m: TeamMember, marks: ProvisionalMarks) -> PivotUser:
    return PivotUser(
        email=m.email,
        total_tokens=m.total_tokens,
        total_cost=_money(m.total_cost),
        claude_code_tokens=m.claude_code_tokens,
        cursor_tokens=m.cursor_tokens,
        tool_tokens=dict(m.tool_tokens),
        input_tokens=m.input_tokens,
        output_tokens=m.output_tokens,
        cache_read_tokens=m.cache_read_tokens,
        cache_write_tokens=m.cache_write_tokens,
        first_active=m.first_active,
        last_active=m.last_active,
        days_active=m.days_active,
        avg_tokens_per_day=m.avg_tokens_per_day,
        tool_count=m.tool_count,
        has_thinking_models=m.has_thinking_models,
        days_since_last_active=m.days_since_last_active,
        provisional=marks.of(m.email),
    )


@get(
    "/api/v1/users/pivot",
    name="api_users_pivot",
    tags=TAGS,
    summary="The Team table: every column, sortable",
    dependencies={"query_text": EMAIL_SEARCH, "paging": paging(500, 1000)},
)
async def api_users_pivot(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    query_text: NamedDependency[SearchText],
    direction: NamedDependency[str],
    paging: NamedDependency[Paging],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
    sort_by: Annotated[
        str | None,
        Parameter(description="A Team sort key (totalTokens, lastActive, tool_codex, …) or its snake_case form"),
    ] = None,
) -> UserPivot:
    """The Team population sorted by `sort_by` (ties by email ascending) with its count and footer totals;
    `team=<slug>` keeps that team's members."""
    tools = await team_tools(db, rng)
    allowed = {**{k: k for k in sort_keys(tools.known)}, **SNAKE_SORTS}
    sort = allowed[one_of("sort_by", sort_by, tuple(allowed), SORT_COLUMNS[1])]
    query = TeamQuery(
        rng=rng,
        today=today_utc(request),
        email_pattern=query_text.pattern,
        team_slug=team_filter.slug,
        sort=sort,
        descending=direction == "desc",
        tools=tools.tool_columns({sort}),
        people=viewer.people,
    )
    totals, members = await team_slice(db, query, limit=paging.limit, offset=paging.offset)
    _, hidden = await hidden_totals(db, query, totals)
    marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)
    return UserPivot(
        users=[_pivot_user(m, marks) for m in members],
        total_count=totals.count,
        totals=PivotTotals(totals.total_tokens, _money(totals.total_cost), dict(totals.tool_tokens)),
        others=None if hidden is None else PivotOthers(hidden.count, hidden.total_tokens, _money(hidden.total_cost)),
    )


# --- /api/v1/users/{email} ----------------------------------------------------------------------------------------


@dataclass
class UserSummaryOut:
    email: str
    total_tokens: int
    total_cost: float
    claude_code_tokens: int
    cursor_tokens: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    first_active: date | None
    last_active: date | None
    """Within the range."""
    days_active: int
    avg_tokens_per_day: int
    """Per active day."""


@dataclass
class ModelBreakdownOut:
    model: str
    tool: str
    tokens: int
    input_tokens: int
    output_tokens: int
    cost: float


@dataclass
class DailyUsageOut:
    date: date
    claude_code: int
    cursor: int
    tools: dict[str, int]
    """Tokens per tool used that day (every tool, not only Claude Code and Cursor)."""
    input_tokens: int
    output_tokens: int
    cost: float


@dataclass
class RecordDayOut:
    date: date
    tokens: int


@dataclass
class LifetimeOut:
    total_tokens: int
    total_cost: float
    first_record_date: date | None
    favorite_tool: str | None
    record_day: RecordDayOut | None


@dataclass
class CommitToolOut:
    tool: str
    commits: int
    additions: int
    deletions: int


@dataclass
class CommitStatsOut:
    total_commits: int
    ai_assisted_commits: int
    ai_assistance_rate: int
    tool_breakdown: list[CommitToolOut]


@dataclass
class PreviousOut:
    start: date
    end: date
    total_tokens: int
    total_cost: float


@dataclass
class UserDetailOut:
    start: date
    end: date
    summary: UserSummaryOut
    model_breakdown: list[ModelBreakdownOut]
    daily_usage: list[DailyUsageOut]
    lifetime: LifetimeOut
    commit_stats: CommitStatsOut
    previous_period: PreviousOut | None = None


@get("/api/v1/users/{email:str}", name="api_user", tags=TAGS, summary="One person's usage in a range")
async def api_user(
    db: AsyncSession,
    user_match: NamedDependency[UserMatch],
    rng: NamedDependency[DateRange],
    compare: NamedDependency[bool],
) -> UserDetailOut:
    """Summary, (model, tool) breakdown, zero-filled daily series, lifetime figures and commits (M-USER-COMMITS).
    404 `User not found` for an email nobody has seen; a person without usage in the range gets zeros."""
    who, lifetime = _known(user_match)
    overview = await user_overview(db, who, rng)
    s = overview.summary
    previous = rng.previous()
    return UserDetailOut(
        start=rng.start,
        end=rng.end,
        summary=UserSummaryOut(
            email=who,
            total_tokens=s.tokens,
            total_cost=_money(s.cost),
            claude_code_tokens=s.claude_code_tokens,
            cursor_tokens=s.cursor_tokens,
            input_tokens=s.input_tokens,
            output_tokens=s.output_tokens,
            cache_read_tokens=s.cache_read_tokens,
            first_active=s.first_active,
            last_active=s.last_active,
            days_active=s.days_active,
            avg_tokens_per_day=s.avg_per_day,
        ),
        model_breakdown=[
            ModelBreakdownOut(m.model, m.tool, m.tokens, m.input_tokens, m.output_tokens, _money(m.cost))
            for m in overview.models
        ],
        daily_usage=[
            DailyUsageOut(
                p.day,
                p.tools.get(CLAUDE_CODE, 0),
                p.tools.get(CURSOR, 0),
                dict(p.tools),
                p.input_tokens,
                p.output_tokens,
                _money(p.cost),
            )
            for p in overview.daily
        ],
        lifetime=LifetimeOut(
            total_tokens=lifetime.tokens,
            total_cost=_money(lifetime.cost),
            first_record_date=lifetime.since,
            favorite_tool=lifetime.favorite_tool,
            record_day=RecordDayOut(lifetime.record_day, lifetime.record_tokens) if lifetime.record_day else None,
        ),
        commit_stats=CommitStatsOut(
            total_commits=overview.commits.total,
            ai_assisted_commits=overview.commits.ai,
            ai_assistance_rate=overview.commits.rate,
            tool_breakdown=[CommitToolOut(t.tool, t.commits, t.additions, t.deletions) for t in overview.commits.tools],
        ),
        previous_period=PreviousOut(previous.start, previous.end, s.previous_tokens, _money(s.previous_cost))
        if compare
        else None,
    )


# --- /api/v1/users/{email}/raw-usage ------------------------------------------------------------------------------


@dataclass
class RawRecordOut:
    id: int
    date: date
    tool: str
    model: str
    total_tokens: int
    cost: float


@dataclass
class RawUsageOut:
    records: list[RawRecordOut]
    total_count: int
    """Rows matching the filters."""
    available_tools: list[str]
    available_models: list[str]


@get(
    "/api/v1/users/{email:str}/raw-usage",
    name="api_user_raw_usage",
    tags=TAGS,
    summary="One person's usage rows, newest first",
    dependencies={"paging": page_paging(50, 100)},
)
async def api_user_raw_usage(
    db: AsyncSession,
    user_match: NamedDependency[UserMatch],
    rng: NamedDependency[DateRange],
    paging: NamedDependency[Paging],
    tool: Annotated[str | None, Parameter(description="Exact tool key present in the range")] = None,
    model: Annotated[str | None, Parameter(description="Exact normalised model present in the range")] = None,
) -> RawUsageOut:
    """Usage rows (date desc, id desc) with `tok(r)` and cost; the tools and models present fill filter menus."""
    who, _ = _known(user_match)
    filters = await raw_usage_filters(db, who, rng)
    tool_key, model_name = raw_usage_filter(filters, tool, model)
    rows = await raw_usage(db, who, rng, tool=tool_key, model=model_name, limit=paging.limit, offset=paging.offset)
    return RawUsageOut(
        records=[RawRecordOut(r.id, r.date, r.tool, r.model, r.total_tokens, _money(r.cost)) for r in rows.records],
        total_count=rows.total_count,
        available_tools=filters.tools,
        available_models=filters.models,
    )


# --- /api/v1/users/{email}/percentile -----------------------------------------------------------------------------


@dataclass
class PercentileOut:
    percentile: int


@get(
    "/api/v1/users/{email:str}/percentile",
    name="api_user_percentile",
    tags=TAGS,
    summary="Where a person ranks by tokens per active day",
)
async def api_user_percentile(
    db: AsyncSession, user_match: NamedDependency[UserMatch], rng: NamedDependency[DateRange]
) -> PercentileOut:
    """M-PERCENTILE among mapped people with ≥ 2 active days: ties share a percentile; 0 when the person has fewer
    than 2 active days; 50 when nobody qualifies; 100 when alone."""
    who, _ = _known(user_match)
    return PercentileOut(await user_percentile(db, who, rng))

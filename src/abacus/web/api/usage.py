"""Read-only JSON under /api/v1 for usage (docs/pages.md §13): stats, lifetime, trends, models, model trends.

snake_case keys; range from `start`/`end` (or `range`/`days`, default 30 days) as on the pages (docs/pages.md §1.1); bad
values → 400 `{"error", "parameter"}`. Costs are JSON numbers in USD (exact to the stored 6 decimals).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.provisional import is_provisional
from abacus.domain.tools import CLAUDE_CODE, CURSOR
from abacus.providers.registry import configured_tools
from abacus.queries.lifetime import lifetime_stats
from abacus.queries.provisional import provisional_marks
from abacus.queries.usage import (
    PeriodTotals,
    UsageTotals,
    daily_usage_by_tool,
    model_breakdown,
    usage_totals,
    usage_trend_rows,
)
from abacus.web.params import TeamFilter, now_utc, today_utc
from abacus.web.usage_charts import projected_days

TAGS = ["usage"]


def _money(value: Decimal) -> float:
    return float(value)


# --- /api/v1/stats ----------------------------------------------------------------------------------------------


@dataclass
class Unattributed:
    total_tokens: int
    total_cost: float


@dataclass
class ToolStats:
    tool: str
    tokens: int
    cost: float
    users: int


@dataclass
class PreviousPeriod:
    start: date
    end: date
    total_tokens: int
    total_cost: float
    active_users: int
    claude_code_tokens: int
    cursor_tokens: int
    claude_code_users: int
    cursor_users: int


@dataclass
class Stats:
    start: date
    end: date
    total_tokens: int
    total_cost: float
    total_input_tokens: int
    total_output_tokens: int
    total_cache_read_tokens: int
    total_cache_write_tokens: int
    """input + output + cache read + cache write = total_tokens."""
    active_users: int
    claude_code_tokens: int
    cursor_tokens: int
    claude_code_users: int
    cursor_users: int
    unattributed: Unattributed
    tools: list[ToolStats]
    """Every tool with usage in the range, tokens desc (Claude Code and Cursor also have their own keys)."""
    previous_period: PreviousPeriod | None = None
    provisional: bool = False
    """M-PROVISIONAL: the figures include live OTel rows the Admin API has not replaced yet."""


def _tool_figure(totals: UsageTotals, tool: str, attr: str) -> int:
    found = totals.tool(tool)
    return int(getattr(found, attr)) if found else 0


def _stats(totals: UsageTotals, comparison: bool) -> Stats:
    cur: PeriodTotals = totals.current
    prev: PeriodTotals = totals.previous
    previous = None
    if comparison:
        prev_rng = totals.rng.previous()
        cc = totals.tool(CLAUDE_CODE)
        cu = totals.tool(CURSOR)
        previous = PreviousPeriod(
            start=prev_rng.start,
            end=prev_rng.end,
            total_tokens=prev.tokens,
            total_cost=_money(prev.cost),
            active_users=prev.users,
            claude_code_tokens=cc.prev_tokens if cc else 0,
            cursor_tokens=cu.prev_tokens if cu else 0,
            claude_code_users=cc.prev_users if cc else 0,
            cursor_users=cu.prev_users if cu else 0,
        )
    return Stats(
        start=totals.rng.start,
        end=totals.rng.end,
        total_tokens=cur.tokens,
        total_cost=_money(cur.cost),
        total_input_tokens=cur.input_tokens,
        total_output_tokens=cur.output_tokens,
        total_cache_read_tokens=cur.cache_read_tokens,
        # the total is the sum of the four kinds over the same rows, so cache writes are exactly what is left
        total_cache_write_tokens=cur.tokens - cur.input_tokens - cur.output_tokens - cur.cache_read_tokens,
        active_users=cur.users,
        claude_code_tokens=_tool_figure(totals, CLAUDE_CODE, "tokens"),
        cursor_tokens=_tool_figure(totals, CURSOR, "tokens"),
        claude_code_users=_tool_figure(totals, CLAUDE_CODE, "users"),
        cursor_users=_tool_figure(totals, CURSOR, "users"),
        unattributed=Unattributed(cur.unattributed_tokens, _money(cur.unattributed_cost)),
        tools=[ToolStats(t.tool, t.tokens, _money(t.cost), t.users) for t in totals.tools],
        previous_period=previous,
    )


@get("/api/v1/stats", name="api_stats", tags=TAGS, summary="Usage totals for a range")
async def api_stats(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    compare: NamedDependency[bool],
    team_filter: NamedDependency[TeamFilter],
) -> Stats:
    """M-TOKENS, M-COST, M-USERS and per-tool figures; `comparison=true` adds the previous period of equal length;
    `team=<slug>` counts that team's members only."""
    stats = _stats(await usage_totals(db, rng, team_filter.slug), compare)
    stats.provisional = (await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)).any
    return stats


# --- /api/v1/stats/lifetime -------------------------------------------------------------------------------------


@dataclass
class LifetimeStats:
    total_tokens: int
    total_cost: float
    total_users: int
    first_record_date: date | None
    total_commits: int
    ai_attributed_commits: int
    total_repos: int


@get("/api/v1/stats/lifetime", name="api_stats_lifetime", tags=TAGS, summary="All-time totals")
async def api_stats_lifetime(db: AsyncSession) -> LifetimeStats:
    """M-LIFE-* figures (not range-bound)."""
    life = await lifetime_stats(db)
    return LifetimeStats(
        life.tokens, _money(life.cost), life.users, life.since, life.commits, life.ai_commits, life.repos
    )


# --- /api/v1/trends ---------------------------------------------------------------------------------------------


@dataclass
class TrendPoint:
    date: date
    claude_code: int
    cursor: int
    tools: dict[str, int]
    """Actual tokens of every tool with usage in the range (0 on days without)."""
    cost: float
    is_incomplete: bool = False
    projected_claude_code: int | None = None
    projected_cursor: int | None = None
    projected: dict[str, int] = field(default_factory=dict)
    """Shown (projected or estimated) value per tool on incomplete days; display only, never part of totals."""
    provisional: bool = False
    """M-PROVISIONAL: the day's Claude Code figures include live OTel rows the Admin API has not replaced yet."""


@dataclass
class Completeness:
    last_data_date: date | None


@dataclass
class Trends:
    start: date
    end: date
    data: list[TrendPoint]
    completeness: dict[str, Completeness]


@get("/api/v1/trends", name="api_trends", tags=TAGS, summary="Daily tokens per tool with projection markers")
async def api_trends(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    team_filter: NamedDependency[TeamFilter],
) -> Trends:
    """M-DAILY (zero-filled, daily) with M-PROJ markers for configured providers; `completeness` is M-DATA-COMPLETE;
    `team=<slug>` sums that team's members only."""
    daily = await daily_usage_by_tool(db, rng, team_filter.slug)
    marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)
    series = projected_days(daily, today_utc(request), now_utc(request), configured_tools(request.app.state.settings))
    points = []
    for i, day in enumerate(series):
        projected = {tool: part.shown for tool, part in day.tools.items() if part.projected_extra > 0}
        points.append(
            TrendPoint(
                date=day.day,
                claude_code=daily.tokens.get(CLAUDE_CODE, [0] * len(daily.days))[i],
                cursor=daily.tokens.get(CURSOR, [0] * len(daily.days))[i],
                tools={tool: daily.tokens[tool][i] for tool in daily.tools},
                cost=_money(daily.cost[i]),
                is_incomplete=day.incomplete,
                projected_claude_code=projected.get(CLAUDE_CODE),
                projected_cursor=projected.get(CURSOR),
                projected=projected,
                provisional=marks.on(day.day),
            )
        )
    completeness = {
        tool: Completeness(daily.last_data.get(tool)) for tool in sorted({CLAUDE_CODE, CURSOR, *daily.last_data})
    }
    return Trends(rng.start, rng.end, points, completeness)


# --- /api/v1/models and /api/v1/models/trends ----------------------------------------------------------------


@dataclass
class ModelShare:
    model: str
    tool: str
    tokens: int
    percentage: float
    """Of all tokens in the range (M-TOKENS), 2 decimals."""
    provisional: bool = False
    """M-PROVISIONAL of the pair's figures over the range."""


@get("/api/v1/models", name="api_models", tags=TAGS, summary="Top 20 (model, tool) pairs by tokens")
async def api_models(
    db: AsyncSession, rng: NamedDependency[DateRange], team_filter: NamedDependency[TeamFilter]
) -> list[ModelShare]:
    """M-MODEL-TOOL, first 20 by tokens; `percentage` is of M-TOKENS (all rows, not only these 20); `team=<slug>`
    sums that team's members only."""
    breakdown = await model_breakdown(db, rng, team_filter.slug)
    marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)
    total = breakdown.total_tokens
    return [
        ModelShare(
            p.model,
            p.tool,
            p.tokens,
            round(p.tokens * 100 / total, 2) if total else 0.0,
            is_provisional(marks, rng.start, rng.end, tool=p.tool, model=p.model),
        )
        for p in breakdown.pairs[:20]
    ]


@dataclass
class ModelTrendRow:
    date: date
    model: str
    tool: str
    tokens: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    """input + output + cache_read + cache_write = tokens."""
    cost: float
    provisional: bool = False
    """M-PROVISIONAL of the row (as the usage CSV's last column)."""


@dataclass
class ToolTrendRow:
    date: date
    tool: str
    tokens: int
    cost: float
    users: int
    provisional: bool = False
    """M-PROVISIONAL of the row (as the usage CSV's last column)."""


@dataclass
class ModelTrends:
    view: str
    start: date
    end: date
    trends: list[ModelTrendRow] | list[ToolTrendRow]


@get("/api/v1/models/trends", name="api_models_trends", tags=TAGS, summary="Daily usage per model or per tool")
async def api_models_trends(
    db: AsyncSession,
    rng: NamedDependency[DateRange],
    usage_view: NamedDependency[str],
    team_filter: NamedDependency[TeamFilter],
) -> ModelTrends:
    """One row per (date, model, tool) — or per (date, tool) with users for `view=tools` — date asc, tokens desc;
    `team=<slug>` keeps that team's members' usage."""
    chosen = usage_view
    rows = await usage_trend_rows(db, rng, chosen, team_filter.slug)
    marks = await provisional_marks(db, rng.start, rng.end, team_slug=team_filter.slug)
    trends: list[ModelTrendRow] | list[ToolTrendRow]
    if chosen == "tools":
        trends = [
            ToolTrendRow(
                r["date"],
                r["tool"],
                int(r["tokens"]),
                _money(r["cost"]),
                int(r["users"]),
                marks.on(r["date"], tool=r["tool"]),
            )
            for r in rows
        ]
    else:
        trends = [
            ModelTrendRow(
                r["date"],
                r["model"],
                r["tool"],
                int(r["tokens"]),
                int(r["input_tokens"]),
                int(r["output_tokens"]),
                int(r["cache_read_tokens"]),
                int(r["cache_write_tokens"]),
                _money(r["cost"]),
                marks.on(r["date"], tool=r["tool"], model=r["model"]),
            )
            for r in rows
        ]
    return ModelTrends(chosen, rng.start, rng.end, trends)

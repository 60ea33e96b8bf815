"""GET /usage — model and tool usage breakdown over time (docs/pages.md §3)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from abacus.db import borrowed_session, concurrently
from abacus.domain.periods import DateRange
from abacus.providers.registry import configured_tools
from abacus.queries.activity import activity_by_tool, daily_activity
from abacus.queries.provisional import provisional_marks
from abacus.queries.usage import usage_page_data
from abacus.web.activity_charts import activity_chart
from abacus.web.charts import WIDE
from abacus.web.params import TeamFilter, now_utc, range_query, today_utc
from abacus.web.rendering import has_page_body, page_body_key, range_context, render
from abacus.web.usage_charts import (
    model_chart,
    model_rows,
    share_bar,
    tool_legend,
    tool_split_bar,
    tool_users_chart,
    usage_chart,
)

PAGE = "pages/usage.html"
FRAGMENTS = {"page-body": "fragments/usage_body.html", "usage-chart": "fragments/usage_chart.html"}


@get("/usage", name="usage")
async def usage_page(
    request: Request[Any, Any, Any],
    rng: NamedDependency[DateRange],
    usage_view: NamedDependency[str],
    show_trend: NamedDependency[bool],
    team_filter: NamedDependency[TeamFilter],
) -> Template:
    view, trend, team = usage_view, show_trend, team_filter.slug
    sessionmaker = request.app.state.sessionmaker
    today, now = today_utc(request), now_utc(request)
    # the tools view's chart projects the current day by minute
    body_key = await page_body_key(request, rng, view, trend, team, today, now.hour, now.minute)
    shell = {**range_context(request, rng), "nav": "usage", "team_choice": team_filter, "team_query": team_filter.query}
    if has_page_body(request, PAGE, body_key):  # the body is rendered already: the shell needs no query
        return render(request, PAGE, shell, fragments=FRAGMENTS, body_key=body_key)
    async with borrowed_session(sessionmaker) as db:
        marks = await provisional_marks(db, rng.start, rng.end, team_slug=team)
    if view == "tools":
        data, (activity, daily) = await asyncio.gather(
            usage_page_data(sessionmaker, rng, view, team),
            concurrently(
                sessionmaker,
                lambda db: activity_by_tool(db, rng, team),
                lambda db: daily_activity(db, rng, team),
            ),
        )
    else:
        data = await usage_page_data(sessionmaker, rng, view, team)
    keep = {
        **range_query(rng),
        **team_filter.query,
        "view": None if view == "models" else view,
        "trend": None if trend else "0",
    }
    context: dict[str, Any] = {
        **shell,
        "view": view,
        "data": data,
        "provisional": marks,
        "keep": keep,
        "trend": trend,
        "chart_base": "/usage",
        "chart_keep": keep,
        "chart_more": None,
        "split": tool_split_bar,
        "share_bar": share_bar,
        "tool_legend": tool_legend([t.tool for t in data.totals.tools if t.tokens > 0]),
    }
    if view == "tools" and data.daily is not None and data.tool_users is not None:
        context["chart"] = usage_chart(
            data.daily,
            today=today,
            now=now,
            configured=configured_tools(request.app.state.settings),
            trend=trend,
            width=WIDE,
        )
        context["users_chart"] = tool_users_chart(data.tool_users, data.totals.tools)
        context["activity"] = activity
        context["activity_daily_chart"] = activity_chart(daily, rng, width=WIDE)
        context["activity_title"] = f"Activity by tool ({rng.tag})"
    elif data.model_series is not None:
        totals = {m.model: m.tokens for m in data.models.models}
        context["chart"] = model_chart(data.model_series, totals, trend=trend)
        context["model_table"] = model_rows(data.models.models, data.models.total_tokens, relative_to_top=False)
    return render(request, PAGE, context, fragments=FRAGMENTS, body_key=body_key)

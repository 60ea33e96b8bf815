"""GET / — the Overview dashboard (docs/pages.md §2): lifetime strip, cards, tools/commits, chart, models, users."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.response import Template

from abacus.db import concurrently
from abacus.domain.periods import DateRange
from abacus.domain.visibility import Viewer
from abacus.providers.registry import configured_tools
from abacus.queries.activity import activity_by_tool
from abacus.queries.dashboard import dashboard_data
from abacus.queries.lifetime import lifetime_stats
from abacus.queries.provisional import provisional_marks
from abacus.queries.seats import seats_view
from abacus.web.params import TeamFilter, now_utc, range_query, today_utc
from abacus.web.rendering import has_page_body, page_body_key, range_context, render
from abacus.web.usage_charts import model_rows, tool_legend, tool_split_bar, tools_card, usage_chart

PAGE = "pages/dashboard.html"
FRAGMENTS = {"page-body": "fragments/dashboard_body.html", "usage-chart": "fragments/usage_chart.html"}


@get("/", name="dashboard")
async def dashboard(
    request: Request[Any, Any, Any],
    rng: NamedDependency[DateRange],
    show_trend: NamedDependency[bool],
    team_filter: NamedDependency[TeamFilter],
    viewer: NamedDependency[Viewer],
) -> Template:
    trend, team = show_trend, team_filter.slug
    sessionmaker = request.app.state.sessionmaker
    today, now = today_utc(request), now_utc(request)
    # the chart projects by minute
    body_key = await page_body_key(request, rng, trend, team, today, now.hour, now.minute)
    chosen = {"team_choice": team_filter, "team_query": team_filter.query}
    if has_page_body(request, PAGE, body_key):  # the body is rendered already: the shell needs the lifetime strip
        (lifetime,) = await concurrently(sessionmaker, lifetime_stats)
        shell = {**range_context(request, rng), **chosen, "nav": "overview", "lifetime": lifetime}
        return render(request, PAGE, shell, fragments=FRAGMENTS, body_key=body_key)
    idle_after = request.app.state.settings.seats.idle_days
    (lifetime, activity, seats, marks), data = await asyncio.gather(
        concurrently(
            sessionmaker,
            lifetime_stats,
            lambda db: activity_by_tool(db, rng, team),
            lambda db: seats_view(db, rng, idle_after_days=idle_after, team_slug=team),
            lambda db: provisional_marks(db, rng.start, rng.end, team_slug=team),
        ),
        dashboard_data(sessionmaker, rng, team, viewer),
    )
    keep = {**range_query(rng), **team_filter.query, "trend": None if trend else "0"}
    chart = usage_chart(
        data.daily,
        today=today,
        now=now,
        configured=configured_tools(request.app.state.settings),
        trend=trend,
    )
    context = {
        **range_context(request, rng),
        **chosen,
        "nav": "overview",
        "lifetime": lifetime,
        "data": data,
        "no_data": lifetime.tokens == 0 and data.totals.current.tokens == 0,
        "keep": keep,
        "chart": chart,
        "chart_base": "/",
        "chart_keep": keep,
        "chart_more": "/usage",
        "trend": trend,
        "tool_bars": tools_card(data.totals, data.commits.tools, data.commits.ai),
        "model_dist": model_rows(data.models.distribution(6), data.models.total_tokens, relative_to_top=True),
        "split": tool_split_bar,
        "tool_legend": tool_legend([t.tool for t in data.totals.tools if t.tokens > 0]),
        "activity": activity,
        "seats": seats,
        "provisional": marks,
        "settings_idle_days": idle_after,
        "activity_title": f"What the AI produced ({rng.tag})",
    }
    return render(request, PAGE, context, fragments=FRAGMENTS, body_key=body_key)

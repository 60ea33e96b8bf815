"""GET /users/{email} — one person's usage (docs/pages.md §5): Overview and Raw Usage tabs."""

from __future__ import annotations

from datetime import date
from fractions import Fraction
from typing import Any
from urllib.parse import quote

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Redirect, Template
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.db import concurrently
from abacus.domain.formatting import fmt_day, format_money_exact, format_tokens, format_tokens_exact
from abacus.domain.periods import DateRange, delta, should_bucket_weekly, weekly_buckets
from abacus.domain.tools import TOTAL_COLOR, tool_color, tool_name
from abacus.queries.activity import activity_by_tool
from abacus.queries.provisional import provisional_marks
from abacus.queries.seats import seats_view
from abacus.queries.users import (
    MODELS_SHOWN,
    RAW_PAGE_SIZE,
    DailyUsage,
    UserMatch,
    UserOverview,
    raw_usage,
    raw_usage_filters,
    user_overview,
    weekly_pattern,
)
from abacus.web.charts import NARROW, BarPart, ChartOptions, Column, Segment, split_bar, stacked_columns
from abacus.web.params import one_of, range_query, raw_usage_filter
from abacus.web.rendering import has_page_body, page_body_key, range_context, render

WEEKEND = ("Sun", "Sat")
PATTERN_COLOR = TOTAL_COLOR  # all tools together: not any one tool's colour
USER_PAGE = "pages/user.html"
USER_FRAGMENTS = {
    "page-body": "fragments/user_body.html",
    "user-tab": "fragments/user_tab.html",
    "raw-usage": "fragments/raw_usage.html",
}


def user_path(email: str) -> str:
    return "/users/" + quote(email, safe="")


def _daily_chart(series: list[DailyUsage], tools: list[str]) -> tuple[Markup, bool]:
    """The person's usage per day (or per week over 90 days) stacked by tool, no projection."""
    weekly = should_bucket_weekly(len(series))
    points: list[tuple[date, dict[str, Any]]] = [
        (p.day, {**{t: p.tools.get(t, 0) for t in tools}, "__cost": p.cost}) for p in series
    ]
    if weekly:
        points = weekly_buckets(points)
    columns = []
    for day, values in points:
        parts = [f"{tool_name(t)}: {format_tokens(values.get(t, 0))}" for t in tools if values.get(t, 0)]
        head = f"Week of {fmt_day(day)}" if weekly else fmt_day(day)
        title = " · ".join([head, *parts, format_money_exact(values.get("__cost", 0))])
        columns.append(
            Column(
                label=fmt_day(day),
                segments=[Segment(t, float(values.get(t, 0)), tool_color(t)) for t in tools],
                title=title,
            )
        )
    label = "Weekly tokens by tool" if weekly else "Daily tokens by tool"
    options = ChartOptions(
        trend=True,
        aria_label=label,
        series_names={t: tool_name(t) for t in tools},
        x_name="Week of" if weekly else "Day",
    )
    return stacked_columns(columns, options), weekly


def _pattern_chart(series: list[DailyUsage]) -> Markup:
    columns = [
        Column(
            label=name,
            segments=[Segment("tokens", float(tokens), PATTERN_COLOR)],
            title=f"{name}: {format_tokens_exact(tokens)}",
            muted=name in WEEKEND,
        )
        for name, tokens in weekly_pattern(series)
    ]
    options = ChartOptions(
        height=170,
        width=NARROW,
        aria_label="Tokens by weekday (UTC)",
        series_names={"tokens": "Tokens"},
        x_name="Weekday",
        summary_total=False,
    )
    return stacked_columns(columns, options)


def overview_context(overview: UserOverview, rng: DateRange) -> dict[str, Any]:
    """Cards, tool usage, charts and model rows of the Overview tab."""
    summary = overview.summary
    tools = [t.tool for t in overview.tools]
    chart, weekly = _daily_chart(overview.daily, tools)
    total = summary.tokens
    models = [
        {
            "usage": m,
            "share": Fraction(m.tokens * 100, total) if total else Fraction(0),
            "bar": split_bar(
                [BarPart(m.tokens, tool_color(m.tool))],
                scale=m.tokens / total if total else 0,
                label=f"{tool_name(m.tool)}: {format_tokens(m.tokens)} tokens of {format_tokens(total)}",
            ),
        }
        for m in overview.models[:MODELS_SHOWN]
    ]
    legend = [
        (f"{tool_name(t.tool)}: {format_tokens(t.tokens)}", tool_color(t.tool), format_tokens_exact(t.tokens))
        for t in overview.tools
    ]
    return {
        "overview": overview,
        "summary": summary,
        "tokens_delta": delta(summary.tokens, summary.previous_tokens),
        "cost_delta": delta(summary.cost, summary.previous_cost),
        "tool_bar": split_bar(
            [
                BarPart(t.tokens, tool_color(t.tool), f"{tool_name(t.tool)}: {format_tokens(t.tokens)}")
                for t in overview.tools
            ],
            css_class="hbar hbar-lg",
            label="Tokens by tool: "
            + "; ".join(f"{tool_name(t.tool)} {format_tokens(t.tokens)}" for t in overview.tools),
        ),
        "daily_chart": chart,
        "weekly": weekly,
        "legend": legend,
        "models": models,
        "more_models": max(0, len(overview.models) - MODELS_SHOWN),
        "pattern_chart": _pattern_chart(overview.daily),
        "commits": overview.commits,
    }


async def raw_context(
    db: AsyncSession, email: str, rng: DateRange, page: int, tool_filter: str | None, model_filter: str | None
) -> dict[str, Any]:
    """The Raw Usage tab: validated filters, one page of rows, the filter options."""
    filters = await raw_usage_filters(db, email, rng)
    tool, model = raw_usage_filter(filters, tool_filter, model_filter)
    first = await raw_usage(
        db, email, rng, tool=tool, model=model, limit=RAW_PAGE_SIZE, offset=(page - 1) * RAW_PAGE_SIZE
    )
    pages = max(1, -(-first.total_count // RAW_PAGE_SIZE))
    raw = first
    if page > pages:  # past the end (e.g. an old link): show the last page
        page = pages
        raw = await raw_usage(
            db, email, rng, tool=tool, model=model, limit=RAW_PAGE_SIZE, offset=(page - 1) * RAW_PAGE_SIZE
        )
    return {
        "raw": raw,
        "filters": filters,
        "tool": tool,
        "model": model,
        "page": page,
        "pages": pages,
        "raw_keep": {**range_query(rng), "tab": "raw", "tool": tool, "model": model},
    }


@get("/users/{email:str}", name="user_detail", include_in_schema=False)
async def user_detail(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    email: str,
    user_match: NamedDependency[UserMatch],
    rng: NamedDependency[DateRange],
    page_number: NamedDependency[int],
    tab: str | None = None,
    tool: str | None = None,
    model: str | None = None,
) -> Template | Redirect:
    tab_key = one_of("tab", tab, ("overview", "raw"), "overview")
    who, candidates = user_match.email, user_match.candidates
    if who is None:
        if not candidates:
            raise NotFoundException("User not found")
        return render(
            request,
            "pages/user.html",
            {"candidates": candidates, "range_query": range_query(rng), "nav": "team", "email": email},
            status_code=404,
        )
    if who != email:
        query_string = request.url.query
        return Redirect(user_path(who) + (f"?{query_string}" if query_string else ""), status_code=301)
    lifetime = user_match.lifetime
    if lifetime is None or not lifetime.known:
        raise NotFoundException("User not found")
    context: dict[str, Any] = {**range_context(request, rng), "nav": "team", "email": who}
    body_key = await page_body_key(request, who, rng, tab_key, page_number, tool, model, context["today"])
    # the raw-usage table exists only on the raw tab: asked for on the overview, the page answers (not a 500)
    fragments = USER_FRAGMENTS if tab_key == "raw" else {k: v for k, v in USER_FRAGMENTS.items() if k != "raw-usage"}
    if has_page_body(request, USER_PAGE, body_key):  # the body is rendered already: the shell needs only the email
        return render(request, USER_PAGE, context, fragments=fragments, body_key=body_key)
    context.update(
        {
            "user_path": user_path(who),
            "tab": tab_key,
            "lifetime": lifetime,
            "tab_keep": {"tab": "raw"} if tab_key == "raw" else {},
        }
    )
    if tab_key == "raw":
        context.update(await raw_context(db, who, rng, page_number, tool, model))
        context["provisional"] = await provisional_marks(db, rng.start, rng.end, email=who)
    else:
        idle_after = request.app.state.settings.seats.idle_days
        overview, activity, seats, marks = await concurrently(  # independent reads, each on its own connection
            request.app.state.sessionmaker,
            lambda session: user_overview(session, who, rng),
            lambda session: activity_by_tool(session, rng, email=who),
            lambda session: seats_view(session, rng, idle_after_days=idle_after, email=who),
            lambda session: provisional_marks(session, rng.start, rng.end, email=who),
        )
        context.update(overview_context(overview, rng))
        context["activity"] = activity
        context["seats"] = seats.seats
        context["provisional"] = marks
    return render(request, USER_PAGE, context, fragments=fragments, body_key=body_key)

"""Glue from usage query results to SVG charts: the daily usage chart (with projection), the model chart and the
active-users-by-tool chart. Pure functions of plain data; the controllers pass `today`, `now` and the settings."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction

from markupsafe import Markup

from abacus.domain.formatting import (
    fmt_day,
    format_commit_count,
    format_count,
    format_money_exact,
    format_percent_int,
    format_tokens,
    format_tokens_exact,
)
from abacus.domain.modelnames import display_model_name
from abacus.domain.periods import ProjectedDay, has_projection, project_series
from abacus.domain.tools import model_color, tool_color, tool_name
from abacus.queries.usage import DailyUsage, ModelDaily, ModelRow, ToolTotals, ToolUsersSeries, UsageTotals
from abacus.web.charts import WIDE, WIDTH, BarPart, ChartOptions, Column, Segment, split_bar, stacked_columns

OTHER_COLOR = "#64748b"
MODEL_LEGEND_SIZE = 4
ESTIMATED_TEXT = "Estimated from historical average"


@dataclass(frozen=True)
class LegendItem:
    label: str
    color: str
    title: str = ""
    hatched: bool = False


@dataclass(frozen=True)
class ChartView:
    title: str
    svg: Markup
    legend: list[LegendItem]
    weekly: bool = False
    projected: bool = False
    more: list[str] = field(default_factory=list)
    """Legend entries beyond the first few ("+N more")."""
    empty: bool = False


def hours_of(now: datetime) -> float:
    """UTC hours + minutes / 60."""
    return now.hour + now.minute / 60


def projected_days(daily: DailyUsage, today: date, now: datetime, configured: set[str]) -> list[ProjectedDay]:
    """M-PROJ over the range's daily series (display only)."""
    values = {tool: daily.tokens[tool] for tool in daily.tools}
    return project_series(daily.days, values, daily.last_data, daily.history, today, hours_of(now), configured)


def _users(n: int) -> str:
    return f"{format_count(n)} user" if n == 1 else f"{format_count(n)} users"


def _people(n: int) -> str:
    return f"{format_count(n)} person" if n == 1 else f"{format_count(n)} people"


def _tool_legend(daily: DailyUsage) -> list[LegendItem]:
    return [
        LegendItem(
            f"{tool_name(t)}: {format_tokens(daily.tool_total(t))}",
            tool_color(t),
            f"{tool_name(t)}: {format_tokens_exact(daily.tool_total(t))}",
        )
        for t in daily.tools
    ]


def tool_legend(tools: Sequence[str]) -> list[tuple[str, str, str | None]]:
    """The legend of the tool colours under split bars (Top Users, Model Distribution, Team "Tools")."""
    return [(tool_name(t), tool_color(t), None) for t in tools]


def _tool_names(tools: Sequence[str]) -> dict[str, str]:
    return {t: tool_name(t) for t in tools}


def _cost_line(cost: Decimal) -> str:
    return f"Cost: {format_money_exact(cost)}"


def usage_chart(
    daily: DailyUsage, *, today: date, now: datetime, configured: set[str], trend: bool, width: int = WIDTH
) -> ChartView:
    """M-DAILY as stacked columns per tool: daily with hatched projections, weekly (actual sums) over 90 days."""
    legend = _tool_legend(daily)
    columns: list[Column] = []
    if daily.weekly:
        for monday, tokens, cost in daily.weeks():
            lines = [f"Week of {fmt_day(monday)}"]
            lines += [f"{tool_name(t)}: {format_tokens(tokens[t])}" for t in daily.tools if tokens[t]]
            lines.append(_cost_line(cost))
            columns.append(
                Column(
                    label=fmt_day(monday),
                    title="\n".join(lines),
                    segments=[Segment(t, tokens[t], tool_color(t)) for t in daily.tools],
                )
            )
        svg = stacked_columns(
            columns,
            ChartOptions(
                trend=trend,
                width=width,
                aria_label="Weekly tokens by tool",
                series_names=_tool_names(daily.tools),
                x_name="Week of",
            ),
        )
        return ChartView("Weekly Usage", svg, legend, weekly=True, empty=not daily.tools)

    series = projected_days(daily, today, now, configured)
    for i, point in enumerate(series):
        head = fmt_day(point.day) + (" (incomplete)" if point.incomplete else "")
        lines = [head]
        segments = []
        for tool in daily.tools:
            part = point.tools[tool]
            segments.append(
                Segment(tool, part.actual, tool_color(tool), projected=part.projected_extra, estimated=part.estimated)
            )
            if part.estimated:
                lines.append(f"{tool_name(tool)}: {format_tokens(part.shown)} ({ESTIMATED_TEXT})")
            elif part.extrapolated:
                lines.append(
                    f"{tool_name(tool)}: {format_tokens(part.actual)} +{format_tokens(part.projected_extra)} projected"
                )
            elif part.actual:
                lines.append(f"{tool_name(tool)}: {format_tokens(part.actual)}")
        lines.append(_cost_line(daily.cost[i]))
        columns.append(Column(label=fmt_day(point.day), segments=segments, title="\n".join(lines)))
    projected = has_projection(series)
    if projected:
        legend.append(
            LegendItem("Projected", OTHER_COLOR, "Projected / estimated, not included in totals", hatched=True)
        )
    svg = stacked_columns(
        columns,
        ChartOptions(
            trend=trend, width=width, aria_label="Daily tokens by tool", series_names=_tool_names(daily.tools)
        ),
    )
    return ChartView("Daily Usage", svg, legend, projected=projected, empty=not daily.tools)


def model_chart(models: ModelDaily, totals: dict[str, int], *, trend: bool) -> ChartView:
    """M-MODEL-TRENDS: the top models stacked per day (weekly over 90 days), colours by rank; other models are
    drawn as one grey "Other models" part so the bars and the trend line both use the day's total."""
    colors = {m: model_color(rank) for rank, m in enumerate(models.top)}
    names = {m: display_model_name(m) for m in models.top}
    other_total = sum(models.other)
    if models.weekly:
        points = [(monday, tokens, other, f"Week of {fmt_day(monday)}") for monday, tokens, other in models.weeks()]
    else:
        points = [
            (day, {m: models.tokens[m][i] for m in models.top}, models.other[i], fmt_day(day))
            for i, day in enumerate(models.days)
        ]
    columns = []
    for key, tokens, other, head in points:
        lines = [head] + [f"{names[m]}: {format_tokens(tokens[m])}" for m in models.top if tokens[m]]
        if other:
            lines.append(f"Other models: {format_tokens(other)}")
        segments = [Segment(m, tokens[m], colors[m]) for m in models.top]
        segments.append(Segment("__other", other, OTHER_COLOR))
        columns.append(Column(label=fmt_day(key), segments=segments, title="\n".join(lines)))
    legend_all = [
        LegendItem(names[m], colors[m], f"{names[m]}: {format_tokens_exact(totals.get(m, 0))}") for m in models.top
    ]
    if other_total:
        legend_all.append(LegendItem("Other models", OTHER_COLOR, f"Other models: {format_tokens_exact(other_total)}"))
    svg = stacked_columns(
        columns,
        ChartOptions(
            trend=trend,
            width=WIDE,
            aria_label="Weekly tokens by model" if models.weekly else "Daily tokens by model",
            series_names={**names, "__other": "Other models"},
            x_name="Week of" if models.weekly else "Day",
        ),
    )
    return ChartView(
        "Model Usage",
        svg,
        legend_all[:MODEL_LEGEND_SIZE],
        weekly=models.weekly,
        more=[item.label for item in legend_all[MODEL_LEGEND_SIZE:]],
        empty=not models.top,
    )


def tool_users_chart(series: ToolUsersSeries, tools: Sequence[ToolTotals]) -> ChartView:
    """M-TOOL-USERS-DAILY as grouped columns, one bar per tool side by side: a person using two tools is in two
    bars, so the bars are never stacked into a sum that counts people twice. The legend is M-USERS-TOOL over the
    whole range."""
    keys = [t.tool for t in tools if t.users > 0]
    unit = "week" if series.weekly else "day"
    columns = []
    for i, point in enumerate(series.points):
        head = f"Week of {fmt_day(point)}" if series.weekly else fmt_day(point)
        counts = {k: series.users.get(k, [0] * len(series.points))[i] for k in keys}
        lines = [head] + [f"{tool_name(k)}: {_people(counts[k])}" for k in keys if counts[k]]
        columns.append(
            Column(
                label=fmt_day(point),
                title="\n".join(lines),
                segments=[Segment(k, counts[k], tool_color(k)) for k in keys],
            )
        )
    summary = f"People active per {unit} by tool"
    if columns:
        summary += f", {columns[0].label}–{columns[-1].label}"
    peaks = []
    for k in keys:
        values: list[int] = series.users.get(k, [])
        top = max(values, default=0)
        if top > 0:
            peaks.append(f"{tool_name(k)} peak {_people(top)} on {columns[values.index(top)].label}")
    summary += ": " + ("; ".join(peaks) if peaks else "no data")
    legend = [
        LegendItem(f"{tool_name(t.tool)}: {_people(t.users)} in the range", tool_color(t.tool))
        for t in tools
        if t.users > 0
    ]
    svg = stacked_columns(
        columns,
        ChartOptions(
            height=180,
            width=WIDE,
            y_format=format_count,
            aria_label=f"People active per {unit} by tool",
            grouped=True,
            integer_axis=True,
            summary=summary,
            series_names=_tool_names(keys),
            x_name="Week of" if series.weekly else "Day",
        ),
    )
    return ChartView("Active Users by Tool", svg, legend, weekly=series.weekly, empty=not keys)


# --- horizontal split bars ------------------------------------------------------------------------------------


def _pct(part: int, whole: int) -> str:
    return format_percent_int(Fraction(part * 100, whole)) if whole else "0%"


def tool_split_bar(tools: Sequence[tuple[str, int]], *, scale: float = 1.0, large: bool = False) -> Markup:
    """A bar split by tool colour over (tool, tokens); titles "Claude Code: 1.2M (45%)" of the row's own total."""
    total = sum(tokens for _, tokens in tools)
    parts = [
        BarPart(tokens, tool_color(tool), f"{tool_name(tool)}: {format_tokens(tokens)} ({_pct(tokens, total)})")
        for tool, tokens in tools
    ]
    return split_bar(parts, scale=scale, css_class="hbar hbar-lg" if large else "hbar")


def share_bar(value: int, whole: int, color: str, title: str) -> Markup:
    """A one-colour bar filled to value / whole (distribution columns)."""
    scale = value / whole if whole else 0.0
    return split_bar([BarPart(value, color, title)], scale=scale)


@dataclass(frozen=True)
class PeopleRow:
    """One tool's line of the Tools card's People section: "Cursor · 26 of 37 people" and a bar filled to that
    share of everyone active."""

    tool: str
    name: str
    color: str
    text: str
    svg: Markup


@dataclass(frozen=True)
class ToolsCardBar:
    label: str
    svg: Markup
    items: list[LegendItem]
    rows: list[PeopleRow] = field(default_factory=list)
    """People: one row per tool (shares of people overlap, so they are never one split bar)."""


def people_rows(tools: Sequence[ToolTotals], users_total: int) -> list[PeopleRow]:
    """M-USERS-TOOL per tool as "x of N people" with its own bar (a person using two tools counts in both)."""
    rows = []
    for t in tools:
        if t.users <= 0:
            continue
        name = tool_name(t.tool)
        text = f"{format_count(t.users)} of {_people(users_total)}"
        title = f"{name}: {text} ({_pct(t.users, users_total)})"
        rows.append(
            PeopleRow(
                t.tool, name, tool_color(t.tool), text, share_bar(t.users, users_total, tool_color(t.tool), title)
            )
        )
    return rows


def tools_card(totals: UsageTotals, commits: Sequence[tuple[str, int]], ai_commits: int) -> list[ToolsCardBar]:
    """Dashboard "Tools" card: Tokens (M-TOOL-SHARE, one split bar: shares of tokens add up to 100 %), People
    (M-USERS-TOOL of M-USERS per tool, one bar each) and, when there are AI commits, Commits (M-COMMIT-TOOLS)."""
    tokens_total, users_total = totals.current.tokens, totals.current.users
    shown = [t for t in totals.tools if t.tokens > 0 or t.users > 0]
    token_items = [
        LegendItem(
            f"{tool_name(t.tool)} {_pct(t.tokens, tokens_total)}",
            tool_color(t.tool),
            f"{format_tokens(t.tokens)} tokens ({_pct(t.tokens, tokens_total)})",
        )
        for t in shown
    ]
    bars = [
        ToolsCardBar(
            "Tokens",
            split_bar(
                [
                    BarPart(t.tokens, tool_color(t.tool), f"{tool_name(t.tool)}: {i.title}")
                    for t, i in zip(shown, token_items, strict=True)
                ],
                css_class="hbar hbar-lg",
                label="Share of tokens by tool: "
                + "; ".join(f"{tool_name(t.tool)} {i.title}" for t, i in zip(shown, token_items, strict=True)),
            ),
            token_items,
        ),
        ToolsCardBar("People", Markup(""), [], rows=people_rows(shown, users_total)),
    ]
    if ai_commits > 0:
        commit_items = [
            LegendItem(
                f"{tool_name(tool)} {_pct(n, ai_commits)}",
                tool_color(tool),
                f"{format_commit_count(n)} commits ({_pct(n, ai_commits)})",
            )
            for tool, n in commits
        ]
        bars.append(
            ToolsCardBar(
                "AI commits",
                split_bar(
                    [
                        BarPart(n, tool_color(tool), f"{tool_name(tool)}: {i.title}")
                        for (tool, n), i in zip(commits, commit_items, strict=True)
                    ],
                    css_class="hbar hbar-lg",
                    label="Share of AI commits by tool: "
                    + "; ".join(
                        f"{tool_name(tool)} {i.title}" for (tool, _), i in zip(commits, commit_items, strict=True)
                    ),
                ),
                commit_items,
            )
        )
    return bars


@dataclass(frozen=True)
class ModelBarRow:
    model: str
    tokens: int
    cost: Decimal
    share: Fraction
    """Of M-TOKENS, in percent."""
    svg: Markup


def model_rows(models: Sequence[ModelRow], total_tokens: int, *, relative_to_top: bool) -> list[ModelBarRow]:
    """Model rows with a bar split by tool: width relative to the top model (M-MODEL-DIST) or full (table)."""
    top = models[0].tokens if models else 0
    rows = []
    for m in models:
        scale = (m.tokens / top if top else 0.0) if relative_to_top else 1.0
        rows.append(
            ModelBarRow(
                m.model,
                m.tokens,
                m.cost,
                m.share_of(total_tokens),
                tool_split_bar([(tool, tokens) for tool, tokens, _ in m.tools], scale=scale),
            )
        )
    return rows

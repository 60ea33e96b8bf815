"""Commit charts shared by the Commits and repository pages: tool split bars of AI commits and the daily chart."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from abacus.domain.formatting import fmt_day, format_commit_count
from abacus.domain.periods import should_bucket_weekly, weekly_buckets
from abacus.domain.tools import HUMAN_COLOR, HUMAN_NAME, tool_color, tool_name
from abacus.domain.usage import rate_percent
from abacus.queries.commits import DailyCommits, ToolCommits
from abacus.web.charts import WIDE, BarPart, ChartOptions, Column, Segment, split_bar, stacked_columns

HUMAN_KEY = "_human"


def tool_split_bar(tool_commits: dict[str, int], ai_commits: int, *, css_class: str = "hbar") -> Markup:
    """The split of AI commits by primary tool, with "Tool: N (P%)" hover titles."""
    parts = [
        BarPart(n, tool_color(tool), f"{tool_name(tool)}: {n:,} ({rate_percent(n, ai_commits)}%)")
        for tool, n in tool_commits.items()
    ]
    label = "AI commits by tool: " + "; ".join(p.title for p in parts) if parts else "No AI commits"
    return split_bar(parts, css_class=css_class, label=label)


def overall_split_bar(tools: list[ToolCommits], ai_commits: int) -> Markup:
    return tool_split_bar({t.tool: t.commits for t in tools}, ai_commits, css_class="hbar hbar-lg")


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
        segments = [Segment(k, int(values.get(k, 0)), HUMAN_COLOR if k == HUMAN_KEY else tool_color(k)) for k in keys]
        columns.append(Column(label=fmt_day(day), segments=segments, title="\n".join(lines)))
    svg = stacked_columns(
        columns,
        ChartOptions(
            height=200,
            width=WIDE,
            y_format=_axis_count,
            integer_axis=True,
            aria_label="Weekly commits, human and by AI tool" if weekly else "Daily commits, human and by AI tool",
            series_names={HUMAN_KEY: HUMAN_NAME, **{t: tool_name(t) for t in tools}},
            x_name="Week of" if weekly else "Day",
            empty_text="No commits in this range",
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

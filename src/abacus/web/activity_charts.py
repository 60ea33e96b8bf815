"""The Usage page's activity view (docs/metrics.md §10): lines added per tool and day, each column titled with the
day's acceptance rate per tool."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from markupsafe import Markup

from abacus.domain.activity import acceptance_rate
from abacus.domain.formatting import fmt_day, format_count, format_percent_1
from abacus.domain.periods import DateRange
from abacus.domain.tools import tool_color, tool_name
from abacus.queries.activity import DailyActivity
from abacus.web.charts import ChartOptions, Column, Segment, stacked_columns


def _rate_text(accepted: int, suggested: int) -> str:
    rate = acceptance_rate(accepted, suggested)
    return format_percent_1(rate * 100) if rate is not None else "—"


def activity_chart(daily: Sequence[DailyActivity], rng: DateRange, *, width: int) -> Markup:
    """One column per day of the range (days without rows are 0), a segment per tool of its lines added."""
    tools = sorted({d.tool for d in daily})
    by_day = {(d.date, d.tool): d for d in daily}
    columns = []
    day = rng.start
    while day <= rng.end:
        parts = [by_day[(day, tool)] for tool in tools if (day, tool) in by_day]
        title = "; ".join(
            f"{tool_name(p.tool)}: {format_count(p.lines_added)} lines, {_rate_text(p.accepted, p.suggested)} accepted"
            for p in parts
        )
        columns.append(
            Column(
                label=fmt_day(day),
                segments=[Segment(p.tool, float(p.lines_added), tool_color(p.tool)) for p in parts],
                title=f"{fmt_day(day)} — {title}" if title else f"{fmt_day(day)} — no activity",
            )
        )
        day += timedelta(days=1)
    options = ChartOptions(width=width, y_format=format_count, aria_label="Lines added per day by tool")
    return stacked_columns(columns, options)

"""What /budgets and GET /api/v1/budgets share: the month parameter and the burn chart (docs/metrics.md §12)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from abacus.domain.budgets import STATUS_LABELS, BudgetInputError, month_end, month_of, parse_month
from abacus.domain.formatting import format_money, format_money_exact
from abacus.domain.teams import TeamError, validate_slug
from abacus.services.budgets import BudgetFigures
from abacus.web.charts import BOTTOM, LEFT, RIGHT, TOP, WIDE, data_table, nice_max, svg_open, value_axis
from abacus.web.errors import BadParameter

WIDTH, HEIGHT = WIDE, 220  # a full-width card, like the other wide charts (text scales with the card)


def budget_month(raw: str | None, today: date) -> date:
    """`month=YYYY-MM` (the current UTC month when absent); anything else → 400 naming `month`."""
    if raw is None or raw == "":
        return month_of(today)
    if "\x00" in raw:
        raise BadParameter("month", "contains a NUL character")
    try:
        return parse_month(raw)
    except BudgetInputError:
        raise BadParameter("month", f"{raw[:20]!r} is not a month (YYYY-MM)") from None


def budget_team(raw: str | None, slugs: set[str]) -> str | None:
    """The `team=` filter: None when absent or empty; a malformed or unknown slug → 400 naming `team`."""
    if raw is None or not raw.strip():
        return None
    try:
        slug = validate_slug(raw)
    except TeamError as exc:
        raise BadParameter("team", str(exc)) from None
    if slug not in slugs:
        raise BadParameter("team", f"no team {slug!r}")
    return slug


def _money(value: Decimal) -> str:
    return format_money_exact(value)


def _axis_money(value: float) -> str:
    """An axis label: whole dollars under $1,000 ("$75", "$12.50" for a half step), compact above ("$2.5K")."""
    if value >= 1000:
        return format_money(value)
    return f"${value:,.0f}" if value == int(value) else f"${value:,.2f}"


def burn_chart(figures: BudgetFigures) -> Markup:
    """The month's cumulative spend by day (a line in the status's colour, a dot a day) against the budget (a dashed
    line labelled with its amount), and the forecast as a dotted line from the last day to the month's end; an SVG
    with a title, then a "Show data" table. The axis runs to a round value at or above the budget, the spend and the
    forecast, so whichever is largest stays on the chart; its labels are three evenly spaced values."""
    month = figures.month
    days = month_end(month).day
    amount = figures.amount_usd
    top = nice_max(float(max(amount, figures.forecast_usd, figures.spent_usd))) or 1.0
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: int) -> float:
        return LEFT + plot_w * (day - 1) / (days - 1)

    def y(value: Decimal | float) -> float:
        return TOP + plot_h - plot_h * float(value) / top

    summary = (
        f"Budget burn, {figures.name}, {month:%Y-%m}: spent {_money(figures.spent_usd)} of {_money(amount)}, "
        f"forecast {_money(figures.forecast_usd)} ({STATUS_LABELS[figures.status].lower()})"
    )
    parts = [svg_open("chart burn-chart", WIDTH, HEIGHT, summary)]
    parts.extend(value_axis(top, WIDTH, HEIGHT, _axis_money))
    for day in sorted({1, 8, 15, 22, days}):
        anchor = "start" if day == 1 else "end" if day == days else "middle"
        parts.append(f'<text x="{x(day):.1f}" y="{HEIGHT - 6}" text-anchor="{anchor}">{month:%b} {day}</text>')
    budget_y = y(amount)
    label_y = budget_y + 13 if budget_y - TOP < 14 else budget_y - 5  # below the line when it runs along the top
    parts.append(
        f'<line class="budget-line" x1="{LEFT}" y1="{budget_y:.1f}" x2="{WIDTH - RIGHT}" y2="{budget_y:.1f}">'
        f"<title>Budget {escape(_money(amount))}</title></line>"
        f'<text class="budget-label" x="{WIDTH - RIGHT}" y="{label_y:.1f}" text-anchor="end">'
        f"Budget {escape(_money(amount))}</text>"
    )
    status = f"status-{figures.status}"
    if figures.burn:
        last_day, last_value = figures.burn[-1]
        if last_day.day < days and figures.forecast_usd > last_value:
            parts.append(
                f'<line class="forecast-line {status}" x1="{x(last_day.day):.1f}" y1="{y(last_value):.1f}" '
                f'x2="{x(days):.1f}" y2="{y(figures.forecast_usd):.1f}">'
                f"<title>Forecast {escape(_money(figures.forecast_usd))} at the month's end</title></line>"
            )
        points = " ".join(f"{x(d.day):.1f},{y(v):.1f}" for d, v in figures.burn)
        parts.append(f'<polyline class="burn-line {status}" points="{points}"/>')
        parts.extend(
            f'<circle class="burn-dot {status}" cx="{x(d.day):.1f}" cy="{y(v):.1f}" r="3">'
            f"<title>{d:%b} {d.day}: {escape(_money(v))} spent so far</title></circle>"
            for d, v in figures.burn
        )
    parts.append("</svg></div>")
    rows = [[f"{d:%b} {d.day}", _money(v)] for d, v in figures.burn]
    rows.append([f"Forecast, {month:%b} {days}", _money(figures.forecast_usd)])
    rows.append(["Budget", _money(amount)])
    parts.append(data_table(f"Spend of {figures.name}, {month:%Y-%m}", ["Day", "Spent so far"], rows))
    return Markup("".join(parts))

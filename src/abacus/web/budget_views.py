"""What /budgets and GET /api/v1/budgets share: the month parameter and the burn chart (docs/metrics.md §12)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

from abacus.domain.budgets import STATUS_LABELS, BudgetInputError, month_end, month_of, parse_month
from abacus.domain.formatting import format_money_exact
from abacus.domain.teams import TeamError, validate_slug
from abacus.services.budgets import BudgetFigures
from abacus.web.charts import data_table
from abacus.web.errors import BadParameter

WIDTH, HEIGHT = 640, 200
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 12, 28


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


def burn_chart(figures: BudgetFigures) -> Markup:
    """The month's cumulative spend by day against the budget line, the forecast as a dashed line to the month's
    end; an SVG with a title and a "Show data" table."""
    month = figures.month
    days = month_end(month).day
    amount = figures.amount_usd
    top = max(amount, figures.forecast_usd, figures.spent_usd, Decimal(1)) * Decimal("1.1")
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: int) -> float:
        return LEFT + plot_w * (day - 0.5) / days

    def y(value: Decimal) -> float:
        return TOP + plot_h - plot_h * float(value / top)

    summary = (
        f"Budget burn, {figures.name}, {month:%Y-%m}: spent {_money(figures.spent_usd)} of {_money(amount)}, "
        f"forecast {_money(figures.forecast_usd)} ({STATUS_LABELS[figures.status].lower()})"
    )
    label = escape(summary)
    parts = [
        f'<svg class="chart burn-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{label}">'
        f"<title>{label}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}"/>',
    ]
    for value in (Decimal(0), amount / 2, amount):
        parts.append(
            f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{escape(_money(value))}</text>'
        )
    for day in sorted({1, 8, 15, 22, days}):
        parts.append(
            f'<text class="tick" x="{x(day):.1f}" y="{HEIGHT - 8}" text-anchor="middle">{month:%b} {day}</text>'
        )
    parts.append(
        f'<line class="budget-line" x1="{LEFT}" y1="{y(amount):.1f}" x2="{WIDTH - RIGHT}" y2="{y(amount):.1f}">'
        f"<title>Budget {escape(_money(amount))}</title></line>"
    )
    if figures.burn:
        points = " ".join(f"{x(d.day):.1f},{y(v):.1f}" for d, v in figures.burn)
        parts.append(
            f'<polyline class="burn-line status-{figures.status}" points="{points}">'
            f"<title>Spent {escape(_money(figures.spent_usd))}</title></polyline>"
        )
        last_day, last_value = figures.burn[-1]
        if last_day.day < days and figures.forecast_usd > last_value:
            parts.append(
                f'<line class="forecast-line" x1="{x(last_day.day):.1f}" y1="{y(last_value):.1f}" '
                f'x2="{x(days):.1f}" y2="{y(figures.forecast_usd):.1f}">'
                f"<title>Forecast {escape(_money(figures.forecast_usd))} at the month's end</title></line>"
            )
    parts.append("</svg>")
    rows = [[f"{d:%b} {d.day}", _money(v)] for d, v in figures.burn]
    rows.append([f"Forecast, {month:%b} {days}", _money(figures.forecast_usd)])
    rows.append(["Budget", _money(amount)])
    parts.append(data_table(f"Spend of {figures.name}, {month:%Y-%m}", ["Day", "Spent so far"], rows))
    return Markup("".join(parts))

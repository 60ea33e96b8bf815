"""The budget burn chart (web/budget_views.py: burn_chart): whatever is largest — the budget, the spend or the
forecast — stays on the chart, the axis labels are distinct and readable, the lines carry the status's class, and
the data table lists every day. Pure: figures in, SVG out."""

from __future__ import annotations

import itertools
import re
from datetime import date
from decimal import Decimal

import pytest
from lxml import html

from abacus.models import Budget
from abacus.services.budgets import BudgetFigures
from abacus.web.budget_views import HEIGHT, WIDTH, burn_chart
from abacus.web.charts import BOTTOM, TOP

D = Decimal
DEC = date(2026, 12, 1)


def figures(amount: str, burn: list[str], forecast: str, status: str, month: date = DEC) -> BudgetFigures:
    budget = Budget(id=1, scope="org", scope_id="", tool="all", amount_usd=D(amount), thresholds=[50, 80, 100])
    days = [(month.replace(day=i + 1), D(v)) for i, v in enumerate(burn)]
    spent = days[-1][1] if days else D(0)
    return BudgetFigures(
        budget=budget, name="Org · all tools", month=month, spent_usd=spent, forecast_usd=D(forecast), status=status,
        burn=days,
    )  # fmt: skip


def parse(markup: str) -> html.HtmlElement:
    return html.fragment_fromstring(f"<div>{markup}</div>")


def points(polyline: html.HtmlElement) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in polyline.get("points").split())]


CASES = {
    # the forecast far over a small budget (the demo's "over" budget): everything on the chart, labels apart
    "forecast over budget": figures("139", ["100", "200", "288.06"], "2664.90", "over"),
    "on track": figures("4564", ["80", "170", "247.11"], "2246.44", "on_track"),
    "at risk": figures("229", ["13", "27", "40.95"], "418.46", "at_risk"),
    "nothing spent yet": figures("500", [], "0", "on_track"),
    "spend equals the axis top": figures("100", ["50", "100"], "100", "over"),
    "a 28-day month, last day": figures("10", ["1"] * 28, "1", "on_track", month=date(2027, 2, 1)),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_everything_stays_inside_the_plot(case: str) -> None:
    chart = parse(burn_chart(CASES[case]))
    svg = chart.find(".//svg")
    assert svg.get("viewbox") == f"0 0 {WIDTH} {HEIGHT}"
    assert svg.get("role") == "img" and "Budget burn" in svg.get("aria-label")
    ys = [float(line.get("y1")) for line in svg.findall(".//line")] + [
        float(line.get("y2")) for line in svg.findall(".//line")
    ]
    ys += [float(c.get("cy")) for c in svg.findall(".//circle")]
    for line in svg.findall(".//polyline"):
        ys += [y for _, y in points(line)]
    assert all(TOP - 0.05 <= y <= HEIGHT - BOTTOM + 0.05 for y in ys), (case, ys)
    xs = [float(t.get("x")) for t in svg.findall(".//text")]
    assert all(0 <= x <= WIDTH for x in xs), xs


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_axis_labels_are_distinct_and_rise(case: str) -> None:
    svg = parse(burn_chart(CASES[case])).find(".//svg")
    axis = [t for t in svg.findall(".//text") if t.get("text-anchor") == "end" and "class" not in t.attrib]
    labels = [t.text for t in axis if t.text and t.text.startswith("$")]
    ys = [float(t.get("y")) for t in axis if t.text and t.text.startswith("$")]
    assert len(labels) == 3 and len(set(labels)) == 3, labels
    assert ys == sorted(ys, reverse=True), "the values rise up the axis"
    assert min(abs(a - b) for a, b in itertools.pairwise(ys)) >= 20, "labels drawn on top of each other"
    assert all(len(label) <= 7 for label in labels), labels  # fits the axis margin


def test_the_budget_line_is_labelled_and_the_lines_carry_the_status() -> None:
    svg = parse(burn_chart(CASES["forecast over budget"])).find(".//svg")
    budget = svg.find(".//line[@class='budget-line']")
    label = svg.find(".//text[@class='budget-label']")
    assert label.text == "Budget $139.00"
    assert abs(float(label.get("y")) - float(budget.get("y1"))) < 16
    burn = svg.find(".//polyline")
    assert "status-over" in burn.get("class").split()
    assert len(points(burn)) == 3 == len(svg.findall(".//circle"))
    forecast = svg.find(".//line[@class='forecast-line status-over']")
    assert forecast is not None and float(forecast.get("y2")) < float(budget.get("y1")), "forecast above the budget"
    assert [c.findtext("title") for c in svg.findall(".//circle")][-1] == "Dec 3: $288.06 spent so far"


def test_no_spend_draws_no_line_and_the_table_still_says_the_budget() -> None:
    chart = parse(burn_chart(CASES["nothing spent yet"]))
    assert chart.find(".//polyline") is None and chart.find(".//circle") is None
    rows = [[cell.text_content() for cell in row] for row in chart.findall(".//tbody/tr")]
    assert rows[-1] == ["Budget", "$500.00"]


def test_the_days_run_from_the_first_to_the_last_of_the_month() -> None:
    svg = parse(burn_chart(CASES["a 28-day month, last day"])).find(".//svg")
    day_labels = [t.text for t in svg.findall(".//text") if t.text and re.fullmatch(r"[A-Z][a-z]{2} \d+", t.text)]
    assert day_labels == ["Feb 1", "Feb 8", "Feb 15", "Feb 22", "Feb 28"]
    burn = points(svg.find(".//polyline"))
    assert burn[-1][0] == pytest.approx(WIDTH - 8, abs=0.1)  # the 28th at the plot's right edge

"""The SVG charts (web/charts.py): honest axes, accessible names, data tables, grouped bars, and tool vs model
colours (issue 11). Pure functions of plain data, so table-driven."""

from __future__ import annotations

import colorsys
import re

import pytest
from lxml import html

from abacus.domain.formatting import format_count
from abacus.domain.tools import KNOWN_TOOLS, MODEL_PALETTE, tool_color
from abacus.web.charts import (
    BarPart,
    ChartOptions,
    Column,
    Segment,
    chart_summary,
    nice_max,
    sparkline,
    split_bar,
    stacked_columns,
)


def parse(markup: str) -> html.HtmlElement:
    return html.fragment_fromstring(f"<div>{markup}</div>")


def columns(*totals: tuple[int, int]) -> list[Column]:
    return [
        Column(label=f"Nov {i + 1}", segments=[Segment("a", a, "#f59e0b"), Segment("b", b, "#06b6d4")])
        for i, (a, b) in enumerate(totals)
    ]


@pytest.mark.parametrize(
    ("value", "integer", "top"),
    [
        (0, False, 0),
        (0, True, 0),
        (1, True, 2),
        (3, True, 4),
        (5, True, 10),
        (37, True, 40),
        (37, False, 50),
        (73, False, 100),
        (1200, False, 2000),
        (240, False, 250),
    ],
)
def test_axis_top(value, integer, top):
    assert nice_max(value, integer=integer) == top


def axis_labels(svg: html.HtmlElement) -> list[str]:
    return [t.text for t in svg.findall(".//text") if t.get("text-anchor") == "end"]


def test_an_empty_chart_has_a_zero_axis_and_says_so():
    tree = parse(stacked_columns(columns((0, 0), (0, 0)), ChartOptions(y_format=format_count, aria_label="People")))
    svg = tree.find(".//svg")
    assert axis_labels(svg) == ["0"]  # never "1, 1, 0"
    assert "No data in this range" in svg.text_content()
    assert svg.get("aria-label") == "People, Nov 1–Nov 2: no data"


def test_a_count_axis_falls_on_whole_numbers():
    tree = parse(stacked_columns(columns((1, 0)), ChartOptions(y_format=format_count, integer_axis=True)))
    assert axis_labels(tree.find(".//svg")) == ["0", "1", "2"]


def test_summary_title_and_label_agree_and_name_total_and_peak():
    cols = columns((1000, 500), (3000, 0), (0, 0))
    tree = parse(stacked_columns(cols, ChartOptions(aria_label="Daily tokens by tool")))
    svg = tree.find(".//svg")
    assert svg.get("role") == "img"
    assert svg[0].tag == "title" and svg[0].text == svg.get("aria-label")
    assert svg.get("aria-label") == "Daily tokens by tool, Nov 1–Nov 3: total 5K, peak 3K on Nov 2"


def test_every_column_chart_has_its_numbers_in_a_show_data_table():
    cols = columns((1000, 500), (3000, 0))
    options = ChartOptions(aria_label="Daily tokens by tool", series_names={"a": "Claude Code", "b": "Cursor"})
    details = parse(stacked_columns(cols, options)).find("details")
    assert details.get("class") == "chart-data" and details.find("summary").text == "Show data"
    table = details.find(".//table")
    assert [th.text for th in table.findall(".//thead/tr/th")] == ["Day", "Claude Code", "Cursor", "Total"]
    rows = [[c.text_content() for c in tr] for tr in table.findall(".//tbody/tr")]
    assert rows == [["Nov 1", "1,000", "500", "1,500"], ["Nov 2", "3,000", "0", "3,000"]]  # exact, not "2K"


def test_projected_and_estimated_values_are_marked_in_the_table():
    cols = [
        Column("Nov 1", [Segment("a", 100, "#000", projected=50)]),
        Column("Nov 2", [Segment("a", 80, "#000", estimated=True)]),
    ]
    rows = parse(stacked_columns(cols)).findall(".//tbody/tr")
    assert [r[1].text for r in rows] == ["100 (+50 projected)", "80 (estimated)"]


def test_grouped_columns_stand_side_by_side_on_the_baseline_and_scale_to_the_largest_bar():
    cols = [Column("Nov 1", [Segment("a", 30, "#f59e0b"), Segment("b", 20, "#06b6d4")])]
    options = ChartOptions(height=180, grouped=True, integer_axis=True, y_format=format_count, aria_label="People")
    svg = parse(stacked_columns(cols, options)).find(".//svg")
    bars = [r for r in svg.iter("rect") if r.get("fill") in ("#f59e0b", "#06b6d4")]
    assert len(bars) == 2
    baseline = 180 - 22
    assert all(float(r.get("y")) + float(r.get("height")) == pytest.approx(baseline, abs=0.11) for r in bars)
    assert float(bars[0].get("x")) < float(bars[1].get("x"))
    assert axis_labels(svg)[-1] == "40"  # the largest bar (30), not the sum (50 → axis 100)
    assert "total" not in svg.get("aria-label")  # people per tool are not summed


def test_split_bar_is_named_by_its_parts_or_its_label():
    parts = [
        BarPart(3, "#f59e0b", "Claude Code: 3 (75%)"),
        BarPart(1, "#06b6d4", "Cursor: 1 (25%)"),
        BarPart(0, "#000"),
    ]
    svg = parse(split_bar(parts)).find(".//svg")
    assert svg.get("aria-label") == "Claude Code: 3 (75%); Cursor: 1 (25%)" == svg[0].text
    assert parse(split_bar(parts, label="Tokens by tool")).find(".//svg").get("aria-label") == "Tokens by tool"
    assert parse(split_bar([])).find(".//svg").get("aria-label") == "No data"


def test_sparkline_has_a_name():
    assert parse(sparkline([1, 5, 2], title="Daily tokens")).find(".//svg").get("aria-label") == "Daily tokens"
    assert parse(sparkline([1, 5000, 2])).find(".//svg").get("aria-label") == "Daily series, peak 5K"


def test_no_inline_styles():
    cols = columns((1000, 500), (0, 0))
    for markup in (
        stacked_columns(cols, ChartOptions(trend=True)),
        stacked_columns(cols, ChartOptions(grouped=True)),
        split_bar([BarPart(1, "#000", "x")]),
        sparkline([1, 2]),
    ):
        assert "style=" not in markup


def test_explicit_summary_wins():
    assert chart_summary(columns((1, 1)), ChartOptions(summary="Given")) == "Given"


def _hue(colour: str) -> tuple[float, float]:
    r, g, b = (int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, _l, s = colorsys.rgb_to_hls(r, g, b)
    return h * 360, s


@pytest.mark.parametrize("model_colour", MODEL_PALETTE)
def test_model_colours_are_not_tool_colours(model_colour):
    """Amber is Claude Code everywhere; no model is drawn in a tool's hue (the palettes are disjoint by ≥ 20°)."""
    assert re.fullmatch(r"#[0-9a-f]{6}", model_colour)
    hue, _ = _hue(model_colour)
    for tool in KNOWN_TOOLS:
        tool_hue, _ = _hue(tool_color(tool))
        distance = min(abs(hue - tool_hue), 360 - abs(hue - tool_hue))
        assert distance >= 20, (model_colour, tool)

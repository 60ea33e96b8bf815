"""Chart glue (web/usage_charts.py) over hand-made series: projection hatching and tooltips, legends, weekly mode."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from abacus.domain.periods import DateRange
from abacus.queries.usage import DailyUsage, ModelDaily, ToolTotals, ToolUsersSeries, UsageTotals
from abacus.web.usage_charts import model_chart, people_rows, tool_users_chart, tools_card, usage_chart

TODAY = date(2026, 3, 10)  # a Tuesday
NOW = datetime(2026, 3, 10, 18, 0, tzinfo=UTC)


def daily(
    days: int,
    tokens: dict[str, list[int]],
    *,
    last_data: dict[str, date | None] | None = None,
    history: dict[str, dict[date, int]] | None = None,
) -> DailyUsage:
    rng = DateRange(TODAY - timedelta(days=days - 1), TODAY)
    all_days = list(rng.iter_days())
    tools = sorted(tokens, key=lambda t: (-sum(tokens[t]), t))
    return DailyUsage(
        rng=rng,
        days=all_days,
        tools=tools,
        tokens=tokens,
        cost=[Decimal("1.5")] * days,
        history=history or {},
        last_data=last_data or dict.fromkeys(tokens, TODAY),
    )


def titles(svg: str) -> list[str]:
    """The hover titles of the bars: not the trend line's, nor the chart's own summary (its aria-label)."""
    own = set(re.findall(r'aria-label="(.*?)"', str(svg), re.S))
    return [
        t for t in re.findall(r"<title>(.*?)</title>", str(svg), re.S) if not t.startswith("Trend") and t not in own
    ]


def test_today_is_extrapolated_and_hatched():
    chart = usage_chart(
        daily(3, {"claude_code": [100, 200, 750_000]}), today=TODAY, now=NOW, configured={"claude_code"}, trend=False
    )
    last = titles(chart.svg)[-1].split("\n")
    assert last == ["Mar 10 (incomplete)", "Claude Code: 750K +250K projected", "Cost: $1.50"]
    assert chart.projected and chart.legend[-1].label == "Projected" and chart.legend[-1].hatched
    assert chart.legend[0].label == "Claude Code: 750K"  # legend totals are actual sums (100 + 200 + 750,000)
    assert chart.legend[0].title == "Claude Code: 750,300 tokens"
    assert 'fill="url(#hatch)"' in str(chart.svg)


def test_missing_late_day_is_estimated_from_history():
    # Cursor's data stops two days ago: yesterday and today are estimated from the 28 days before each.
    history = {"cursor": {TODAY - timedelta(days=d): 1000 for d in range(2, 40)}}
    chart = usage_chart(
        daily(
            5, {"cursor": [1000, 1000, 1000, 0, 0]}, last_data={"cursor": TODAY - timedelta(days=2)}, history=history
        ),
        today=TODAY,
        now=NOW,
        configured={"cursor"},
        trend=False,
    )
    lines = titles(chart.svg)
    assert lines[-2].split("\n")[1] == "Cursor: 1K (Estimated from historical average)"
    assert lines[-1].split("\n")[1] == "Cursor: 1K (Estimated from historical average)"
    assert lines[-2].startswith("Mar 9 (incomplete)")
    assert chart.legend[0].label == "Cursor: 3K"


def test_unconfigured_tools_and_early_hours_are_not_projected():
    series = daily(3, {"claude_code": [10, 20, 30], "codex": [5, 5, 5]})
    chart = usage_chart(series, today=TODAY, now=NOW, configured=set(), trend=False)
    assert not chart.projected and all(item.label != "Projected" for item in chart.legend)
    early = usage_chart(
        series, today=TODAY, now=NOW.replace(hour=0, minute=40), configured={"claude_code"}, trend=False
    )
    assert not early.projected
    assert titles(early.svg)[-1].split("\n")[:2] == ["Mar 10 (incomplete)", "Claude Code: 30"]


def test_weekly_mode_sums_actual_values_without_projection():
    days = 120
    chart = usage_chart(
        daily(days, {"claude_code": [1000] * days}), today=TODAY, now=NOW, configured={"claude_code"}, trend=True
    )
    assert chart.weekly and chart.title == "Weekly Usage" and not chart.projected
    weeks = titles(chart.svg)
    assert weeks[-1].split("\n") == ["Week of Mar 9", "Claude Code: 2K", "Cost: $3.00"]  # Mon + Tue, no projection
    assert len(weeks) == 18  # Mon Nov 10 … Mon Mar 9
    assert '<line class="trend"' in str(chart.svg)


@pytest.mark.parametrize(("trend", "drawn"), [(True, True), (False, False)])
def test_trend_toggle(trend, drawn):
    chart = usage_chart(daily(5, {"cursor": [1, 2, 3, 4, 5]}), today=TODAY, now=NOW, configured=set(), trend=trend)
    assert ('class="trend"' in str(chart.svg)) is drawn


def test_model_chart_legend_and_other_models():
    days = [TODAY - timedelta(days=1), TODAY]
    top = ["sonnet-4.5", "opus-4.5", "haiku-4.5", "gpt-5", "sonnet-4", "(default)"]
    series = ModelDaily(days=days, top=top, tokens={m: [10 * (6 - i), 0] for i, m in enumerate(top)}, other=[7, 0])
    chart = model_chart(series, {m: 10 * (6 - i) for i, m in enumerate(top)}, trend=False)
    assert [item.label for item in chart.legend] == ["Sonnet 4.5", "Opus 4.5", "Haiku 4.5", "gpt-5"]
    assert chart.more == ["Sonnet 4", "(default)", "Other models"]
    first = titles(chart.svg)[0].split("\n")
    assert first[0] == "Mar 9" and first[1] == "Sonnet 4.5: 60" and first[-1] == "Other models: 7"
    assert titles(chart.svg)[1] == "Mar 10"


def test_tool_users_chart_legend_counts_whole_range():
    series = ToolUsersSeries(
        points=[TODAY - timedelta(days=1), TODAY], weekly=False, users={"claude_code": [2, 3], "cursor": [1, 0]}
    )
    tools = [
        ToolTotals("claude_code", 100, Decimal(1), 4, 100),
        ToolTotals("cursor", 50, Decimal(1), 1, 50),
        ToolTotals("codex", 0, Decimal(0), 0, 0),
    ]
    chart = tool_users_chart(series, tools)
    assert [item.label for item in chart.legend] == [
        "Claude Code: 4 people in the range",
        "Cursor: 1 person in the range",
    ]
    assert titles(chart.svg)[0].split("\n") == ["Mar 9", "Claude Code: 2 people", "Cursor: 1 person"]


def test_tools_card_titles_and_commit_bar():
    rng = DateRange(TODAY, TODAY)
    from abacus.queries.usage import PeriodTotals

    totals = UsageTotals(
        rng,
        PeriodTotals(tokens=2_000_000, users=4),
        PeriodTotals(),
        [ToolTotals("claude_code", 1_500_000, Decimal(1), 4, 0), ToolTotals("cursor", 500_000, Decimal(1), 1, 0)],
    )
    bars = tools_card(totals, [("claude_code", 30), ("cursor", 20)], 50)
    assert [b.label for b in bars] == ["Tokens", "People", "AI commits"]
    assert [i.title for i in bars[0].items] == ["1.5M tokens (75%)", "500K tokens (25%)"]
    assert bars[1].items == []  # people are not a share: one "x of N people" row per tool instead (people_rows)
    assert [i.title for i in bars[2].items] == ["30 commits (60%)", "20 commits (40%)"]
    assert "<title>Claude Code: 1.5M tokens (75%)</title>" in str(bars[0].svg)
    assert len(tools_card(totals, [], 0)) == 2  # no AI commits → no commits bar


def test_people_rows_count_each_tool_against_everyone():
    tools = [ToolTotals("claude_code", 1_500_000, Decimal(1), 4, 0), ToolTotals("cursor", 500_000, Decimal(1), 1, 0)]
    rows = people_rows(tools, 4)
    assert [(r.name, r.text) for r in rows] == [("Claude Code", "4 of 4 people"), ("Cursor", "1 of 4 people")]
    assert 'width="25.00"' in str(rows[1].svg)  # 1 of 4, not Cursor's share of a 100 % bar

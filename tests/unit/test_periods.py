"""metrics.md §0.4, §0.5, §2, §4 and pages.md §1.1: ranges, deltas, buckets, trend line, projection, percentile."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abacus.domain.periods import (
    DateRange,
    Delta,
    RangeError,
    ToolDay,
    delta,
    has_projection,
    historical_average,
    parse_range,
    percentile,
    project_series,
    projection_history_window,
    quick_ranges,
    rate_delta,
    round_half_up,
    should_bucket_weekly,
    trend_line,
    week_start,
    weekly_buckets,
)

TODAY = date(2026, 1, 10)  # a Saturday


def d(text: str) -> date:
    return date.fromisoformat(text)


# --- parse_range ----------------------------------------------------------------------------------------------

VALID_RANGES = [
    pytest.param({}, "2025-12-12", "2026-01-10", "30d", id="default 30d"),
    pytest.param({"range": "7d"}, "2026-01-04", "2026-01-10", "7d", id="7d"),
    pytest.param({"range": "30d"}, "2025-12-12", "2026-01-10", "30d", id="30d"),
    pytest.param({"range": "90d"}, "2025-10-13", "2026-01-10", "90d", id="90d"),
    pytest.param({"range": "1y"}, "2025-01-11", "2026-01-10", "1y", id="1y is 365 days"),
    pytest.param({"days": "30"}, "2025-12-12", "2026-01-10", "30d", id="days alias of a preset"),
    pytest.param({"days": "1"}, "2026-01-10", "2026-01-10", None, id="days=1 is today"),
    pytest.param({"days": "14"}, "2025-12-28", "2026-01-10", None, id="days=14 custom length"),
    pytest.param({"range": "7d", "days": "90"}, "2026-01-04", "2026-01-10", "7d", id="range wins over days"),
    pytest.param({"start": "2026-01-01", "end": "2026-01-07"}, "2026-01-01", "2026-01-07", None, id="custom"),
    pytest.param(
        {"start": "2026-01-01", "end": "2026-01-07", "range": "90d"},
        "2026-01-01",
        "2026-01-07",
        None,
        id="start+end win over range",
    ),
    pytest.param(
        {"start": "2026-01-01", "end": "2026-01-07", "range": "bogus"},
        "2026-01-01",
        "2026-01-07",
        None,
        id="ignored bad range",
    ),
    pytest.param({"start": "2026-01-05", "end": "2026-01-05"}, "2026-01-05", "2026-01-05", None, id="one day"),
    pytest.param({"start": "2026-01-01", "end": "2026-03-01"}, "2026-01-01", "2026-01-10", None, id="end clamped"),
    pytest.param({"start": "2019-06-01", "end": "2020-01-31"}, "2020-01-01", "2020-01-31", None, id="start clamped"),
    pytest.param(
        {"start": "2027-01-01", "end": "2027-02-01"},
        "2026-01-10",
        "2026-01-10",
        None,
        id="future range clamps to today",
    ),
    pytest.param(
        {"start": "2018-01-01", "end": "2018-02-01"},
        "2020-01-01",
        "2020-01-01",
        None,
        id="ancient range clamps to 2020-01-01",
    ),
    pytest.param({"start": "", "end": "", "range": "7d"}, "2026-01-04", "2026-01-10", "7d", id="empty form fields"),
    pytest.param({"start": "2024-02-29", "end": "2024-03-01"}, "2024-02-29", "2024-03-01", None, id="leap day"),
]


@pytest.mark.parametrize(("params", "start", "end", "preset"), VALID_RANGES)
def test_parse_range(params, start, end, preset):
    parsed = parse_range(params, TODAY)
    assert parsed == DateRange(d(start), d(end))
    assert parsed.preset == preset


INVALID_RANGES = [
    pytest.param({"start": "2026-01-01"}, "end", id="start without end names end"),
    pytest.param({"end": "2026-01-01"}, "start", id="end without start names start"),
    pytest.param({"start": "2026-02-30", "end": "2026-03-01"}, "start", id="not a real date"),
    pytest.param({"start": "2026-01-01", "end": "2026-13-01"}, "end", id="month 13"),
    pytest.param({"start": "2026/01/01", "end": "2026-01-02"}, "start", id="wrong separator"),
    pytest.param({"start": "20260101", "end": "2026-01-02"}, "start", id="basic iso format refused"),
    pytest.param({"start": "2026-01-01", "end": "yesterday"}, "end", id="word"),
    pytest.param({"start": "2026-01-08", "end": "2026-01-07"}, "start", id="start after end"),
    pytest.param({"range": "14d"}, "range", id="unknown preset"),
    pytest.param({"range": "7D"}, "range", id="preset is case-sensitive"),
    pytest.param({"days": "0"}, "days", id="days 0"),
    pytest.param({"days": "3651"}, "days", id="days too many"),
    pytest.param({"days": "-5"}, "days", id="negative days"),
    pytest.param({"days": "7.5"}, "days", id="fractional days"),
    pytest.param({"days": "abc"}, "days", id="days not a number"),
]


@pytest.mark.parametrize(("params", "param"), INVALID_RANGES)
def test_parse_range_rejects(params, param):
    with pytest.raises(RangeError) as caught:
        parse_range(params, TODAY)
    assert caught.value.param == param
    assert isinstance(caught.value, ValueError)
    assert str(caught.value)


def test_days_upper_bound_is_accepted():
    assert parse_range({"days": "3650"}, TODAY).days == 3650


# --- DateRange ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "label"),
    [
        ("2026-01-01", "2026-01-15", "Jan 1 – 15"),
        ("2025-11-06", "2025-12-04", "Nov 6 – Dec 4"),
        ("2025-12-06", "2026-01-04", "Dec 6, 2025 – Jan 4, 2026"),
        ("2026-01-05", "2026-01-05", "Jan 5"),
        ("2025-01-05", "2026-01-05", "Jan 5, 2025 – Jan 5, 2026"),
    ],
)
def test_label(start, end, label):
    assert DateRange(d(start), d(end)).label() == label


@pytest.mark.parametrize(
    ("start", "end", "prev_start", "prev_end"),
    [
        ("2026-01-01", "2026-01-07", "2025-12-25", "2025-12-31"),
        ("2026-03-01", "2026-03-01", "2026-02-28", "2026-02-28"),
        ("2026-01-01", "2026-01-15", "2025-12-17", "2025-12-31"),  # "This Month" on the 15th: 15 days before the 1st
        ("2024-03-01", "2024-03-31", "2024-01-30", "2024-02-29"),
    ],
)
def test_previous_period(start, end, prev_start, prev_end):
    assert DateRange(d(start), d(end)).previous() == DateRange(d(prev_start), d(prev_end))


def test_days_tag_and_iteration():
    rng = DateRange(d("2025-12-30"), d("2026-01-02"))
    assert rng.days == 4
    assert rng.tag == "4d"
    assert list(rng.iter_days()) == [d("2025-12-30"), d("2025-12-31"), d("2026-01-01"), d("2026-01-02")]
    assert d("2026-01-01") in rng
    assert d("2026-01-03") not in rng


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        (datetime(2026, 1, 1, 0, 0, 0, tzinfo=UTC), True),
        (datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC), False),
        (datetime(2026, 1, 7, 23, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 1, 8, 0, 0, 0, tzinfo=UTC), False),
    ],
)
def test_commit_bounds(moment, inside):
    lower, upper = DateRange(d("2026-01-01"), d("2026-01-07")).commit_bounds()
    assert (lower <= moment < upper) is inside
    assert lower.tzinfo is UTC


def test_start_after_end_is_not_a_range():
    with pytest.raises(ValueError):
        DateRange(d("2026-01-02"), d("2026-01-01"))


def test_query_params_round_trip():
    preset = parse_range({"range": "90d"}, TODAY)
    custom = parse_range({"start": "2026-01-01", "end": "2026-01-07"}, TODAY)
    assert preset.query_params() == {"range": "90d"}
    assert custom.query_params() == {"start": "2026-01-01", "end": "2026-01-07"}
    assert parse_range(custom.query_params(), TODAY) == custom
    assert custom.is_custom and not preset.is_custom


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (
            date(2026, 1, 10),
            [
                ("This Week", "2026-01-05", "2026-01-10"),
                ("This Month", "2026-01-01", "2026-01-10"),
                ("Last Month", "2025-12-01", "2025-12-31"),
                ("This Year", "2026-01-01", "2026-01-10"),
                ("All Time", "2020-01-01", "2026-01-10"),
            ],
        ),
        (
            date(2024, 3, 4),  # a Monday in a leap year
            [
                ("This Week", "2024-03-04", "2024-03-04"),
                ("This Month", "2024-03-01", "2024-03-04"),
                ("Last Month", "2024-02-01", "2024-02-29"),
                ("This Year", "2024-01-01", "2024-03-04"),
                ("All Time", "2020-01-01", "2024-03-04"),
            ],
        ),
    ],
    ids=["saturday in january", "monday in march"],
)
def test_quick_ranges(today, expected):
    got = [(label, rng.start.isoformat(), rng.end.isoformat()) for label, rng in quick_ranges(today)]
    assert got == expected


# --- deltas ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cur", "prev", "text"),
    [
        (500, 0, None),
        (0, 0, None),
        (1025, 1000, None),
        (975, 1000, None),
        (1030, 1000, "↑ 3%"),
        (970, 1000, "↓ 3%"),
        (1150, 1000, "↑ 15%"),
        (1, 3, "↓ 66.7%"),
        (2, 3, "↓ 33.3%"),
        (1125, 1000, "↑ 12.5%"),
        (960, 1000, "↓ 4%"),
        (0, 1000, "↓ 100%"),
        (3000, 1000, "↑ 200%"),
        (Decimal("12.50"), Decimal("10.00"), "↑ 25%"),
        (1.5, 1.0, "↑ 50%"),
        (100049, 100000, None),
        (103_049, 100_000, "↑ 3%"),
        (103_050, 100_000, "↑ 3.1%"),
    ],
)
def test_delta(cur, prev, text):
    result = delta(cur, prev)
    if text is None:
        assert result is None
    else:
        assert result is not None and result.text == text
        assert result.up is text.startswith("↑")


def test_delta_value_is_signed_and_rounded():
    assert delta(1, 3) == Delta(value=Decimal("-66.7"), up=False, unit="%")


@pytest.mark.parametrize(
    ("cur", "prev", "text"),
    [
        ((12, 60), (10, 40), "↓ 5 pp"),
        ((15, 60), (12, 60), "↑ 5 pp"),
        ((1, 3), (0, 3), "↑ 33.3 pp"),
        ((50, 200), (49, 200), None),  # 0.5 pp
        ((50, 100), (49, 100), "↑ 1 pp"),
        ((5, 10), (0, 0), None),  # previous period had no commits
        ((0, 0), (1, 4), "↓ 25 pp"),
        ((20, 100), (25, 100), "↓ 5 pp"),  # the reference would show "↓ 20%"
    ],
)
def test_rate_delta(cur, prev, text):
    result = rate_delta(*cur, *prev)
    assert (result.text if result else None) == text


# --- weekly buckets -------------------------------------------------------------------------------------------


def test_weekly_buckets_start_on_monday_and_sum_numbers():
    days = [d("2026-01-01") + timedelta(days=i) for i in range(12)]  # Thu 1 Jan .. Mon 12 Jan
    points = [(day, {"claude_code": 10, "cost": Decimal("0.5"), "incomplete": True, "label": "x"}) for day in days]
    weeks = weekly_buckets(points)
    assert [monday for monday, _ in weeks] == [d("2025-12-29"), d("2026-01-05"), d("2026-01-12")]
    assert weeks[0][1] == {"claude_code": 40, "cost": Decimal("2.0")}  # partial first week: Thu..Sun
    assert weeks[1][1] == {"claude_code": 70, "cost": Decimal("3.5")}
    assert weeks[2][1] == {"claude_code": 10, "cost": Decimal("0.5")}


def test_weekly_buckets_fill_missing_fields_with_zero():
    weeks = weekly_buckets([(d("2026-01-05"), {"cursor": 5}), (d("2026-01-12"), {"codex": 2})])
    assert weeks == [(d("2026-01-05"), {"cursor": 5, "codex": 0}), (d("2026-01-12"), {"cursor": 0, "codex": 2})]


@pytest.mark.parametrize(("points", "weekly"), [(7, False), (90, False), (91, True), (365, True)])
def test_weekly_only_over_90_points(points, weekly):
    assert should_bucket_weekly(points) is weekly


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_week_start_is_the_monday_on_or_before(day):
    monday = week_start(day)
    assert monday.weekday() == 0
    assert 0 <= (day - monday).days < 7


# --- trend line -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ([], None),
        ([5], None),
        ([0, 0, 0], None),
        ([0, 0, 7], None),  # m = 1
        ([1, 2, 3], (0.0, 1.0, 1.0, 3.0)),
        ([5, 5], (0.0, 5.0, 1.0, 5.0)),
        ([0, 0, 1, 2, 3], (0.5, 1.0, 1.0, 3.0)),
        ([0, 4, 0, 0], (1 / 3, 10 / 3, 1.0, 0.0)),  # fitted end is negative → clamped to 0
        ([10, 0, 0, 0, 0], (0.0, 6.0, 1.0, 0.0)),
    ],
)
def test_trend_line(values, line):
    got = trend_line(values)
    if line is None:
        assert got is None
    else:
        assert got == pytest.approx(line)


# --- projection (M-PROJ) --------------------------------------------------------------------------------------

CC = "claude_code"
CURSOR = "cursor"


def series(start: str, n: int) -> list[date]:
    return [d(start) + timedelta(days=i) for i in range(n)]


def test_today_is_extrapolated_from_the_hours_elapsed():
    days = series("2026-01-08", 3)
    out = project_series(days, {CC: [900, 800, 750_000]}, {CC: d("2026-01-10")}, {}, TODAY, 18.0, {CC})
    assert out[-1].tools[CC] == ToolDay(actual=750_000, projected_extra=250_000)
    assert out[-1].tools[CC].shown == 1_000_000 and out[-1].tools[CC].extrapolated
    assert out[-1].incomplete
    assert [day.incomplete for day in out[:2]] == [False, False]
    assert has_projection(out)


def test_too_early_today_is_incomplete_and_unchanged():
    out = project_series([TODAY], {CC: [5_000]}, {CC: TODAY}, {}, TODAY, 0 + 40 / 60, {CC})
    assert out[0].incomplete
    assert out[0].tools[CC] == ToolDay(actual=5_000)
    assert not has_projection(out)


def test_today_without_data_uses_same_weekday_average():
    # Saturdays with data in the 28 days before today: Jan 3 and Dec 27; the Friday does not count.
    history = {CC: {d("2026-01-03"): 300, d("2025-12-27"): 500, d("2026-01-09"): 10_000}}
    out = project_series([TODAY], {CC: [0]}, {CC: d("2026-01-09")}, history, TODAY, 12.0, {CC})
    assert out[0].tools[CC] == ToolDay(actual=0, projected_extra=400, estimated=True)


def test_estimated_day_uses_its_own_weekday_not_todays():
    # Jan 9 (Friday) is late for Claude Code; Fridays Jan 2 and Dec 26 average 60; Saturday values must not count.
    history = {CC: {d("2026-01-02"): 50, d("2025-12-26"): 70, d("2026-01-03"): 9_999, d("2025-12-27"): 9_999}}
    days = series("2026-01-08", 3)
    out = project_series(days, {CC: [100, 0, 0]}, {CC: d("2026-01-08")}, history, TODAY, 0.5, {CC})
    assert out[1].tools[CC] == ToolDay(actual=0, projected_extra=60, estimated=True)
    assert out[1].incomplete
    assert out[2].tools[CC] == ToolDay(actual=0)  # today, too early: unchanged


def test_fewer_than_two_same_weekday_days_falls_back_to_all_complete_days():
    history = {CC: {d("2026-01-02"): 90, d("2026-01-05"): 30, d("2026-01-06"): 0}}
    days = series("2026-01-08", 2)
    out = project_series(days, {CC: [0, 0]}, {CC: d("2026-01-07")}, history, TODAY, 5.0, {CC})
    # Jan 8 (Thursday) has no Thursdays in history: mean of 90 and 30 (the zero day is not a sample).
    assert out[0].tools[CC] == ToolDay(actual=0, projected_extra=60, estimated=True)


def test_history_window_is_the_28_days_before_the_estimated_day_not_the_range():
    history = {CC: {d("2025-12-12"): 1_000_000, d("2025-12-13"): 40, d("2026-01-03"): 60}}
    out = project_series([TODAY], {CC: [0]}, {CC: d("2026-01-09")}, history, TODAY, 6.0, {CC})
    # Dec 12 is 29 days before Jan 10: outside the window. Saturdays Dec 13 and Jan 3 → 50.
    assert out[0].tools[CC].projected_extra == 50
    # The same day is estimated the same way whatever range it is drawn in.
    wider = project_series(series("2026-01-04", 7), {CC: [0] * 7}, {CC: d("2026-01-09")}, history, TODAY, 6.0, {CC})
    assert wider[-1].tools[CC] == out[0].tools[CC]


def test_history_falls_back_to_the_series_values():
    days = series("2025-12-27", 15)  # Sat Dec 27 .. Sat Jan 10
    values = [0] * 15
    values[0], values[7] = 200, 400  # Saturdays Dec 27 and Jan 3
    out = project_series(days, {CC: values}, {CC: d("2026-01-09")}, {}, TODAY, 2.0, {CC})
    assert out[-1].tools[CC] == ToolDay(actual=0, projected_extra=300, estimated=True)


def test_late_day_with_data_is_left_as_is():
    days = series("2026-01-08", 3)
    history = {CC: {d("2026-01-02"): 50, d("2025-12-26"): 70}}
    out = project_series(days, {CC: [100, 20, 0]}, {CC: d("2026-01-08")}, history, TODAY, 0.2, {CC})
    assert out[1].incomplete
    assert out[1].tools[CC] == ToolDay(actual=20)


def test_days_after_today_are_never_projected():
    days = series("2026-01-10", 3)
    history = {CC: {d("2026-01-03"): 100, d("2026-01-04"): 100, d("2026-01-05"): 100}}
    out = project_series(days, {CC: [0, 0, 0]}, {CC: d("2026-01-09")}, history, TODAY, 10.0, {CC})
    assert out[0].tools[CC].estimated
    assert [day.tools[CC] for day in out[1:]] == [ToolDay(actual=0), ToolDay(actual=0)]


def test_only_configured_tools_with_data_are_projected():
    days = series("2026-01-09", 2)
    values = {CC: [0, 0], CURSOR: [0, 300], "codex": [0, 0]}
    last = {CC: d("2026-01-08"), CURSOR: None, "codex": d("2026-01-01")}
    history = {CC: {d("2026-01-02"): 80}, "codex": {d("2025-12-30"): 90}}
    out = project_series(days, values, last, history, TODAY, 12.0, {CC, CURSOR})
    assert out[0].incomplete  # Jan 9 > L(claude_code)
    assert out[0].tools[CC].estimated and out[0].tools[CC].projected_extra == 80
    assert out[1].tools[CURSOR] == ToolDay(actual=300)  # no L_t: not projected, even today
    assert out[0].tools["codex"] == ToolDay(actual=0)  # not configured


def test_nothing_configured_marks_only_today():
    days = series("2026-01-09", 2)
    out = project_series(days, {CC: [1, 2]}, {CC: d("2026-01-01")}, {}, TODAY, 12.0, set())
    assert [day.incomplete for day in out] == [False, True]
    assert not has_projection(out)


def test_history_window_covers_28_days_before_the_range():
    window = projection_history_window(series("2026-01-01", 10))
    assert window == DateRange(d("2025-12-04"), d("2026-01-10"))


def test_historical_average_ignores_today_and_days_after_last_data():
    values = {d("2026-01-09"): 100, d("2026-01-08"): 50, TODAY: 7}
    assert historical_average(values, d("2026-01-11"), d("2026-01-08"), TODAY) == 50
    assert historical_average({}, TODAY, d("2026-01-09"), TODAY) == 0


# --- percentile, rounding -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "user", "expected"),
    [
        ({"a": 10, "b": 8, "c": 8, "d": 2}, "b", 67),
        ({"a": 10, "b": 8, "c": 8, "d": 2}, "c", 67),
        ({"a": 10, "b": 8, "c": 8, "d": 2}, "a", 100),
        ({"a": 10, "b": 8, "c": 8, "d": 2}, "d", 0),
        ({}, "a", 50),
        ({"b": 5}, "a", 0),
        ({"a": 5}, "a", 100),
        ({"a": 5, "b": 5}, "a", 100),
        ({"a": 1.5, "b": 2.5, "c": 3.5}, "b", 50),
    ],
)
def test_percentile(scores, user, expected):
    assert percentile(scores, user) == expected


@pytest.mark.parametrize(
    ("x", "rounded"),
    [
        (0.5, 1),
        (1.5, 2),
        (2.5, 3),
        (2.4999, 2),
        (-2.5, -2),
        (-2.6, -3),
        (Decimal("66.5"), 67),
        (Fraction(200, 3), 67),
        (3000, 3000),
        (0.49999999999999994, 0),
    ],
)
def test_round_half_up(x, rounded):
    assert round_half_up(x) == rounded


# --- properties -----------------------------------------------------------------------------------------------

days_2015_2035 = st.dates(min_value=date(2015, 1, 1), max_value=date(2035, 12, 31))


@given(days_2015_2035, st.integers(min_value=0, max_value=4000))
def test_previous_has_the_same_length_and_ends_the_day_before(start, extra):
    rng = DateRange(start, start + timedelta(days=extra))
    prev = rng.previous()
    assert prev.days == rng.days
    assert prev.end == rng.start - timedelta(days=1)


@given(
    today=st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31)),
    start=st.one_of(days_2015_2035.map(date.isoformat), st.text(max_size=12), st.none()),
    end=st.one_of(days_2015_2035.map(date.isoformat), st.text(max_size=12), st.none()),
    preset=st.one_of(st.sampled_from(["7d", "30d", "90d", "1y", "2w", ""]), st.none()),
    days=st.one_of(st.integers(min_value=-5, max_value=4000).map(str), st.none()),
)
def test_parse_range_never_returns_an_inverted_or_future_range(today, start, end, preset, days):
    params = {
        key: value
        for key, value in {"start": start, "end": end, "range": preset, "days": days}.items()
        if value is not None
    }
    try:
        rng = parse_range(params, today)
    except RangeError as error:
        assert error.param in {"start", "end", "range", "days"}
        return
    assert rng.start <= rng.end <= today
    assert rng.days >= 1

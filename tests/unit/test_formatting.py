"""metrics.md §8 display formats, with the unit-promotion correction."""

import math
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from abacus.domain.formatting import (
    counted,
    fmt_commit_ts,
    fmt_day,
    fmt_day_year,
    fmt_iso_day,
    fmt_since,
    fmt_status_date,
    fmt_status_ts,
    for_count,
    format_commit_count,
    format_count,
    format_money,
    format_money_exact,
    format_percent_1,
    format_percent_int,
    format_tokens,
    format_tokens_exact,
)


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "0"),
        (950, "950"),
        (999, "999"),
        (1_000, "1K"),
        (1_499, "1K"),
        (1_500, "2K"),
        (15_400, "15K"),
        (999_499, "999K"),
        (999_600, "1.0M"),  # correction: the reference prints "1000K"
        (1_000_000, "1.0M"),
        (663_000_000, "663.0M"),
        (999_960_000, "1.0B"),  # correction: the reference prints "1000.0M"
        (2_512_000_000, "2.5B"),
        (1_200_000_000_000, "1.2T"),
        (3_000_000_000_000_000, "3.0Q"),
        (4_500_000_000_000_000_000, "4.5Qi"),
        (999_960_000_000_000_000_000, "999Qi+"),
        (10**21, "999Qi+"),
        (-1_500_000, "-1.5M"),
        (-950, "-950"),
        (Decimal("15400"), "15K"),
        (15_400.0, "15K"),
        (float("nan"), "0"),
        (float("inf"), "0"),
        (0.4, "0"),
    ],
)
def test_format_tokens(n, text):
    assert format_tokens(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (0, "$0.00"),
        (0.5, "$0.50"),
        (12.3, "$12.30"),
        (999.99, "$999.99"),
        (999.994, "$999.99"),
        (999.995, "$1.0K"),  # correction: would read "$1000.00"
        (26_600, "$26.6K"),
        (26_640, "$26.6K"),
        (103_000, "$103.0K"),
        (999_960, "$1.0M"),
        (2_500_000, "$2.5M"),
        (7_100_000_000, "$7.1B"),
        (-12.3, "-$12.30"),
        (-0.001, "$0.00"),
        (Decimal("1.005"), "$1.01"),
        (1.005, "$1.01"),
        (float("nan"), "$0.00"),
        (float("-inf"), "$0.00"),
    ],
)
def test_format_money(n, text):
    assert format_money(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (1234.56, "$1,234.56"),
        (Decimal("1234.565"), "$1,234.57"),
        (Decimal("0.125"), "$0.13"),
        (0, "$0.00"),
        (1_000_000, "$1,000,000.00"),
        (-1234.5, "-$1,234.50"),
        (float("nan"), "$0.00"),
    ],
)
def test_format_money_exact(n, text):
    assert format_money_exact(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [(1_234_567, "1,234,567 tokens"), (0, "0 tokens"), (1, "1 token"), (Decimal("2500"), "2,500 tokens")],
)
def test_format_tokens_exact(n, text):
    assert format_tokens_exact(n) == text


@pytest.mark.parametrize(("n", "text"), [(0, "0"), (987, "987"), (1_204, "1,204"), (1_234_567, "1,234,567")])
def test_format_count(n, text):
    assert format_count(n) == text


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (987, "987"),
        (0, "0"),
        (1_000, "1.0K"),
        (1_234, "1.2K"),
        (999_949, "999.9K"),
        (999_950, "1.0M"),
        (2_345_678, "2.3M"),
    ],
)
def test_format_commit_count(n, text):
    assert format_commit_count(n) == text


@pytest.mark.parametrize(
    ("percent", "text"),
    [(77.78, "78%"), (77.5, "78%"), (0, "0%"), (100, "100%"), (Decimal("45.5"), "46%"), (2.5, "3%")],
)
def test_format_percent_int(percent, text):
    assert format_percent_int(percent) == text


@pytest.mark.parametrize(
    ("percent", "text"),
    [(45.25, "45.3%"), (45.3, "45.3%"), (100, "100.0%"), (0.15, "0.2%"), (Decimal("12.34"), "12.3%"), (0, "0.0%")],
)
def test_format_percent_1(percent, text):
    assert format_percent_1(percent) == text


# --- dates ----------------------------------------------------------------------------------------------------

TODAY = date(2026, 1, 10)


@pytest.mark.parametrize(
    ("formatter", "value", "text"),
    [
        (fmt_day, date(2025, 12, 6), "Dec 6"),
        (fmt_day, date(2026, 1, 15), "Jan 15"),
        (fmt_day, datetime(2025, 12, 6, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "Dec 7"),
        (fmt_status_date, date(2026, 1, 5), "Jan 5, 2026"),
        (fmt_status_ts, datetime(2026, 1, 5, 15, 0, tzinfo=UTC), "Jan 5, 2026, 03:00 PM UTC"),
        (fmt_status_ts, datetime(2026, 1, 5, 0, 7, tzinfo=UTC), "Jan 5, 2026, 12:07 AM UTC"),
        (fmt_status_ts, datetime(2026, 1, 5, 12, 0), "Jan 5, 2026, 12:00 PM UTC"),
        (fmt_status_ts, datetime(2026, 1, 5, 10, 0, tzinfo=timezone(timedelta(hours=2))), "Jan 5, 2026, 08:00 AM UTC"),
        (fmt_since, date(2025, 5, 1), "since May '25"),
        (fmt_since, date(2009, 11, 30), "since Nov '09"),
        (fmt_commit_ts, datetime(2025, 12, 6, 14, 5, tzinfo=UTC), "Dec 6, 14:05"),
        (fmt_commit_ts, datetime(2025, 12, 6, 9, 5, tzinfo=timezone(timedelta(hours=-8))), "Dec 6, 17:05"),
        (fmt_iso_day, date(2026, 1, 5), "2026-01-05"),
        (fmt_day, None, ""),
        (fmt_status_ts, None, ""),
    ],
)
def test_date_formats(formatter, value, text):
    assert formatter(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [(date(2026, 1, 5), "Jan 5"), (date(2024, 1, 5), "Jan 5, 2024"), (date(2025, 12, 31), "Dec 31, 2025")],
)
def test_fmt_day_year_only_shows_other_years(value, text):
    assert fmt_day_year(value, TODAY) == text


# --- properties -----------------------------------------------------------------------------------------------


@given(st.integers(min_value=-(10**22), max_value=10**22))
def test_format_tokens_never_prints_a_full_unit(n):
    text = format_tokens(n)
    assert "1000" not in text  # neither "1000K"/"1000.0M" nor a bare "1000" (that is "1K")
    assert text.lstrip("-")[0].isdigit()


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_format_tokens_accepts_any_float(x):
    text = format_tokens(x)
    if not math.isfinite(x):
        assert text == "0"
    assert not text.startswith("-0")


@given(st.decimals(min_value=-(10**12), max_value=10**12, allow_nan=False, places=4))
def test_format_money_never_prints_1000_of_a_unit(x):
    text = format_money(x)
    assert text.lstrip("-").startswith("$")
    assert not any(text.endswith(f"1000.0{unit}") for unit in "KM")
    assert text != "$1000.00" and text != "-$1000.00"


@pytest.mark.parametrize(
    ("plural", "n", "text"),
    [("records", 1, "record"), ("records", 2, "records"), ("records", 0, "records"), ("active days", 1, "active day"),
     ("commits", Decimal("1"), "commit"), ("commits", 1.5, "commits"), ("people", 1, "people")],
)  # fmt: skip
def test_a_plural_reads_right_after_its_count(plural, n, text):
    assert for_count(plural, n) == text


@pytest.mark.parametrize(
    ("n", "plural", "text"),
    [(1, "usage rows", "1 usage row"), (0, "usage rows", "0 usage rows"), (1204, "commits", "1,204 commits")],
)
def test_a_count_reads_with_its_noun(n, plural, text):
    assert counted(n, plural) == text

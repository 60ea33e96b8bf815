"""metrics.md §9 "Worked examples": one case per row of the table, in the table's order."""

from datetime import UTC, date, datetime

import pytest

from abacus.domain.formatting import format_money, format_money_exact, format_percent_int, format_tokens
from abacus.domain.periods import DateRange, delta, parse_range, percentile, project_series, rate_delta
from abacus.domain.usage import average_per_user, rate_percent, token_total

TODAY = date(2026, 1, 10)


def text_of(change):
    return change.text if change is not None else None


def in_or_out(moment: datetime, rng: DateRange) -> str:
    lower, upper = rng.commit_bounds()
    return "in" if lower <= moment < upper else "out"


def projected_today(now_hours: float, actual: int):
    [today] = project_series(
        [TODAY], {"claude_code": [actual]}, {"claude_code": TODAY}, {}, TODAY, now_hours, {"claude_code"}
    )
    tool = today.tools["claude_code"]
    return today.incomplete, tool.shown, tool.projected_extra


def preset_case():
    rng = parse_range({"range": "7d"}, TODAY)
    return rng.start, rng.end, rng.days


def avg_per_user_case():
    mapped, unmapped, users = 9_000, 1_000, 3
    return format_tokens(mapped + unmapped), f"{format_tokens(average_per_user(mapped, users))} avg per user"


WORKED_EXAMPLES = [
    pytest.param(preset_case, (date(2026, 1, 4), date(2026, 1, 10), 7), id="preset"),
    pytest.param(
        lambda: DateRange(date(2026, 1, 1), date(2026, 1, 7)).previous(),
        DateRange(date(2025, 12, 25), date(2025, 12, 31)),
        id="previous period",
    ),
    pytest.param(
        lambda: DateRange(date(2026, 3, 1), date(2026, 3, 1)).previous(),
        DateRange(date(2026, 2, 28), date(2026, 2, 28)),
        id="previous of one day",
    ),
    pytest.param(lambda: text_of(delta(500, 0)), None, id="delta hidden (zero)"),
    pytest.param(lambda: text_of(delta(1025, 1000)), None, id="delta hidden (small)"),
    pytest.param(lambda: text_of(delta(1150, 1000)), "↑ 15%", id="delta shown"),
    pytest.param(lambda: text_of(delta(1, 3)), "↓ 66.7%", id="delta rounding"),
    pytest.param(lambda: text_of(rate_delta(12, 60, 10, 40)), "↓ 5 pp", id="rate delta"),
    pytest.param(lambda: token_total(input=10, cache_write=20, cache_read=300, output=5), 335, id="token total"),
    pytest.param(avg_per_user_case, ("10K", "3K avg per user"), id="avg per user"),
    pytest.param(lambda: format_percent_int(rate_percent(7, 9)), "78%", id="AI rate"),
    pytest.param(
        lambda: (
            in_or_out(datetime(2026, 1, 7, 23, 59, 59, tzinfo=UTC), DateRange(date(2026, 1, 1), date(2026, 1, 7))),
            in_or_out(datetime(2026, 1, 8, 0, 0, 0, tzinfo=UTC), DateRange(date(2026, 1, 1), date(2026, 1, 7))),
        ),
        ("in", "out"),
        id="commit window",
    ),
    pytest.param(lambda: projected_today(18.0, 750_000), (True, 1_000_000, 250_000), id="projection"),
    pytest.param(lambda: projected_today(40 / 60, 750_000), (True, 750_000, 0), id="projection too early"),
    pytest.param(
        lambda: [format_tokens(n) for n in (999, 1_499, 999_600, 2_512_000_000)],
        ["999", "1K", "1.0M", "2.5B"],
        id="format tokens",
    ),
    pytest.param(
        lambda: [format_money(0.5), format_money(999.99), format_money(26_640), format_money_exact(1_234.56)],
        ["$0.50", "$999.99", "$26.6K", "$1,234.56"],
        id="format money",
    ),
    pytest.param(
        lambda: [percentile({"a": 10, "b": 8, "c": 8, "d": 2}, user) for user in ("b", "c")],
        [67, 67],
        id="percentile",
    ),
]


@pytest.mark.parametrize(("compute", "expected"), WORKED_EXAMPLES)
def test_worked_example(compute, expected):
    assert compute() == expected


@pytest.mark.parametrize(
    ("mapped_tokens", "users", "average"), [(9_000, 3, 3_000), (10, 4, 3), (10, 3, 3), (5, 2, 3), (1_000, 0, 0)]
)
def test_average_per_user(mapped_tokens, users, average):
    assert average_per_user(mapped_tokens, users) == average


@pytest.mark.parametrize(("part", "whole", "rate"), [(7, 9, 78), (1, 8, 13), (0, 5, 0), (3, 0, 0), (9, 9, 100)])
def test_rate_percent(part, whole, rate):
    assert rate_percent(part, whole) == rate

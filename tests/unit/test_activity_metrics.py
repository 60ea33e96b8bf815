"""Activity metrics (docs/metrics.md §10): acceptance rate and cost per 1,000 lines, as the worked examples say."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest

from abacus.domain.activity import acceptance_rate, cost_per_1k_lines
from abacus.domain.formatting import format_percent_1


@pytest.mark.parametrize(
    ("accepted", "suggested", "rate", "shown"),
    [
        (90, 100, Fraction(9, 10), "90.0%"),  # the worked example: 40 + 50 accepted of 50 + 50 suggested
        (1, 3, Fraction(1, 3), "33.3%"),
        (2, 3, Fraction(2, 3), "66.7%"),
        (0, 7, Fraction(0), "0.0%"),
        (5, 5, Fraction(1), "100.0%"),
        (0, 0, None, None),  # nothing suggested: no rate, shown "—"
    ],
)
def test_acceptance_rate(accepted, suggested, rate, shown):
    assert acceptance_rate(accepted, suggested) == rate
    if rate is not None:
        assert format_percent_1(rate * 100) == shown


@pytest.mark.parametrize(
    ("cost", "lines", "expected"),
    [
        (Decimal("12.50"), 2500, Decimal("5.00")),  # the worked example
        (Decimal("3"), 1000, Decimal("3")),
        (Decimal("1"), 3, Decimal("1000") / 3),
        (Decimal("0"), 10, Decimal("0")),
        (Decimal("9.99"), 0, None),  # no lines: no value
    ],
)
def test_cost_per_1k_lines(cost, lines, expected):
    assert cost_per_1k_lines(cost, lines) == expected

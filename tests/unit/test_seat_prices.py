"""Seat prices (docs/metrics.md §11, M-SEAT-PRICE): the price list setting and the price of a plan."""

from __future__ import annotations

from decimal import Decimal

import pytest

from abacus.domain.seats import PriceListError, parse_plan_prices, plan_price


@pytest.mark.parametrize(
    ("text", "plan", "price"),
    [
        ("business=19,enterprise=39", "enterprise", Decimal(39)),  # the worked example
        ("business=19,enterprise=39", "business", Decimal(19)),
        ("business=19,enterprise=39", "BUSINESS", Decimal(19)),
        ("business=19,enterprise=39", "pro", Decimal(0)),  # a plan the list does not name
        ("business=19,enterprise=39", None, Decimal(0)),
        ("25", "anything", Decimal(25)),  # a bare number prices every plan
        ("25, enterprise = 39.5", "enterprise", Decimal("39.5")),
        ("25, enterprise = 39.5", "business", Decimal(25)),
        ("", "business", Decimal(0)),
    ],
)
def test_plan_price(text, plan, price):
    assert plan_price(plan, parse_plan_prices(text)) == price


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("business=x", "'business=x': 'x' is not a price in USD"),
        ("business=-1", "'business=-1': a price must be a number ≥ 0"),
        ("enterprise=NaN", "a price must be a number ≥ 0"),
    ],
)
def test_bad_price_lists_name_the_entry(text, message):
    with pytest.raises(PriceListError) as failure:
        parse_plan_prices(text)
    assert message in str(failure.value)

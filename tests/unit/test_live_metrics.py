"""The worked examples of docs/metrics.md §13 (M-LIVE-BURN, M-LIVE-EOD), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from abacus.domain.live import burn_rate_per_hour, hours_left_today, projected_end_of_day


@pytest.mark.parametrize(
    ("cost", "window", "rate"),
    [
        ("3.60", timedelta(minutes=60), "3.60"),  # example 1: $3.60 in the last hour
        ("0", timedelta(minutes=60), "0.00"),  # nobody working: no burn
        ("1.50", timedelta(minutes=30), "3.00"),  # a 30-minute window scales up
        ("0.005", timedelta(minutes=60), "0.01"),  # rounded half up to cents
    ],
)
def test_burn_rate(cost: str, window: timedelta, rate: str) -> None:
    assert burn_rate_per_hour(Decimal(cost), window) == Decimal(rate)


def test_burn_window_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        burn_rate_per_hour(Decimal(1), timedelta(0))


@pytest.mark.parametrize(
    ("now", "spent", "burn", "hours", "projected"),
    [
        # example 2: 14:00 UTC, $42.00 so far, $3.60/h → 10 h left → $78.00
        (datetime(2026, 3, 5, 14, 0, tzinfo=UTC), "42.00", "3.60", "10", "78.00"),
        # example 3: 23:30 UTC, $100 so far, $12/h → half an hour left → $106.00
        (datetime(2026, 3, 5, 23, 30, tzinfo=UTC), "100.00", "12.00", "0.5", "106.00"),
        # example 4: midnight exactly: the whole day is ahead
        (datetime(2026, 3, 5, 0, 0, tzinfo=UTC), "0", "1.00", "24", "24.00"),
        # no burn: the projection is what was spent
        (datetime(2026, 3, 5, 9, 15, tzinfo=UTC), "17.25", "0", "14.75", "17.25"),
        # a non-UTC clock is read in UTC (16:00 at +02:00 is 14:00 UTC)
        (
            datetime(2026, 3, 5, 16, 0, tzinfo=timezone(timedelta(hours=2))),
            "42.00",
            "3.60",
            "10",
            "78.00",
        ),
    ],
)
def test_projected_end_of_day(now: datetime, spent: str, burn: str, hours: str, projected: str) -> None:
    assert hours_left_today(now) == Decimal(hours)
    assert projected_end_of_day(Decimal(spent), Decimal(burn), now) == Decimal(projected)

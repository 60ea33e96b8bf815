"""Seats (docs/metrics.md §11): the price list setting and the price of a plan (M-SEAT-PRICE), seat cost, idleness,
adoption (M-ADOPTION) and the /seats table's filters and order."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from abacus.domain.seats import (
    PriceListError,
    idle_days,
    is_idle,
    last_active,
    parse_plan_prices,
    plan_price,
    seat_cost,
)
from abacus.queries.seats import SeatLine, ToolSeats
from abacus.web.seat_views import seat_rows


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


# --- M-SEAT-COST, M-IDLE-SEAT, M-SEAT-LAST-ACTIVE (docs/metrics.md §11 worked examples) --------------------------

D = date.fromisoformat


@pytest.mark.parametrize(
    ("price", "held_from", "held_until", "start", "end", "cost"),
    [
        # a whole calendar month costs the monthly price
        ("40", "2025-01-01", None, "2025-11-01", "2025-11-30", Decimal(40)),
        # 15 of November's 30 days
        ("40", "2025-11-16", None, "2025-11-01", "2025-11-30", Decimal(20)),
        # 30 days across two months: 20/30 × 19 + 10/31 × 19 (November 11 – December 10)
        ("19", "2024-06-01", None, "2025-11-11", "2025-12-10", Decimal(19) * 20 / 30 + Decimal(19) * 10 / 31),
        # ended after 10 days of the range
        ("39", "2025-01-01", "2025-12-10", "2025-12-01", "2025-12-31", Decimal(39) * 10 / 31),
        # held entirely outside the range
        ("39", "2025-01-01", "2025-06-30", "2025-12-01", "2025-12-31", Decimal(0)),
        # February of a leap year: 29 days make the month
        ("29", "2024-01-01", None, "2024-02-01", "2024-02-29", Decimal(29)),
    ],
)
def test_seat_cost_is_pro_rata_by_day(price, held_from, held_until, start, end, cost):
    until = D(held_until) if held_until else None
    assert seat_cost(Decimal(price), D(held_from), until, D(start), D(end)) == cost


@pytest.mark.parametrize(
    ("last", "since", "today", "idle", "days"),
    [
        (None, "2025-11-01", "2025-12-10", True, 39),  # never active: idle since the seat began
        ("2025-10-01", "2025-11-01", "2025-12-10", True, 70),  # last used 70 days ago, before this seat's date
        ("2025-12-01", "2025-12-05", "2025-12-10", False, 9),  # used before the seat's date (Cursor: first listed)
        ("2025-11-10", "2025-01-01", "2025-12-10", True, 30),  # 30 days without activity
        ("2025-11-11", "2025-01-01", "2025-12-10", False, 29),
        ("2025-12-10", "2025-01-01", "2025-12-10", False, 0),
        (None, "2025-12-09", "2025-12-10", True, 1),  # a day-old seat nobody used yet
    ],
)
def test_idle_seats(last, since, today, idle, days):
    last_day = D(last) if last else None
    assert is_idle(last_day, D(since), D(today), 30) is idle
    assert idle_days(last_day, D(since), D(today)) == days


def test_last_active_is_the_latest_known_day():
    assert last_active(D("2025-12-01"), D("2025-12-03"), None) == D("2025-12-03")
    assert last_active(None, None) is None
    assert last_active(D("2025-12-05"), D("2025-12-03")) == D("2025-12-05")


@pytest.mark.parametrize(
    ("active_holders", "holders", "adoption"),
    [
        (7, 10, Decimal("0.7")),  # docs/metrics.md M-ADOPTION's example: 70.0 %
        (0, 3, Decimal(0)),
        (3, 3, Decimal(1)),
        (0, 0, None),  # no seats: no value
    ],
)
def test_adoption_is_active_seat_holders_over_seat_holders(active_holders, holders, adoption):
    tool = ToolSeats(
        tool="github_copilot", seats=holders, active_7d=0, active_30d=0, idle=0, idle_monthly_usd=Decimal(0),
        seat_cost_usd=Decimal(0), idle_spend_usd=Decimal(0), usage_cost_usd=Decimal(0), active_people=active_holders,
        cost_per_active_user_usd=None, holders=holders, active_holders=active_holders,
    )  # fmt: skip
    assert tool.adoption == adoption


def _line(email: str, idle_days: int, price: int, *, idle: bool = False, identity: str = "") -> SeatLine:
    return SeatLine(
        tool="cursor", identity=identity or f"cursor:{email}", email=email, plan=None, since=date(2026, 1, 1),
        ended=None, last_active=None, idle_days=idle_days, idle=idle, monthly_price=Decimal(price), cost=Decimal(0),
    )  # fmt: skip


LINES = [_line("b@x.com", 40, 40, idle=True), _line("a@x.com", 3, 19), _line("c@x.com", 40, 40, identity="gh:zed")]


@pytest.mark.parametrize(
    ("idle_only", "search", "sort", "descending", "emails"),
    [
        (False, None, "email", False, ["a@x.com", "b@x.com", "c@x.com"]),
        (False, None, "email", True, ["c@x.com", "b@x.com", "a@x.com"]),
        (False, None, "idle_days", True, ["c@x.com", "b@x.com", "a@x.com"]),  # ties by person, reversed
        (False, None, "idle_days", False, ["a@x.com", "b@x.com", "c@x.com"]),
        (False, None, "price", False, ["a@x.com", "b@x.com", "c@x.com"]),
        (True, None, "email", False, ["b@x.com"]),
        (False, "B@X", "email", False, ["b@x.com"]),  # any case
        (False, "zed", "email", False, ["c@x.com"]),  # the vendor identity matches too
        (True, "zed", "email", False, []),
    ],
)
def test_seat_rows_filter_and_sort(idle_only, search, sort, descending, emails):
    rows = seat_rows(LINES, idle_only=idle_only, search=search, sort=sort, descending=descending)
    assert [r.email for r in rows] == emails

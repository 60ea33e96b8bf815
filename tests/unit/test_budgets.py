"""Budgets (docs/metrics.md §12): spent, forecast, status and alert crossings, as worked examples."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from abacus.domain.budgets import (
    AT_RISK,
    AlertMessage,
    BudgetInputError,
    HeldSeat,
    alert_label,
    budget_status,
    crossed_alerts,
    encode_body,
    generic_body,
    month_end,
    month_end_projection,
    parse_amount,
    parse_channels,
    parse_month,
    parse_thresholds,
    seat_projection,
    seat_spent,
    signature,
    signature_matches,
    slack_body,
    to_micro,
    usage_spent,
)

D = Decimal


def flat(start: date, end: date, usd: str) -> dict[date, int]:
    """Every day of [start, end] costing `usd`."""
    return {start + timedelta(days=i): to_micro(D(usd)) for i in range((end - start).days + 1)}


@pytest.mark.parametrize(
    ("amount", "spent", "forecast", "expected"),
    [
        ("1000", "400", "900", "on_track"),
        ("1000", "400", "1000", "on_track"),  # a forecast equal to the amount is still on track
        ("1000", "400", "1100", "at_risk"),
        ("1000", "1000", "1000", "on_track"),  # spending exactly the amount is not over
        ("1000", "1000.01", "1500", "over"),
    ],
)
def test_status(amount: str, spent: str, forecast: str, expected: str):
    assert budget_status(D(amount), D(spent), D(forecast)) == expected


@pytest.mark.parametrize(
    ("thresholds", "spent", "forecast", "expected"),
    [
        ((50, 80, 100), "499.99", "900", []),
        ((50, 80, 100), "500", "900", ["threshold_50"]),
        ((50, 80, 100), "850", "1200", ["threshold_50", "threshold_80", AT_RISK]),
        ((50, 80, 100), "300", "1001", [AT_RISK]),
        ((50, 80, 100), "1000", "1000", ["threshold_50", "threshold_80", "threshold_100"]),
        # over the amount: the 100 % alert says it; no separate forecast alert
        ((50, 80, 100), "1200", "1500", ["threshold_50", "threshold_80", "threshold_100"]),
        ((100, 25, 25), "260", "500", ["threshold_25"]),
        ((120,), "900", "1300", [AT_RISK]),
        ((120,), "1150", "1300", []),  # over the amount but under its only threshold
    ],
)
def test_crossed_alerts(thresholds: tuple[int, ...], spent: str, forecast: str, expected: list[str]):
    assert crossed_alerts(thresholds, D("1000"), D(spent), D(forecast)) == expected


def test_alert_labels():
    assert alert_label("threshold_80") == "80 % of the budget spent"
    assert alert_label(AT_RISK) == "forecast over the budget"


# Worked example 1 (docs/metrics.md §12): $10 a day for four weeks, $15 so far today at 18:00.
JAN = date(2026, 1, 1)
HISTORY = flat(date(2025, 12, 1), date(2026, 1, 9), "10") | {date(2026, 1, 10): to_micro(D("15"))}


@pytest.mark.parametrize(
    ("case", "daily", "last_data", "month", "today", "hours", "spent", "projection"),
    [
        # today 15 / 0.75 = 20 → 5 more; Jan 11–31 (21 days) at the $10 average → 210
        ("mid-month", {"claude_code": HISTORY}, {"claude_code": date(2026, 1, 9)}, JAN, date(2026, 1, 10), 18.0,
         "105", "215"),
        # before 01:00 today is estimated like a future day: 15 is already more than the $10 estimate → 0 more
        ("too early today", {"claude_code": HISTORY}, {"claude_code": date(2026, 1, 9)}, JAN, date(2026, 1, 10),
         0.5, "105", "210"),
        # Cursor's data ends Jan 8: Jan 9 (0) is estimated at $10, today (0 so far) at $10, 21 future days
        ("late tool", {"cursor": flat(date(2025, 12, 1), date(2026, 1, 8), "10")}, {"cursor": date(2026, 1, 8)},
         JAN, date(2026, 1, 10), 12.0, "80", "230"),
        # month boundary: on Feb 1 January is over (spent is the whole month, nothing projected) …
        ("past month", {"claude_code": flat(date(2025, 12, 1), date(2026, 1, 31), "10")},
         {"claude_code": date(2026, 1, 31)}, JAN, date(2026, 2, 1), 0.5, "310", "0"),
        # … and February starts at 0 spent, with 28 days projected at the $10 average
        ("first of the month", {"claude_code": flat(date(2025, 12, 1), date(2026, 1, 31), "10")},
         {"claude_code": date(2026, 1, 31)}, date(2026, 2, 1), date(2026, 2, 1), 0.5, "0", "280"),
        # a tool with no data at all projects nothing
        ("no data", {"cursor": {}}, {"cursor": None}, JAN, date(2026, 1, 10), 12.0, "0", "0"),
        # weekday average: Mondays cost $70, other days $10 → today (a Saturday, nothing yet) $10, and Jan 11–31
        # three Mondays at $70 and 18 other days at $10
        ("weekday", {"claude_code": {d: to_micro(D("70" if d.weekday() == 0 else "10"))
                                     for d in flat(date(2025, 12, 1), date(2026, 1, 9), "1")}},
         {"claude_code": date(2026, 1, 9)}, JAN, date(2026, 1, 10), 12.0, "150", "400"),
    ],
)  # fmt: skip
def test_spent_and_projection(case, daily, last_data, month, today, hours, spent, projection):
    assert usage_spent(daily, month, today) == D(spent), case
    assert month_end_projection(daily, last_data, month, today, hours) == D(projection), case


def test_the_weekday_case_counts_the_remaining_mondays():
    # Jan 2026 Mondays after the 10th: 12, 19, 26 → 3 × $70; spent: Jan 5 → $70
    assert [d.day for d in (date(2026, 1, i) for i in range(11, 32)) if d.weekday() == 0] == [12, 19, 26]


def test_a_budget_created_mid_month_counts_the_month_from_its_first_day():
    daily = {"cursor": flat(date(2026, 1, 1), date(2026, 1, 20), "50")}
    # created on Jan 20: the month's spend is 20 × $50 = $1,000, so a $1,500 budget is past 50 % at once
    spent = usage_spent(daily, JAN, date(2026, 1, 20))
    assert spent == D("1000")
    assert crossed_alerts((50, 80, 100), D("1500"), spent, spent) == ["threshold_50"]


@pytest.mark.parametrize(
    ("seat", "today", "spent", "projection"),
    [
        (HeldSeat(D("40"), date(2025, 12, 1), None), date(2026, 1, 10), D(40) * 10 / 31, D(40) * 21 / 31),
        (HeldSeat(D("40"), date(2026, 1, 6), None), date(2026, 1, 10), D(40) * 5 / 31, D(40) * 21 / 31),
        (HeldSeat(D("40"), date(2025, 12, 1), date(2026, 1, 3)), date(2026, 1, 10), D(40) * 3 / 31, D(0)),
        (HeldSeat(D("19"), date(2025, 12, 1), None), date(2026, 1, 31), D(19), D(0)),
    ],
)
def test_seats(seat: HeldSeat, today: date, spent: Decimal, projection: Decimal):
    assert seat_spent([seat], JAN, today) == spent
    assert seat_projection([seat], JAN, today) == projection


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2026-01", date(2026, 1, 1)), ("2025-12", date(2025, 12, 1))],
)
def test_parse_month(text: str, expected: date):
    assert parse_month(text) == expected
    assert month_end(expected).month == expected.month


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026-01-01", "", "abcd-ef", "2026-00", "2026-01\x00"])
def test_parse_month_refuses(text: str):
    with pytest.raises(BudgetInputError, match="month"):
        parse_month(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("50,80,100", (50, 80, 100)), ("100, 50%, 50", (50, 100)), ("120", (120,))],
)
def test_parse_thresholds(text: str, expected: tuple[int, ...]):
    assert parse_thresholds(text) == expected


@pytest.mark.parametrize("text", ["", "0", "1001", "-5", "fifty", "1,2,3,4,5,6,7,8,9,10,11", "5.5"])
def test_parse_thresholds_refuses(text: str):
    with pytest.raises(BudgetInputError, match="thresholds"):
        parse_thresholds(text)


@pytest.mark.parametrize(("text", "expected"), [("1500", D(1500)), ("$1,500.50", D("1500.50")), (" 7 ", D(7))])
def test_parse_amount(text: str, expected: Decimal):
    assert parse_amount(text) == expected


@pytest.mark.parametrize("text", ["0", "-1", "1e3", "12.345", "NaN", "", "99999999999", "10\x00"])
def test_parse_amount_refuses(text: str):
    with pytest.raises(BudgetInputError, match="amount_usd"):
        parse_amount(text)


def test_channels():
    assert parse_channels(["webhook", "slack", "slack", ""]) == ("slack", "webhook")
    with pytest.raises(BudgetInputError, match="channels"):
        parse_channels(["email"])


MESSAGE = AlertMessage(
    budget_id=7,
    budget_name="Team platform · Cursor",
    scope="team",
    scope_id="platform",
    tool="cursor",
    month=JAN,
    kind="threshold_80",
    spent_usd=D("812.5"),
    forecast_usd=D("1320.004"),
    amount_usd=D("1000"),
    url="https://abacus.example.com/budgets",
)


def test_generic_body_and_signature():
    body = generic_body(MESSAGE)
    assert body == {
        "budget": 7,
        "scope": "team",
        "scope_id": "platform",
        "tool": "cursor",
        "month": "2026-01",
        "kind": "threshold_80",
        "spent_usd": "812.50",
        "forecast_usd": "1320.00",
        "amount_usd": "1000.00",
        "url": "https://abacus.example.com/budgets",
    }
    raw = encode_body(body)
    # the documented HMAC, computed independently: sha256 of the exact body bytes under the secret
    import hashlib
    import hmac

    assert signature("s3cret", raw) == "sha256=" + hmac.new(b"s3cret", raw, hashlib.sha256).hexdigest()
    assert signature_matches("s3cret", raw, signature("s3cret", raw))
    assert not signature_matches("other", raw, signature("s3cret", raw))
    assert not signature_matches("s3cret", raw + b" ", signature("s3cret", raw))


def test_slack_body_links_back():
    body = slack_body(MESSAGE)
    assert body["text"] == (
        "Budget Team platform · Cursor: 80 % of the budget spent in 2026-01 — spent $812.50, "
        "forecast $1,320.00 of $1,000.00."
    )
    assert "<https://abacus.example.com/budgets|Open budgets in Abacus>" in str(body["blocks"])

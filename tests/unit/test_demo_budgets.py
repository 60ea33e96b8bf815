"""The demo's budgets land in the three states they are sized for, on any day of the month (docs/metrics.md §12)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from abacus.cli.demo_budgets import demo_budgets
from abacus.domain.budgets import budget_status, month_end_projection, month_of, to_micro, usage_spent


def rows_until(today: date) -> list[dict[str, object]]:
    start = month_of(today) - timedelta(days=28)
    out: list[dict[str, object]] = []
    for i in range((today - start).days + 1):
        day = start + timedelta(days=i)
        out.append({"date": day.isoformat(), "tool": "claude_code", "cost": str(Decimal(30 + i % 7))})
        out.append({"date": day.isoformat(), "tool": "cursor", "cost": str(Decimal(12 + i % 3))})
    return out


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 2, 10, 30, tzinfo=UTC),
        datetime(2026, 12, 15, 18, 0, tzinfo=UTC),
        datetime(2026, 2, 27, 23, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 3, 0, tzinfo=UTC),
    ],
)
def test_each_demo_budget_is_in_its_state(now: datetime):
    rows = rows_until(now.date())
    budgets = demo_budgets(rows, now)
    assert [b.meant for b in budgets] == ["over", "at_risk", "on_track"]
    month, today = month_of(now.date()), now.date()
    for budget in budgets:
        tools = ["claude_code", "cursor"] if budget.tool == "all" else [budget.tool]
        daily: dict[str, dict[date, int]] = {t: {} for t in tools}
        for row in rows:
            if row["tool"] in tools:
                daily[str(row["tool"])][date.fromisoformat(str(row["date"]))] = to_micro(Decimal(str(row["cost"])))
        spent = usage_spent(daily, month, today)
        forecast = spent + month_end_projection(daily, {t: today for t in tools}, month, today, now.hour)
        assert budget_status(budget.amount_usd, spent, forecast) == budget.meant, (budget, spent, forecast)

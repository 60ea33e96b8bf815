"""The demo's budgets: one over, one at risk and one on track on first start, whatever the day of the month.

Amounts are derived from the emulator's ground truth for the current month (what the sync is about to store) with
the same spent and forecast rules the app uses (docs/metrics.md §12), so the states hold once the data is in; the
worker's budget check then fires their alerts, delivered to the emulator's `/hooks/slack` and `/hooks/generic`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any

import httpx

from abacus.domain.budgets import month_end_projection, month_of, to_micro, usage_spent
from abacus.domain.periods import HISTORY_DAYS

DEMO_WEBHOOK_SECRET = "demo-alert-webhook-secret"
"""The generic webhook's signing secret in the demo (the emulator verifies it)."""


def demo_alert_environment(emulator_url: str) -> dict[str, str]:
    """ABACUS_ALERT_* of the demo: both channels to the emulator's hooks, retries quick."""
    return {
        "ABACUS_ALERT_SLACK_URL": f"{emulator_url}/hooks/slack",
        "ABACUS_ALERT_WEBHOOK_URL": f"{emulator_url}/hooks/generic",
        "ABACUS_ALERT_WEBHOOK_SECRET": DEMO_WEBHOOK_SECRET,
        "ABACUS_ALERT_RETRY_SECONDS": "5",
    }


@dataclass(frozen=True)
class DemoBudget:
    scope: str
    tool: str
    amount_usd: Decimal
    meant: str
    """The state it is sized for: over, at_risk or on_track."""


def _whole(value: Decimal) -> Decimal:
    return max(value.quantize(Decimal(1), rounding=ROUND_DOWN), Decimal(1))


def demo_budgets(rows: list[dict[str, Any]], now: datetime) -> list[DemoBudget]:
    """Budget amounts from the month's daily cost per tool (`rows` of the emulator's /truth/usage): the org's all
    tools at half of what it spent (over), Cursor halfway between spent and forecast (at risk), Claude Code at twice
    its forecast (on track)."""
    today = now.astimezone(UTC).date()
    hours = now.hour + now.minute / 60
    daily: dict[str, dict[date, int]] = {}
    for row in rows:
        day = date.fromisoformat(str(row["date"]))
        series = daily.setdefault(str(row["tool"]), {})
        series[day] = series.get(day, 0) + to_micro(Decimal(str(row["cost"])))
    month = month_of(today)
    last = {tool: max(series) for tool, series in daily.items() if series}

    def figures(tools: list[str]) -> tuple[Decimal, Decimal]:
        chosen = {t: daily.get(t, {}) for t in tools}
        spent = usage_spent(chosen, month, today)
        return spent, spent + month_end_projection(chosen, {t: last.get(t) for t in tools}, month, today, hours)

    all_spent, _ = figures(sorted(daily))
    cursor_spent, cursor_forecast = figures(["cursor"])
    _, claude_forecast = figures(["claude_code"])
    return [
        DemoBudget("org", "all", _whole(all_spent / 2), "over"),
        DemoBudget("org", "cursor", _whole((cursor_spent + cursor_forecast) / 2), "at_risk"),
        DemoBudget("org", "claude_code", _whole(claude_forecast * 2 + 100), "on_track"),
    ]


def emulator_month_usage(emulator_url: str, today: date) -> list[dict[str, Any]]:
    """The emulator's ground truth for the month so far and the four weeks before it."""
    start = month_of(today) - timedelta(days=HISTORY_DAYS)
    response = httpx.get(
        f"{emulator_url}/_emulator/truth/usage", params={"start": start.isoformat(), "end": today.isoformat()}
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()
    return rows

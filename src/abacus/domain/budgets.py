"""Budgets and alerts (docs/metrics.md §12): spent, forecast, status and the alerts a month's figures cross.

Pure: the caller passes the month's daily costs, the last data day of each tool, `today` and the hour of the day.
Money in the daily series is whole micro-dollars (so M-PROJ's exact averages apply unchanged); results are Decimal.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from abacus.domain.periods import historical_average, round_half_up
from abacus.domain.seats import seat_cost

SCOPES = ("org", "team", "person")
ALL_TOOLS = "all"
CHANNELS = ("slack", "webhook")
DEFAULT_THRESHOLDS = (50, 80, 100)
MAX_THRESHOLDS = 10
MAX_THRESHOLD = 1000
AT_RISK = "at_risk"
THRESHOLD_PREFIX = "threshold_"
MICRO = Decimal(1_000_000)
CENT = Decimal("0.01")

STATUS_ON_TRACK, STATUS_AT_RISK, STATUS_OVER = "on_track", "at_risk", "over"
STATUS_LABELS = {STATUS_ON_TRACK: "On track", STATUS_AT_RISK: "At risk", STATUS_OVER: "Over"}

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")


class BudgetInputError(ValueError):
    """A budget field that cannot be accepted (the message names the field and why)."""


# --- months -------------------------------------------------------------------------------------------------


def parse_month(text: str) -> date:
    """`YYYY-MM` → the first day of that month; anything else raises BudgetInputError naming the value."""
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise BudgetInputError(f"month: {text[:20]!r} is not a month (YYYY-MM)")
    return date(int(match.group(1)), int(match.group(2)), 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_end(month: date) -> date:
    """The last day of `month`'s calendar month."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1) - timedelta(days=1)


def month_days(month: date) -> list[date]:
    first = month_of(month)
    return [first + timedelta(days=i) for i in range(month_end(first).day)]


def spent_through(month: date, today: date) -> date | None:
    """The last day of `month` whose spend counts as spent: the month's end for a past month, today for the current
    month, None for a month that has not begun."""
    if month > today:
        return None
    return min(month_end(month), today)


# --- money --------------------------------------------------------------------------------------------------


def to_micro(usd: Decimal | int | float) -> int:
    """USD → whole micro-dollars (half up)."""
    return int((Decimal(str(usd)) * MICRO).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_micro(micro: int | Fraction) -> Decimal:
    return Decimal(int(micro)) / MICRO


def cents(usd: Decimal) -> Decimal:
    """A dollar amount as stored and shown: two decimals, half up."""
    return usd.quantize(CENT, rounding=ROUND_HALF_UP)


# --- spent and forecast ---------------------------------------------------------------------------------------


def usage_spent(daily: Mapping[str, Mapping[date, int]], month: date, today: date) -> Decimal:
    """Usage cost of `month` up to today (the whole month when it is over): Σ of every tool's days in that span."""
    last = spent_through(month, today)
    if last is None:
        return Decimal(0)
    first = month_of(month)
    return from_micro(sum(v for series in daily.values() for d, v in series.items() if first <= d <= last))


def _weekday_anchor(day: date, today: date) -> date:
    """The first day from today on with `day`'s weekday: a future day is estimated as M-PROJ would estimate it."""
    return today + timedelta(days=(day.weekday() - today.weekday()) % 7)


def month_end_projection(
    daily: Mapping[str, Mapping[date, int]],
    last_data: Mapping[str, date | None],
    month: date,
    today: date,
    now_hours: float,
) -> Decimal:
    """M-BUDGET-FORECAST's projection: the cost `month` is expected to add to what is spent, by M-PROJ's rules.

    Per tool with a last data day L_t (`daily[tool]` holds its daily cost in micro-dollars, at least the 28 days
    before the month and the month itself): today, after the first hour, counts `round(v / f) − v` more (f = the
    day's elapsed fraction) when it has cost, else its estimate; an earlier day after L_t with no cost counts its
    historical average; each day after today counts the historical average of the first day from today on with its
    weekday. A month that is over projects 0.
    """
    if month_end(month) < today:
        return Decimal(0)
    fraction = Fraction(min(max(now_hours, 0.0), 24.0)) / 24
    total = Fraction(0)
    for tool, series in daily.items():
        limit = last_data.get(tool)
        if limit is None:
            continue
        for day in month_days(month):
            actual = series.get(day, 0)
            if day < today:
                if day > limit and actual == 0:
                    total += historical_average(series, day, limit, today)
            elif day == today and actual > 0 and now_hours >= 1:
                total += round_half_up(Fraction(actual) / fraction) - actual
            else:
                estimate = historical_average(series, _weekday_anchor(day, today), limit, today)
                total += max(estimate - actual, Fraction(0)) if day == today else estimate
    return from_micro(round_half_up(total))


@dataclass(frozen=True)
class HeldSeat:
    """A seat counted by a budget: its monthly price and when it was held (`until` None = still held)."""

    monthly_price: Decimal
    since: date
    until: date | None


def seat_spent(seats: Iterable[HeldSeat], month: date, today: date) -> Decimal:
    """M-SEAT-COST of the seats over the month's days up to today (the whole month when it is over)."""
    last = spent_through(month, today)
    if last is None:
        return Decimal(0)
    first = month_of(month)
    return sum((seat_cost(s.monthly_price, s.since, s.until, first, last) for s in seats), Decimal(0))


def seat_projection(seats: Iterable[HeldSeat], month: date, today: date) -> Decimal:
    """Seat cost still to come this month: seats held today (not ended) cost their remaining days, pro rata."""
    end = month_end(month)
    if end < today:
        return Decimal(0)
    start = max(month_of(month), today + timedelta(days=1))
    if start > end:
        return Decimal(0)
    return sum(
        (seat_cost(s.monthly_price, s.since, None, start, end) for s in seats if s.until is None),
        Decimal(0),
    )


def budget_status(amount: Decimal, spent: Decimal, forecast: Decimal) -> str:
    """M-BUDGET-STATUS: over when spent > amount, at risk when the forecast > amount, else on track."""
    if spent > amount:
        return STATUS_OVER
    if forecast > amount:
        return STATUS_AT_RISK
    return STATUS_ON_TRACK


def threshold_kind(percent: int) -> str:
    return f"{THRESHOLD_PREFIX}{percent}"


def crossed_alerts(thresholds: Sequence[int], amount: Decimal, spent: Decimal, forecast: Decimal) -> list[str]:
    """The alert kinds the figures have reached: `threshold_<p>` for each p with spent ≥ p % of the amount, and
    `at_risk` when the forecast is over the amount while the spend is not (yet). Repeats are the caller's to drop
    (alerts are unique per budget, month and kind)."""
    kinds = [threshold_kind(p) for p in sorted(set(thresholds)) if spent * 100 >= amount * p]
    if forecast > amount >= spent:
        kinds.append(AT_RISK)
    return kinds


def alert_label(kind: str) -> str:
    """`threshold_80` → "80 % of the budget spent"; `at_risk` → "forecast over the budget"."""
    if kind == AT_RISK:
        return "forecast over the budget"
    if kind == "test":
        return "a test message (abacus alerts test)"
    if kind.startswith(THRESHOLD_PREFIX):
        return f"{kind.removeprefix(THRESHOLD_PREFIX)} % of the budget spent"
    return kind


# --- validation -----------------------------------------------------------------------------------------------


def parse_thresholds(text: str) -> tuple[int, ...]:
    """`50,80,100` → (50, 80, 100): whole percentages 1–1000, at most 10, sorted without repeats."""
    values: set[int] = set()
    for part in (p.strip().removesuffix("%").strip() for p in text.split(",")):
        if not part:
            continue
        if not part.isdigit() or not 1 <= int(part) <= MAX_THRESHOLD:
            raise BudgetInputError(f"thresholds: {part[:20]!r} is not a whole percentage from 1 to {MAX_THRESHOLD}")
        values.add(int(part))
    if not values:
        raise BudgetInputError("thresholds: give at least one percentage (e.g. 50,80,100)")
    if len(values) > MAX_THRESHOLDS:
        raise BudgetInputError(f"thresholds: at most {MAX_THRESHOLDS} percentages")
    return tuple(sorted(values))


def parse_amount(text: str) -> Decimal:
    """A monthly amount in USD: a positive number with at most two decimals, under 10 billion."""
    cleaned = text.strip().removeprefix("$").replace(",", "")
    if not re.fullmatch(r"[0-9]{1,10}(\.[0-9]{1,2})?", cleaned):
        raise BudgetInputError(f"amount_usd: {text[:30]!r} is not an amount in USD (e.g. 1500 or 1500.50)")
    amount = Decimal(cleaned)
    if amount <= 0:
        raise BudgetInputError("amount_usd: must be more than 0")
    return amount


def parse_channels(values: Iterable[str]) -> tuple[str, ...]:
    """Channel names (`slack`, `webhook`), without repeats, in that order."""
    chosen = {v.strip().lower() for v in values if v.strip()}
    unknown = chosen - set(CHANNELS)
    if unknown:
        raise BudgetInputError(f"channels: {sorted(unknown)[0][:20]!r} is not one of {', '.join(CHANNELS)}")
    return tuple(c for c in CHANNELS if c in chosen)


# --- messages -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AlertMessage:
    """What an alert says, whatever the channel."""

    budget_id: int
    budget_name: str
    scope: str
    scope_id: str
    tool: str
    month: date
    kind: str
    spent_usd: Decimal
    forecast_usd: Decimal
    amount_usd: Decimal
    url: str


def budget_name(scope: str, scope_id: str, tool: str, tool_name: str) -> str:
    """ "Org · all tools", "Team platform · Cursor", "alice@example.com · Claude Code"."""
    who = {"org": "Org", "team": f"Team {scope_id}"}.get(scope, scope_id)
    return f"{who} · {'all tools' if tool == ALL_TOOLS else tool_name}"


def alert_text(message: AlertMessage) -> str:
    month = message.month.strftime("%Y-%m")
    return (
        f"Budget {message.budget_name}: {alert_label(message.kind)} in {month} — spent ${message.spent_usd:,.2f}, "
        f"forecast ${message.forecast_usd:,.2f} of ${message.amount_usd:,.2f}."
    )


def slack_body(message: AlertMessage) -> dict[str, object]:
    """A Slack incoming-webhook body: the text and blocks with a link back to the budgets page."""
    text = alert_text(message)
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{_slack_escape(text)}*"}},
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"<{message.url}|Open budgets in Abacus>"}],
            },
        ],
    }


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def generic_body(message: AlertMessage) -> dict[str, object]:
    """The generic webhook's JSON body (docs/operations.md, alerts)."""
    return {
        "budget": message.budget_id,
        "scope": message.scope,
        "scope_id": message.scope_id,
        "tool": message.tool,
        "month": message.month.strftime("%Y-%m"),
        "kind": message.kind,
        "spent_usd": str(cents(message.spent_usd)),
        "forecast_usd": str(cents(message.forecast_usd)),
        "amount_usd": str(cents(message.amount_usd)),
        "url": message.url,
    }


def encode_body(body: Mapping[str, object]) -> bytes:
    """The exact bytes sent (and signed): compact JSON, keys in order."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def signature(secret: str, body: bytes) -> str:
    """`X-Abacus-Signature`: `sha256=` + the hex HMAC-SHA256 of the body under the secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(signature(secret, body), header)

"""Live figures of today (docs/metrics.md §13): burn rate over the last hour and the projected end-of-day spend.

Pure: amounts and moments in, amounts out. Days are UTC days, like every other day in Abacus.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

BURN_WINDOW = timedelta(minutes=60)
ACTIVE_WINDOW = timedelta(minutes=15)
CENT = Decimal("0.01")
NO_COST = Decimal("0.00")


def burn_rate_per_hour(cost_in_window: Decimal, window: timedelta = BURN_WINDOW) -> Decimal:
    """M-LIVE-BURN: USD per hour = the cost whose points fall in the last `window`, scaled to one hour."""
    if window <= timedelta(0):
        raise ValueError("the burn window must be positive")
    if not cost_in_window:  # most people most of the time (nobody's points in the window): no arithmetic
        return NO_COST
    return (cost_in_window * Decimal(3600) / Decimal(int(window.total_seconds()))).quantize(
        CENT, rounding=ROUND_HALF_UP
    )


def hours_left_today(now: datetime) -> Decimal:
    """Hours from `now` to the next UTC midnight (0 < h ≤ 24)."""
    moment = now.astimezone(UTC)
    midnight = datetime(moment.year, moment.month, moment.day, tzinfo=UTC) + timedelta(days=1)
    return Decimal(int((midnight - moment).total_seconds())) / Decimal(3600)


def projected_end_of_day(spent_today: Decimal, burn_per_hour: Decimal, now: datetime) -> Decimal:
    """M-LIVE-EOD: spend so far today plus the burn rate held for the hours left until UTC midnight."""
    ahead = burn_per_hour * hours_left_today(now) if burn_per_hour else NO_COST
    return (spent_today + ahead).quantize(CENT, rounding=ROUND_HALF_UP)

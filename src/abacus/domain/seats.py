"""Seats and licences (docs/metrics.md §11, M-SEAT-PRICE): monthly prices by plan, as pure functions."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal, InvalidOperation


class PriceListError(ValueError):
    """A price list setting that cannot be read (the message names the bad entry)."""


def parse_plan_prices(text: str) -> dict[str, Decimal]:
    """`business=19,enterprise=39` → {"business": 19, "enterprise": 39} (plans lower-cased); a bare number is the
    price of every plan (key "*"). Empty entries are skipped; a malformed or negative price raises PriceListError."""
    prices: dict[str, Decimal] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        plan, equals, amount = entry.partition("=")
        if not equals:
            plan, amount = "*", entry
        try:
            price = Decimal(amount.strip())
        except InvalidOperation:
            raise PriceListError(f"{entry!r}: {amount.strip()!r} is not a price in USD") from None
        if not price.is_finite() or price < 0:
            raise PriceListError(f"{entry!r}: a price must be a number ≥ 0")
        prices[plan.strip().lower() or "*"] = price
    return prices


def plan_price(plan: str | None, prices: dict[str, Decimal]) -> Decimal:
    """The monthly price of a seat on `plan`: its own entry, else the "*" entry, else 0 (an unknown plan)."""
    if plan is not None and plan.lower() in prices:
        return prices[plan.lower()]
    return prices.get("*", Decimal(0))


def last_active(vendor: date | None, *reported: date | None) -> date | None:
    """M-SEAT-LAST-ACTIVE: the latest of the vendor's last activity and the last days with usage or activity."""
    days = [day for day in (vendor, *reported) if day is not None]
    return max(days) if days else None


def idle_days(last: date | None, since: date, today: date) -> int:
    """Days since the person last used the tool (since the seat began when never used), never negative."""
    return max((today - (last if last is not None else since)).days, 0)


def is_idle(last: date | None, since: date, today: date, threshold_days: int) -> bool:
    """M-IDLE-SEAT: never active, or no activity with the tool for `threshold_days` days. Activity before the seat's
    `since` counts: a Cursor seat is dated from the sync that first listed it, not from when it was bought."""
    if last is None:
        return True
    return (today - last).days >= threshold_days


def seat_cost(monthly_price: Decimal, held_from: date, held_until: date | None, start: date, end: date) -> Decimal:
    """M-SEAT-COST: the price × the months of [start, end] the seat was held, pro rata by day (each held day costs
    price / days in its calendar month); `held_until` None = still held (ended seats count up to their last day)."""
    first = max(held_from, start)
    last = min(held_until, end) if held_until is not None else end
    total = Decimal(0)
    day = first
    while day <= last:
        month_end = date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)
        stop = min(month_end, last)
        total += monthly_price * ((stop - day).days + 1) / month_end.day
        day = stop + timedelta(days=1)
    return total

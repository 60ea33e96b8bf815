"""Seats and licences (docs/metrics.md §11, M-SEAT-PRICE): monthly prices by plan, as pure functions."""

from __future__ import annotations

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

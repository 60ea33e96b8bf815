"""Strict readers of values in provider JSON: a wrong type or an oversized string is a ProviderError naming the
field, never a guess and never a database error later."""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation
from typing import Any

from abacus.records import ProviderError


def token_count(value: Any, where: str) -> int:
    """A token count: missing (None) → 0, an integral non-negative number → int, anything else → ProviderError."""
    if value is None:
        return 0
    integral = isinstance(value, int) or (isinstance(value, float) and math.isfinite(value) and value.is_integer())
    if isinstance(value, bool) or not integral or value < 0:
        raise ProviderError(f"{where}: {value!r} is not a token count")
    return int(value)


def cents_to_dollars(value: Any, where: str) -> Decimal:
    """An amount in US cents (JSON number) → exact dollars: 450 → 4.5, 5.2 → 0.052; missing → 0."""
    if value is None:
        return Decimal(0)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProviderError(f"{where}: {value!r} is not an amount in cents")
    try:
        cents = Decimal(str(value))
    except InvalidOperation:
        raise ProviderError(f"{where}: {value!r} is not an amount in cents") from None
    if not cents.is_finite():
        raise ProviderError(f"{where}: {value!r} is not an amount in cents")
    return cents / 100


# Column widths of usage_records (docs/schema.md): raw_model 128, organization_id 64, customer_type 32. Identities are
# capped so that `unmapped:<identity>` still fits the 255-character email column.
MAX_IDENTITY_ID = 200


def optional_text(value: Any, where: str, *, max_length: int) -> str | None:
    """A string field that may be absent: None stays None, a non-string or a longer string raises ProviderError."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProviderError(f"{where}: {value!r} is not a string")
    if len(value) > max_length:
        raise ProviderError(f"{where}: {value[:40]!r}… is longer than {max_length} characters")
    return value

"""Small usage metrics shared by every surface (docs/metrics.md §0.1, §1, §6)."""

from __future__ import annotations

from fractions import Fraction

from abacus.domain.periods import round_half_up


def token_total(input: int, cache_write: int, cache_read: int, output: int) -> int:
    """`tok(r)`: all four token counts, cache tokens included, on every surface (CLI too)."""
    return input + cache_write + cache_read + output


def average_per_user(mapped_total: int, users: int) -> int:
    """M-AVG-USER-TOKENS: `round(mapped tokens / users)`, 0 when there are no users."""
    if users <= 0:
        return 0
    return round_half_up(Fraction(mapped_total, users))


def rate_percent(part: int, whole: int) -> int:
    """M-AI-RATE and integer shares: `round(part / whole × 100)`, 0 when `whole` is 0."""
    if whole <= 0:
        return 0
    return round_half_up(Fraction(part * 100, whole))

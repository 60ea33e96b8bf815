"""Activity metrics (docs/metrics.md, M-ACCEPT and M-COST-1K-LINES): plain arithmetic over stored daily counts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction


def acceptance_rate(accepted: int, suggested: int) -> Fraction | None:
    """M-ACCEPT: accepted / suggested as an exact fraction (0 … 1); None when nothing was suggested."""
    if suggested <= 0:
        return None
    return Fraction(accepted, suggested)


def cost_per_1k_lines(cost: Decimal, lines_added: int) -> Decimal | None:
    """M-COST-1K-LINES: cost / (lines added / 1000); None when no line was added (the figure has no meaning)."""
    if lines_added <= 0:
        return None
    return cost * 1000 / lines_added

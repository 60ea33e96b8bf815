"""What the seats page, its CSV export and /api/v1/seats share: the view for a request's range and filters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.tools import KNOWN_TOOLS
from abacus.domain.visibility import Viewer
from abacus.queries.seats import SeatLine, SeatsView, seats_view
from abacus.web.params import one_of


async def seats_for_request(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    rng: DateRange,
    tool: str | None,
    team_slug: str | None,
    viewer: Viewer,
) -> SeatsView:
    """The seats view of the range, optionally one tool (a bad tool is a 400 naming `tool`) and one team's members
    (`team_slug`, already validated by the team filter); seat lines of the people `viewer` may see."""
    chosen = one_of("tool", tool, KNOWN_TOOLS, "") or None
    idle_after = request.app.state.settings.seats.idle_days
    return await seats_view(db, rng, idle_after_days=idle_after, tool=chosen, team_slug=team_slug, viewer=viewer)


# Ascending order of each column; `dir=desc` reverses it (ties broken by person, then tool, either way).
SORT_KEYS: dict[str, Callable[[SeatLine], tuple[Any, ...]]] = {
    "idle_days": lambda s: (s.idle_days, s.email, s.tool),
    "email": lambda s: (s.email, s.tool),
    "tool": lambda s: (s.tool, s.email),
    "plan": lambda s: (s.plan or "", s.email, s.tool),
    "since": lambda s: (s.since, s.email, s.tool),
    "last_active": lambda s: (s.last_active is not None, s.last_active or s.since, s.email, s.tool),
    "price": lambda s: (s.monthly_price, s.email, s.tool),
}


def seat_rows(
    seats: list[SeatLine], *, idle_only: bool, search: str | None, sort: str, descending: bool
) -> list[SeatLine]:
    """The seat table: idle seats only when asked, those whose email or vendor identity contains `search` (any case),
    in the chosen order."""
    needle = (search or "").lower()
    kept = [
        s
        for s in seats
        if (not idle_only or s.idle) and (not needle or needle in s.email.lower() or needle in s.identity.lower())
    ]
    return sorted(kept, key=SORT_KEYS[sort], reverse=descending)

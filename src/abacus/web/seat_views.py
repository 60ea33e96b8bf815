"""What the seats page, its CSV export and /api/v1/seats share: the view for a request's range and filters."""

from __future__ import annotations

from typing import Any

from litestar import Request
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.periods import DateRange
from abacus.domain.tools import KNOWN_TOOLS
from abacus.queries.seats import SeatsView, seats_view
from abacus.web.params import one_of


async def seats_for_request(
    request: Request[Any, Any, Any], db: AsyncSession, rng: DateRange, tool: str | None
) -> SeatsView:
    """The seats view of the range, optionally one tool (a bad tool is a 400 naming `tool`)."""
    chosen = one_of("tool", tool, KNOWN_TOOLS, "") or None
    return await seats_view(db, rng, idle_after_days=request.app.state.settings.seats.idle_days, tool=chosen)

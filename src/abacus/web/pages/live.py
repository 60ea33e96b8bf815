"""GET /live/today — the Overview's "Today" strip (docs/metrics.md §13), loaded and refreshed by htmx every 30 s
while the tab is visible (`data-poll`, static/app.js). Optional `email`: one person's today (their page)."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.visibility import Viewer
from abacus.queries.live import live_figures, live_totals
from abacus.web.params import email_address, now_utc
from abacus.web.rendering import render


@get("/live/today", name="live_today")
async def live_today(
    request: Request[Any, Any, Any], db: AsyncSession, viewer: NamedDependency[Viewer], email: str | None = None
) -> Template:
    person = email_address("email", email)
    if person is not None and not viewer.sees(person):
        raise NotFoundException("User not found")  # a hidden person's fragment, like their page (docs/security.md §6)
    now = now_utc(request)
    # the Overview's strip shows the totals only: no list of people to build at every poll
    live = await (live_figures(db, now, person, viewer) if person else live_totals(db, now))
    return render(request, "fragments/live_today.html", {"live": live, "person": person})

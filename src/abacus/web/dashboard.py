"""GET / — the Overview dashboard."""

from __future__ import annotations

from typing import Any

from litestar import Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.queries.lifetime import lifetime_stats
from abacus.web.rendering import render


@get("/", name="dashboard")
async def dashboard(request: Request[Any, Any, Any], db: AsyncSession) -> Template:
    lifetime = await lifetime_stats(db)
    return render(request, "pages/dashboard.html", {"lifetime": lifetime, "nav": "overview"})

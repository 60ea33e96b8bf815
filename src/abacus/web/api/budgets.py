"""GET /api/v1/budgets — every budget's month: spent, forecast and status (docs/metrics.md §12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.domain.budgets import cents
from abacus.domain.visibility import Viewer
from abacus.queries.teams import team_slugs
from abacus.services.budgets import budgets_for_month
from abacus.web.budget_views import budget_month, budget_team
from abacus.web.params import now_utc

TAGS = ["budgets"]
Month = Annotated[str | None, Parameter(description="YYYY-MM (default: the current UTC month)")]
TeamSlug = Annotated[str | None, Parameter(description="Only this team's budgets and its members' (a team slug)")]


@dataclass
class BudgetJSON:
    id: int
    scope: str
    scope_id: str
    tool: str
    amount_usd: float
    spent_usd: float
    forecast_usd: float
    status: str


@dataclass
class BudgetsJSON:
    month: str
    budgets: list[BudgetJSON]


@get("/api/v1/budgets", name="api_budgets", tags=TAGS, summary="Budgets with spent, forecast and status")
async def api_budgets(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    viewer: NamedDependency[Viewer],
    month: Month = None,
    team: TeamSlug = None,
) -> BudgetsJSON:
    """M-BUDGET-SPENT, M-BUDGET-FORECAST and M-BUDGET-STATUS (on_track, at_risk, over) of every budget for a month
    that the signed-in person may see (docs/security.md §6)."""
    now = now_utc(request)
    chosen = budget_month(month, now.date())
    slug = budget_team(team, {s for s, _ in await team_slugs(db, viewer)})
    figures = await budgets_for_month(db, chosen, now, team=slug, viewer=viewer)
    return BudgetsJSON(
        month=f"{chosen:%Y-%m}",
        budgets=[
            BudgetJSON(
                id=f.budget.id,
                scope=f.budget.scope,
                scope_id=f.budget.scope_id,
                tool=f.budget.tool,
                amount_usd=float(f.amount_usd),
                spent_usd=float(cents(f.spent_usd)),
                forecast_usd=float(cents(f.forecast_usd)),
                status=f.status,
            )
            for f in figures
        ],
    )

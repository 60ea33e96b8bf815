"""GET /budgets (every budget's month: spent, forecast, status, burn chart, alert history) and its admin writes:
create or edit a budget, delete one — each in one transaction with its audit event (docs/metrics.md §12)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from abacus.auth.guards import require_admin, session_user
from abacus.domain.budgets import (
    ALL_TOOLS,
    CHANNELS,
    SCOPES,
    STATUS_LABELS,
    BudgetInputError,
    alert_label,
    month_of,
)
from abacus.domain.tools import KNOWN_TOOLS, TOOL_NAMES
from abacus.domain.visibility import EVERYONE, Viewer
from abacus.queries.teams import team_slugs
from abacus.services.budgets import (
    BudgetNotFound,
    alert_history,
    budget_input,
    budgets_for_month,
    delete_budget,
    list_budgets,
    save_budget,
    visible_budgets,
)
from abacus.web.budget_views import budget_month, budget_team, burn_chart
from abacus.web.params import now_utc
from abacus.web.rendering import is_htmx, render

FRAGMENTS = {"budgets-body": "fragments/budgets_body.html"}
FormData = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
FIELD_LIMIT = 400


async def _page(
    request: Request[Any, Any, Any], db: AsyncSession, month_text: str | None = None, *, status_code: int = 200,
    team_text: str | None = None, viewer: Viewer = EVERYONE, **extra: Any,
) -> Template:  # fmt: skip
    now = now_utc(request)
    month = budget_month(month_text, now.date())
    teams = await team_slugs(db, viewer)
    team = budget_team(team_text, {s for s, _ in teams})
    figures = await budgets_for_month(db, month, now, team=team, viewer=viewer)
    shown = None if viewer.sees_everyone else [b.id for b in await visible_budgets(db, await list_budgets(db), viewer)]
    alerts = await alert_history(db, budget_ids=shown)
    settings = request.app.state.settings
    context = {
        "nav": "budgets",
        "month": month,
        "team": team or "",
        "teams": teams,
        "current_month": month_of(now.date()),
        "budgets": [(f, burn_chart(f)) for f in figures],
        "names": {f.budget.id: f.name for f in figures},
        "alerts": alerts,
        "status_labels": STATUS_LABELS,
        "alert_label": alert_label,
        "scopes": SCOPES,
        "tools": [(ALL_TOOLS, "All tools"), *((t, TOOL_NAMES.get(t, t)) for t in KNOWN_TOOLS)],
        "tool_names": TOOL_NAMES,
        "channels": CHANNELS,
        "configured_channels": [c for c in CHANNELS if settings.alerts.url(c)],
        **extra,
    }
    error = extra.get("error")
    if error is not None:  # said in its form when that form is on the page (only admins save), else above the budgets
        context["error_in_form"] = error.get("form") in {"new", *(f"b{f.budget.id}" for f in figures)}
    return render(request, "pages/budgets.html", context, fragments=FRAGMENTS, status_code=status_code)


@get("/budgets", name="budgets")
async def budgets_page(
    request: Request[Any, Any, Any],
    db: AsyncSession,
    viewer: NamedDependency[Viewer],
    month: str | None = None,
    team: str | None = None,
) -> Template:
    return await _page(request, db, month, team_text=team, viewer=viewer)


def _text(data: dict[str, Any], name: str) -> str:
    value = data.get(name, "")
    if isinstance(value, list):  # a repeated field where one is expected
        raise BudgetInputError(f"{name}: give one value")
    if not isinstance(value, str):
        raise BudgetInputError(f"{name}: must be text")
    if len(value) > FIELD_LIMIT:
        raise BudgetInputError(f"{name}: longer than {FIELD_LIMIT} characters")
    if "\x00" in value:
        raise BudgetInputError(f"{name}: contains a NUL character")
    return value


def _channels(data: dict[str, Any]) -> list[str]:
    raw = data.get("channels", [])
    values = raw if isinstance(raw, list) else [raw]
    if not all(isinstance(v, str) and len(v) <= 20 and "\x00" not in v for v in values):
        raise BudgetInputError("channels: not a list of channel names")
    return [str(v) for v in values]


def _budget_id(data: dict[str, Any]) -> int | None:
    raw = _text(data, "id").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:
        raise BudgetInputError(f"id: {raw[:20]!r} is not a budget id")
    return int(raw)


LABELS = {
    "scope": "Scope",
    "scope_id": "Team slug or email",
    "tool": "Tool",
    "amount_usd": "Monthly USD",
    "thresholds": "Thresholds %",
    "channels": "Alerts to",
    "id": "Budget",
}
"""The form's labels of the fields a refusal names (its message starts "<field>: …")."""


def _form_error(data: dict[str, Any], exc: Exception) -> dict[str, str]:
    """What the page says about a refused save, and where: `form` names the form it came from ("new" or "b<id>", the
    template's prefix), so the reason and the typed values show in that form; `field` the value refused."""
    raw_id = str(data.get("id") or "").strip()[:20]
    field, _, reason = str(exc).partition(": ")
    named = field in LABELS and reason
    return {
        "key": raw_id or "new budget",
        "message": f"{LABELS[field]}: {reason}" if named else str(exc),
        "form": f"b{raw_id}" if raw_id else "new",
        "field": field if named else "",
    }


def _typed(data: dict[str, Any]) -> dict[str, Any]:
    """The submitted values to show again: text fields as sent, the checked channels as a list."""
    raw = data.get("channels", [])
    channels = [str(c) for c in (raw if isinstance(raw, list) else [raw])]
    return {**{k: v for k, v in data.items() if isinstance(v, str)}, "channels": channels}


async def _after_write(request: Request[Any, Any, Any], db: AsyncSession, notice: str) -> Template | Redirect:
    if not is_htmx(request):
        return Redirect("/budgets", status_code=303)
    return await _page(request, db, notice=notice)


@post("/budgets", guards=[require_admin], status_code=200)
async def save_budget_form(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Create a budget, or edit budget `id`; a refused value re-renders the page with the reason (400)."""
    admin = str(session_user(request)["email"])  # type: ignore[index]
    try:
        budget_id = _budget_id(data)
        fields = budget_input(
            scope=_text(data, "scope"),
            scope_id=_text(data, "scope_id"),
            tool=_text(data, "tool"),
            amount_usd=_text(data, "amount_usd"),
            thresholds=_text(data, "thresholds"),
            include_seats=_text(data, "include_seats") in ("on", "yes", "true", "1"),
            channels=_channels(data),
        )
        async with db.begin():
            budget = await save_budget(db, fields, actor=admin, budget_id=budget_id)
    except (BudgetInputError, BudgetNotFound) as exc:
        return await _page(request, db, status_code=400, error=_form_error(data, exc), form=_typed(data))
    verb = "Saved" if budget_id is not None else "Saved new"
    return await _after_write(request, db, f"{verb} budget {budget.id}.")


@post("/budgets/delete", guards=[require_admin], status_code=200)
async def delete_budget_form(request: Request[Any, Any, Any], db: AsyncSession, data: FormData) -> Template | Redirect:
    """Two steps, both plain forms: "Delete" asks once on the page, "Yes, delete" deletes (with its alerts)."""
    admin = str(session_user(request)["email"])  # type: ignore[index]
    try:
        budget_id = _budget_id(data)
        if budget_id is None:
            raise BudgetInputError("id: which budget?")
        if data.get("confirm") != "yes":
            return await _page(request, db, confirm_delete=budget_id)
        async with db.begin():
            await delete_budget(db, budget_id, actor=admin)
    except (BudgetInputError, BudgetNotFound) as exc:
        key = str(data.get("id") or "")[:20]
        return await _page(request, db, status_code=400, error={"key": key, "message": str(exc)})
    return await _after_write(request, db, f"Deleted budget {budget_id} and its alert history.")

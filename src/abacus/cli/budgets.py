"""`abacus budgets list|set|delete` and `abacus alerts test CHANNEL` (docs/operations.md §12).

Every change is audited with the actor `cli:<operating-system user>`, like an admin's edit on /budgets.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import typer
from rich.table import Table

from abacus.cli.common import console, fail, run_with_context
from abacus.sync.context import SyncContext

app = typer.Typer(help="Budgets: monthly spending caps per org, team or person, with alerts.", no_args_is_help=True)
alerts_app = typer.Typer(help="Budget alerts: try a delivery channel.", no_args_is_help=True)


@app.command("list")
def budgets_list(
    month: str = typer.Option("", help="YYYY-MM (default: this UTC month)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """Every budget with this month's spent, forecast and status (docs/metrics.md §12)."""
    from abacus.domain.budgets import STATUS_LABELS, BudgetInputError, cents, month_of, parse_month
    from abacus.services.budgets import budgets_for_month

    now = datetime.now(UTC)
    try:
        chosen = parse_month(month) if month else month_of(now.date())
    except BudgetInputError as exc:
        fail(str(exc))

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db:
            return await budgets_for_month(db, chosen, now)

    figures = run_with_context(work, progress=False)
    if as_json:
        body = [
            {
                "id": f.budget.id,
                "scope": f.budget.scope,
                "scope_id": f.budget.scope_id,
                "tool": f.budget.tool,
                "amount_usd": str(f.amount_usd),
                "spent_usd": str(cents(f.spent_usd)),
                "forecast_usd": str(cents(f.forecast_usd)),
                "status": f.status,
                "thresholds": list(f.budget.thresholds),
                "include_seats": f.budget.include_seats,
                "channels": list(f.budget.channels),
            }
            for f in figures
        ]
        console.print_json(json.dumps({"month": f"{chosen:%Y-%m}", "budgets": body}))
        return
    if not figures:
        console.print("no budgets (add one with `abacus budgets set org --amount 1000`)")
        return
    table = Table("id", "budget", "amount", "spent", "forecast", "status", "thresholds", "channels")
    for f in figures:
        table.add_row(
            str(f.budget.id),
            f.name,
            f"${f.amount_usd:,.2f}",
            f"${cents(f.spent_usd):,.2f}",
            f"${cents(f.forecast_usd):,.2f}",
            STATUS_LABELS[f.status],
            ",".join(str(t) for t in f.budget.thresholds),
            ",".join(f.budget.channels) or "—",
        )
    console.print(table)
    console.print(f"{chosen:%Y-%m}: {len(figures)} budget(s)")


@app.command("set")
def budgets_set(
    scope: str = typer.Argument(..., help="org, team or person"),
    scope_id: str = typer.Argument("", help="The team's slug or the person's email (none for org)"),
    amount: str = typer.Option(..., "--amount", help="Monthly amount in USD"),
    tool: str = typer.Option("all", help="A tool key (claude_code, cursor, github_copilot, …) or all"),
    thresholds: str = typer.Option("50,80,100", help="Alert thresholds in percent"),
    seats: bool = typer.Option(False, "--seats/--no-seats", help="Count seat cost as spent"),
    channel: list[str] = typer.Option([], "--channel", help="slack and/or webhook (repeat the option)"),
) -> None:
    """Create the budget of SCOPE [SCOPE_ID] and --tool, or update it when it exists (audited)."""
    from abacus.domain.budgets import BudgetInputError
    from abacus.services.audit import cli_actor
    from abacus.services.budgets import budget_input, budget_json, save_budget

    try:
        fields = budget_input(
            scope=scope, scope_id=scope_id, tool=tool, amount_usd=amount, thresholds=thresholds,
            include_seats=seats, channels=channel,
        )  # fmt: skip
    except BudgetInputError as exc:
        fail(str(exc))

    async def work(ctx: SyncContext) -> dict[str, Any]:
        async with ctx.sessionmaker() as db, db.begin():
            return budget_json(await save_budget(db, fields, actor=cli_actor()))

    try:
        saved = run_with_context(work, progress=False)
    except BudgetInputError as exc:
        fail(str(exc))
    console.print(
        f"budget {saved['id']}: {saved['scope']} {saved['scope_id'] or ''} {saved['tool']} ${saved['amount_usd']} a"
        f" month, thresholds {','.join(str(t) for t in saved['thresholds'])}, alerts to"
        f" {','.join(saved['channels']) or 'nowhere'}"
    )


@app.command("delete")
def budgets_delete(budget_id: int = typer.Argument(..., help="The budget's id (see `abacus budgets list`)")) -> None:
    """Delete a budget and its alert history (audited)."""
    from abacus.services.audit import cli_actor
    from abacus.services.budgets import BudgetNotFound, delete_budget

    async def work(ctx: SyncContext) -> None:
        async with ctx.sessionmaker() as db, db.begin():
            await delete_budget(db, budget_id, actor=cli_actor())

    try:
        run_with_context(work, progress=False)
    except BudgetNotFound as exc:
        fail(str(exc))
    console.print(f"deleted budget {budget_id}")


@alerts_app.command("test")
def alerts_test(channel: str = typer.Argument(..., help="slack or webhook")) -> None:
    """Send a test alert through CHANNEL now and show what the receiver answered (nothing is stored)."""
    from abacus.cli.common import settings_or_exit
    from abacus.domain.budgets import CHANNELS, AlertMessage, month_of
    from abacus.services.alert_delivery import budgets_url, request_for

    if channel not in CHANNELS:
        fail(f"channel: {channel!r} is not one of {', '.join(CHANNELS)}")
    settings = settings_or_exit()
    today = datetime.now(UTC).date()
    message = AlertMessage(
        budget_id=0,
        budget_name="Test budget · all tools",
        scope="org",
        scope_id="",
        tool="all",
        month=month_of(today),
        kind="test",
        spent_usd=Decimal("80.00"),
        forecast_usd=Decimal("120.00"),
        amount_usd=Decimal("100.00"),
        url=budgets_url(settings, f"{today:%Y-%m}", 0),
    )
    try:
        url, body, headers = request_for(settings, channel, message)
    except ValueError as exc:
        fail(f"{channel}: {exc}")

    async def send() -> httpx.Response:
        async with httpx.AsyncClient() as client:
            return await client.post(url, content=body, headers=headers, timeout=10.0)

    try:
        response = asyncio.run(send())
    except httpx.HTTPError as exc:
        fail(f"{channel}: could not reach the receiver ({type(exc).__name__})")
    if not response.is_success:
        fail(f"{channel}: the receiver answered HTTP {response.status_code}: {response.text[:200]}")
    console.print(f"{channel}: delivered (HTTP {response.status_code})")

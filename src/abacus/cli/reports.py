"""`abacus gaps`, `abacus status`, `abacus stats`: what is stored and how fresh it is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer
from rich.table import Table
from sqlalchemy import text

from abacus.cli.common import (
    console,
    query_rows,
    run_with_context,
    timestamp,
)
from abacus.sync.context import SyncContext

app = typer.Typer()


@app.command()
def gaps(tool: str = typer.Argument(None, help="Only this tool (claude_code, cursor, …).")) -> None:
    """List UTC days without usage inside each tool's covered span."""
    rows = query_rows(
        """
        WITH spans AS (SELECT tool, MIN(date) lo, MAX(date) hi FROM usage_daily
                       WHERE (CAST(:tool AS text) IS NULL OR tool = :tool) GROUP BY tool)
        SELECT s.tool, d::date AS day FROM spans s, generate_series(s.lo, s.hi, interval '1 day') d
        WHERE NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.tool = s.tool AND u.date = d::date)
        ORDER BY s.tool, day""",
        {"tool": tool},
    )
    if not rows:
        console.print("no gaps: every day inside each tool's span has usage")
        return
    table = Table("tool", "missing day")
    for row in rows:
        table.add_row(row.tool, row.day.isoformat())
    console.print(table)


@app.command()
def status() -> None:
    """Print each provider's sync state per key and repository: the status page's figures (same query)."""
    from abacus.queries.status import ProviderStatus, provider_statuses

    async def work(ctx: SyncContext) -> list[ProviderStatus]:
        async with ctx.sessionmaker() as db:
            return await provider_statuses(db, ctx.settings, datetime.now(UTC))

    providers = run_with_context(work, progress=False)
    table = Table("provider", "key", "sync", "last synced", "backfill", "records last run", "last error")
    for provider in providers:
        if not provider.configured:
            table.add_row(provider.name, "", "not configured", "", "", "", "")
        for key in provider.keys:
            backfill = key.backfill_status.replace("_", " ")
            if key.backfill_oldest and key.backfill_status != "complete":
                backfill += f" (back to {key.backfill_oldest})"
            table.add_row(
                provider.name,
                key.label,
                key.sync_status.replace("_", " "),
                timestamp(key.last_synced),
                backfill,
                "" if key.records_last_run is None else f"{key.records_last_run:,}",
                key.last_error or "",
            )
    console.print(table)


@app.command()
def stats() -> None:
    """Counts: usage records per tool, top users by tokens (input + output + cache), date range, mappings."""

    async def work(ctx: SyncContext) -> dict[str, Any]:
        async with ctx.sessionmaker() as db:
            return {
                "records": (await db.execute(text("SELECT COUNT(*) FROM usage_records"))).scalar_one(),
                "tools": list(
                    await db.execute(
                        text(
                            "SELECT tool, SUM(record_count) n, SUM(total_tokens) tokens, SUM(cost) cost "
                            "FROM usage_daily GROUP BY tool ORDER BY tokens DESC"
                        )
                    )
                ),
                "top": list(
                    await db.execute(
                        text(
                            "SELECT email, SUM(total_tokens) tokens FROM usage_daily WHERE email NOT LIKE 'unmapped:%' "
                            "GROUP BY email ORDER BY tokens DESC, email LIMIT 10"
                        )
                    )
                ),
                "span": (await db.execute(text("SELECT MIN(date), MAX(date) FROM usage_daily"))).one(),
                "mappings": (await db.execute(text("SELECT COUNT(*) FROM identity_mappings"))).scalar_one(),
                "commits": (await db.execute(text("SELECT COUNT(*), COUNT(ai_tool) FROM commits"))).one(),
            }

    data = run_with_context(work, progress=False)
    console.print(
        f"usage records: {data['records']:,}   span: {data['span'][0]} → {data['span'][1]}   "
        f"mappings: {data['mappings']:,}   commits: {data['commits'][0]:,} ({data['commits'][1]:,} AI)"
    )
    tools = Table("tool", "records", "tokens", "cost (USD)")
    for row in data["tools"]:
        tools.add_row(row.tool, f"{row.n:,}", f"{row.tokens:,}", f"{row.cost:,.2f}")
    console.print(tools)
    top = Table("#", "user", "tokens")
    for i, row in enumerate(data["top"], 1):
        top.add_row(str(i), row.email, f"{row.tokens:,}")
    console.print(top)

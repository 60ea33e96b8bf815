"""`abacus mappings …`: provider identity → work email."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table
from sqlalchemy import text

from abacus.cli.common import (
    console,
    fail,
    query_rows,
    report_results,
    run_with_context,
    timestamp,
)
from abacus.queries.identities import SHOWN, UnmappedUsage, unmapped_usage
from abacus.sync.context import SyncContext, SyncResult

app = typer.Typer(help="Identity mappings: provider identity → work email.", no_args_is_help=True)
IGNORED_BOTS = text("SELECT source, external_id FROM bot_identities WHERE is_bot")
"""Identities an admin ignored as bots on the Mappings page: `mappings fix` does not ask about them."""


@app.command("list")
def mappings_list(source: str = typer.Option(None, help="claude_code, cursor or github")) -> None:
    """List identity mappings."""
    rows = query_rows(
        "SELECT * FROM identity_mappings WHERE CAST(:s AS text) IS NULL OR source = :s ORDER BY source, external_id",
        {"s": source},
    )
    table = Table("source", "external id", "email", "updated by", "updated at")
    for r in rows:
        table.add_row(r.source, r.external_id, r.email, r.updated_by or "", timestamp(r.updated_at))
    console.print(table if rows else "no mappings")


def _set_mapping(source: str, external_id: str, email: str) -> Any:
    """set_mapping by the CLI in its own transaction: the MappingChange, or MappingError raised."""
    from abacus.services.audit import cli_actor
    from abacus.services.mappings import admin_set_mapping

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db, db.begin():
            return await admin_set_mapping(db, source, external_id, email, actor=cli_actor())

    return run_with_context(work, progress=False)


@app.command("set")
def mappings_set(source: str, external_id: str, email: str) -> None:
    """Map SOURCE EXTERNAL_ID to EMAIL and re-point that identity's usage / commits."""
    from abacus.services.mappings import MappingError

    try:
        change = _set_mapping(source, external_id, email)
    except MappingError as exc:
        fail(str(exc))
    console.print(
        f"mapped {source}:{external_id} → {email} ({change.usage_rows} usage rows, {change.commits} commits re-pointed)"
    )


@app.command("delete")
def mappings_delete(source: str, external_id: str) -> None:
    """Remove a mapping; its rows fall back to unmapped."""
    from abacus.services.audit import cli_actor
    from abacus.services.mappings import MappingError, admin_delete_mapping

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db, db.begin():
            return await admin_delete_mapping(db, source, external_id, actor=cli_actor())

    try:
        change = run_with_context(work, progress=False)
    except MappingError as exc:
        fail(str(exc))
    console.print(f"removed {source}:{external_id} ({change.usage_rows} usage rows, {change.commits} commits)")


@app.command("sync")
def mappings_sync() -> None:
    """Pull API-key → email (Anthropic) and member → email (GitHub) mappings from the providers."""

    async def work(ctx: SyncContext) -> list[SyncResult]:
        from abacus.providers import registry, runner  # loaded by the command that runs, not by --help

        results: list[SyncResult] = []
        for provider in registry.PROVIDERS:
            if provider.sync_mappings is not None and registry.configured(ctx.settings, provider):
                results += await runner.run_mappings(ctx, provider)
        return results

    report_results(run_with_context(work))


@app.command("fix")
def mappings_fix() -> None:
    """Interactively map unmapped identities (largest usage first)."""
    from abacus.services.mappings import MappingError

    async def work(ctx: SyncContext) -> list[UnmappedUsage]:
        async with ctx.sessionmaker() as db:
            bots = {tuple(r) for r in await db.execute(IGNORED_BOTS)}
            return [u for u in await unmapped_usage(db) if (u.source, u.external_id) not in bots]

    rows = run_with_context(work, progress=False)[:SHOWN]
    if not rows:
        console.print("nothing to fix: every usage row belongs to a person")
        return
    for row in rows:
        source, external_id = row.source, row.external_id
        email = typer.prompt(
            f"{row.identity} ({row.records} records, {row.tokens:,} tokens) → email (empty to skip)",
            default="",
            show_default=False,
        )
        if not email:
            continue
        try:
            change = _set_mapping(source, external_id, email)
            console.print(f"  mapped; {change.usage_rows} rows re-pointed")
        except MappingError as exc:
            console.print(f"  [red]{exc}[/]")

"""`abacus import …`: provider exports (Cursor CSV)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from abacus.cli.common import (
    console,
    fail,
    run_with_context,
    settings_or_exit,
)
from abacus.sync.context import SyncContext

app = typer.Typer(help="Import provider exports.", no_args_is_help=True)


@app.command("cursor-csv")
def import_cursor_csv(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    org: str = typer.Option(None, "--org", help="Cursor team label the rows belong to."),
) -> None:
    """Import a Cursor usage CSV export: whole-file validation first, all-or-nothing, idempotent."""
    from abacus.providers.cursor_csv import CsvImportError, csv_organization_id, describe_import
    from abacus.providers.cursor_csv import import_cursor_csv as run_import

    organization_id = csv_organization_id(settings_or_exit(), org)
    data = file.read_bytes()

    async def work(ctx: SyncContext) -> Any:
        return await run_import(ctx.sessionmaker, data, organization_id=organization_id)

    try:
        result = run_with_context(work, progress=False)
    except CsvImportError as exc:
        for line in exc.errors:
            console.print(f"[red]{line}[/]")
        fail(f"{file.name}: {len(exc.errors)} error(s); nothing was imported")
    console.print(f"imported {file.name}: {describe_import(result)}")

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
from abacus.sync.context import Progress, SyncContext

app = typer.Typer(help="Import provider exports.", no_args_is_help=True)

STAGES = {
    "validating": "Validating every row",
    "checking": "Looking for rows already stored",
    "writing": "Writing rows (one transaction)",
    "summing": "Refreshing totals",
}


class StageBar:
    """Turns the import's `(stage, done, total)` reports into one rich bar per stage."""

    def __init__(self, sink: Progress) -> None:
        self.sink, self.stage, self.done = sink, "", 0

    async def __call__(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.sink.start(STAGES.get(stage, stage), total)
            self.stage, self.done = stage, 0
        self.sink.advance(done - self.done)
        self.done = done


@app.command("cursor-csv")
def import_cursor_csv(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
    org: str = typer.Option(
        None, "--org", help="Cursor team label the rows belong to (required when several teams are configured)."
    ),
) -> None:
    """Import a Cursor usage CSV export: whole-file validation first, all-or-nothing, idempotent."""
    from abacus.providers.cursor_csv import CsvImportError, csv_organization_id, describe_import
    from abacus.providers.cursor_csv import import_cursor_csv as run_import
    from abacus.services.audit import cli_actor

    try:
        organization_id = csv_organization_id(settings_or_exit(), org)
    except CsvImportError as exc:
        fail(exc.errors[0])
    data = file.read_bytes()

    async def work(ctx: SyncContext) -> Any:
        return await run_import(
            ctx.sessionmaker,
            data,
            organization_id=organization_id,
            progress=StageBar(ctx.progress),
            actor=cli_actor(),
            file_name=file.name,
        )

    try:
        result = run_with_context(work)
    except CsvImportError as exc:
        for line in exc.errors:
            console.print(line, style="red", markup=False, highlight=False)
        fail(f"{file.name}: {exc.summary}; nothing was imported")
    console.print(f"imported {file.name} into {organization_id}: {describe_import(result)}", markup=False)

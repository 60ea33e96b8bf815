"""`abacus db …`: Alembic migrations and the rollup checks."""

from __future__ import annotations

from datetime import date

import typer
from sqlalchemy import text

from abacus.cli.common import (
    console,
    fail,
    run_with_context,
    services_running,
)
from abacus.sync.context import SyncContext

app = typer.Typer(help="Database schema (Alembic migrations) and rollup checks.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default head). Running it twice is a no-op."""
    from abacus import migrate as migrations

    with services_running() as runtime:
        url = runtime.settings.database.url or ""
        migrations.upgrade(url, revision)
        console.print(f"database at revision [bold]{migrations.current_revision(url)}[/]")


@app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from abacus import migrate as migrations

    with services_running() as runtime:
        console.print(migrations.current_revision(runtime.settings.database.url or "") or "(empty database)")


@app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base or -1.")) -> None:
    """Revert migrations down to REVISION."""
    from abacus import migrate as migrations

    with services_running() as runtime:
        url = runtime.settings.database.url or ""
        migrations.downgrade(url, revision)
        console.print(f"database at revision {migrations.current_revision(url) or 'base'}")


@app.command("verify-rollups")
def verify_rollups() -> None:
    """Prove the usage and commit rollups equal the SQL sums of usage_records and commits (exit 1 when not)."""
    from abacus.rollups import rollup_mismatches

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db:
            return await rollup_mismatches(db)

    mismatches = run_with_context(work, progress=False)
    if mismatches:
        fail(f"{mismatches} rollup row(s) differ from usage_records — run `abacus db rebuild-rollups`")
    console.print("rollups match usage_records exactly; the dedupe key makes duplicate rows impossible")


@app.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Recompute every usage rollup from usage_records and every commit rollup from commits (one transaction)."""
    from abacus.rollups import rebuild_commit_rollup, rebuild_derived, refresh_rollup

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db, db.begin():
            slices = [
                (r.date, r.tool)
                for r in await db.execute(
                    text(
                        "SELECT DISTINCT date, tool FROM usage_records "
                        "UNION SELECT DISTINCT date, tool FROM usage_daily"
                    )
                )
            ]
            await refresh_rollup(db, slices)
            await rebuild_derived(db)
            await rebuild_commit_rollup(db)
            return len(slices)

    console.print(f"rebuilt {run_with_context(work, progress=False):,} (date, tool) slices")


@app.command("renormalize-models")
def renormalize_models() -> None:
    """Re-derive usage_records.model from raw_model with the current normalisation, then refresh rollups."""
    from abacus.domain.modelnames import normalize_model_name
    from abacus.rollups import refresh_rollup

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db, db.begin():
            pairs = list(await db.execute(text("SELECT DISTINCT raw_model, model FROM usage_records")))
            changed = 0
            slices: set[tuple[date, str]] = set()
            for raw, model in pairs:
                wanted = normalize_model_name(raw) if raw is not None else model
                if wanted != model:
                    result = await db.execute(
                        text(
                            "UPDATE usage_records SET model = :m, updated_at = now() "
                            "WHERE raw_model = :r AND model <> :m RETURNING date, tool"
                        ),
                        {"m": wanted, "r": raw},
                    )
                    touched = list(result)
                    changed += len(touched)
                    slices.update((r.date, r.tool) for r in touched)
            await refresh_rollup(db, slices)
            return changed

    console.print(f"{run_with_context(work, progress=False):,} usage rows re-normalised")

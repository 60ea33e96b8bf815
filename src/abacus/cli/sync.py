"""`abacus sync` and `abacus backfill …`: run provider syncs inline with a progress bar."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import typer
from sqlalchemy import text

from abacus.cli.common import (
    PROVIDER_HELP,
    chosen_providers,
    console,
    fail,
    one_provider,
    parse_day,
    report_results,
    run_with_context,
)
from abacus.providers.names import PROVIDER_NAMES
from abacus.services.audit import cli_actor, record_audit, sync_state_snapshot
from abacus.sync.context import SyncContext, SyncResult

PROVIDER_NAMES_HELP = ", ".join(PROVIDER_NAMES)
app = typer.Typer()
backfill_app = typer.Typer(
    help="Walk provider history backwards (bounded chunks) or change its state.", no_args_is_help=True
)
app.add_typer(backfill_app, name="backfill")


@app.command()
def sync(
    provider: str = typer.Argument("all", help=PROVIDER_HELP),
    since: str = typer.Option(None, "--since", "--from", help="First UTC day (YYYY-MM-DD), inclusive."),
    until: str = typer.Option(None, "--until", "--to", help="Last UTC day (YYYY-MM-DD), inclusive."),
    days: int = typer.Option(None, help="Last N days (instead of --since/--until)."),
    org: str = typer.Option(None, "--org", help="Only this org/team key label."),
    enqueue: bool = typer.Option(False, "--enqueue", help="Hand the incremental sync to the worker."),
) -> None:
    """Sync usage/commits now (inline, with a progress bar); exits non-zero when any window failed."""
    providers = chosen_providers(provider)
    start, end = parse_day(since, "--since"), parse_day(until, "--until")
    if days is not None:
        if days < 1:
            fail("--days must be at least 1")
        end = datetime.now(UTC).date()
        start = end - timedelta(days=days - 1)
    if (start is None) != (end is None):
        end = end or datetime.now(UTC).date()
        start = start or end
    if start and end and start > end:
        fail(f"--since {start} is after --until {end}")
    if enqueue:
        from abacus.worker.enqueue import enqueue_jobs

        jobs = [job.name for p in providers if (job := p.job("forward")) is not None]

        async def enqueue_and_record(ctx: SyncContext) -> list[str]:
            async with ctx.sessionmaker() as db, db.begin():  # the audit row commits only if the jobs are queued
                queued = await enqueue_jobs(ctx.settings, jobs)
                target = ",".join(p.name for p in providers)
                after = {"jobs": jobs, "queued": queued}
                await record_audit(db, actor=cli_actor(), action="sync.enqueue", target=target, after=after)
            return queued

        names = run_with_context(enqueue_and_record, progress=False)
        console.print(f"enqueued: {', '.join(names) or 'nothing (already queued)'}")
        return

    async def work(ctx: SyncContext) -> list[SyncResult]:
        from abacus.providers import registry, runner  # loaded by the command that runs, not by --help

        results: list[SyncResult] = []
        for chosen in providers:
            if not registry.configured(ctx.settings, chosen):
                console.print(f"[yellow]{chosen.name}: not configured — skipped[/]")
                continue
            try:
                async with _audited(
                    ctx, "sync.run", chosen.name, range=[start, end] if start else None, org=org
                ) as out:
                    if chosen.mappings_before_sync:
                        await runner.run_mappings(ctx, chosen, org)
                    if start and end:
                        out += await runner.run_range(ctx, chosen, start, end, org)
                    else:
                        out += await runner.run_incremental(ctx, chosen, org)
                results += out
            except registry.UnknownProvider as exc:
                fail(str(exc))
        return results

    report_results(run_with_context(work))


@backfill_app.command("run")
def backfill_run(
    provider: str = typer.Argument(..., help=PROVIDER_NAMES_HELP),
    from_: str = typer.Option(None, "--from", help="Walk back to this UTC day (default: provider's)."),
    org: str = typer.Option(None, "--org", help="Only this org/team key label."),
    steps: int = typer.Option(1000, help="Maximum chunks to walk in this run."),
) -> None:
    """Walk history backwards chunk by chunk until complete (resumable: progress is saved per chunk)."""
    target = parse_day(from_, "--from")
    chosen = one_provider(provider)

    async def work(ctx: SyncContext) -> list[SyncResult]:
        from abacus.providers import registry, runner  # loaded by the command that runs, not by --help

        last: list[SyncResult] = []
        try:
            async with _audited(ctx, "backfill.run", chosen.name, target=target, org=org) as out:
                if chosen.mappings_before_sync:
                    await runner.run_mappings(ctx, chosen, org)
                for _ in range(steps):
                    last = await runner.run_backfill_step(ctx, chosen, org, target=target)
                    out[:] = last
                    if any(not r.ok for r in last) or all(r.complete for r in last):
                        break
        except registry.UnknownProvider as exc:
            fail(str(exc))
        return last

    report_results(run_with_context(work))


@backfill_app.command("complete")
def backfill_complete(provider: str = typer.Argument(..., help=PROVIDER_NAMES_HELP)) -> None:
    """Mark the provider's backfill complete (all its keys / repositories)."""
    one_provider(provider)
    count = run_with_context(
        lambda ctx: _update_state(ctx, provider, "backfill_complete = true", "backfill.complete"), progress=False
    )
    console.print(f"{provider}: {count} state row(s) marked complete")


@backfill_app.command("reset")
def backfill_reset(provider: str = typer.Argument(..., help=PROVIDER_NAMES_HELP)) -> None:
    """Forget backfill progress so the next run walks the history again (data is kept; re-reads are idempotent)."""
    one_provider(provider)
    count = run_with_context(
        lambda ctx: _update_state(
            ctx,
            provider,
            "backfill_complete = false, backfill_oldest_date = NULL, last_cursor = NULL",
            "backfill.reset",
        ),
        progress=False,
    )
    console.print(f"{provider}: {count} state row(s) reset")


async def _update_state(ctx: SyncContext, provider: str, assignment: str, action: str) -> int:
    async with ctx.sessionmaker() as db, db.begin():
        before = await sync_state_snapshot(db, provider)
        conn = await db.connection()  # a connection's execute() is typed CursorResult, which has rowcount
        result = await conn.execute(
            text(f"UPDATE sync_state SET {assignment} WHERE id = :p OR id LIKE :prefix"),
            {"p": provider, "prefix": f"{provider}:%"},
        )
        if result.rowcount:
            after = await sync_state_snapshot(db, provider)
            await record_audit(db, actor=cli_actor(), action=action, target=provider, before=before, after=after)
        return result.rowcount or 0


@asynccontextmanager
async def _audited(ctx: SyncContext, action: str, provider: str, **options: Any) -> AsyncIterator[list[SyncResult]]:
    """Run a manual sync or backfill and then record it: the provider's sync state before and after, with what the
    run did. A run spans many window transactions (each commits on its own), so the event is written when it ends;
    a run that raised (nothing of it to show) records nothing."""
    async with ctx.sessionmaker() as db:
        before = await sync_state_snapshot(db, provider)
    results: list[SyncResult] = []
    yield results
    async with ctx.sessionmaker() as db, db.begin():
        after = {
            "state": await sync_state_snapshot(db, provider),
            "options": {k: v for k, v in options.items() if v},
            "records": sum(r.records for r in results),
            "windows": sum(r.windows for r in results),
            "failed_windows": sum(len(r.errors) for r in results),
        }
        await record_audit(db, actor=cli_actor(), action=action, target=provider, before=before, after=after)

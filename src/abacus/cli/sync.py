"""`abacus sync` and `abacus backfill …`: run provider syncs inline with a progress bar."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import typer
from sqlalchemy import text

from abacus.cli.common import (
    console,
    fail,
    parse_day,
    provider_names,
    report_results,
    run_with_context,
    services_running,
)
from abacus.providers import runner
from abacus.sync.context import SyncContext, SyncResult

app = typer.Typer()
backfill_app = typer.Typer(
    help="Walk provider history backwards (bounded chunks) or change its state.", no_args_is_help=True
)
app.add_typer(backfill_app, name="backfill")


@app.command()
def sync(
    provider: str = typer.Argument("all", help="anthropic, cursor, github or all"),
    since: str = typer.Option(None, "--since", "--from", help="First UTC day (YYYY-MM-DD), inclusive."),
    until: str = typer.Option(None, "--until", "--to", help="Last UTC day (YYYY-MM-DD), inclusive."),
    days: int = typer.Option(None, help="Last N days (instead of --since/--until)."),
    org: str = typer.Option(None, "--org", help="Only this org/team key label."),
    enqueue: bool = typer.Option(False, "--enqueue", help="Hand the incremental sync to the worker."),
) -> None:
    """Sync usage/commits now (inline, with a progress bar); exits non-zero when any window failed."""
    providers = provider_names(provider)
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
        from abacus.worker.tasks import SYNC_JOBS

        with services_running() as services:
            names = asyncio.run(enqueue_jobs(services.redis_url, [SYNC_JOBS[p] for p in providers]))
        console.print(f"enqueued: {', '.join(names) or 'nothing (already queued)'}")
        return

    async def work(ctx: SyncContext) -> list[SyncResult]:
        results: list[SyncResult] = []
        for name in providers:
            if not runner.configured(ctx.settings, name):
                console.print(f"[yellow]{name}: not configured — skipped[/]")
                continue
            try:
                if name == "anthropic":
                    await runner.run_mappings(ctx, name, org)
                if start and end:
                    results += await runner.run_range(ctx, name, start, end, org)
                else:
                    results += await runner.run_incremental(ctx, name, org)
            except runner.UnknownKey as exc:
                fail(str(exc))
        return results

    report_results(run_with_context(work))


@backfill_app.command("run")
def backfill_run(
    provider: str = typer.Argument(..., help="anthropic, cursor or github"),
    from_: str = typer.Option(None, "--from", help="Walk back to this UTC day (default: provider's)."),
    org: str = typer.Option(None, "--org", help="Only this org/team key label."),
    steps: int = typer.Option(1000, help="Maximum chunks to walk in this run."),
) -> None:
    """Walk history backwards chunk by chunk until complete (resumable: progress is saved per chunk)."""
    target = parse_day(from_, "--from")
    provider_names(provider)

    async def work(ctx: SyncContext) -> list[SyncResult]:
        last: list[SyncResult] = []
        if provider == "anthropic":
            await runner.run_mappings(ctx, provider, org)
        for _ in range(steps):
            last = await runner.run_backfill_step(ctx, provider, org, target=target)
            if any(not r.ok for r in last) or all(r.complete for r in last):
                break
        return last

    report_results(run_with_context(work))


@backfill_app.command("complete")
def backfill_complete(provider: str = typer.Argument(..., help="anthropic, cursor or github")) -> None:
    """Mark the provider's backfill complete (all its keys / repositories)."""
    provider_names(provider)
    count = run_with_context(lambda ctx: _update_state(ctx, provider, "backfill_complete = true"), progress=False)
    console.print(f"{provider}: {count} state row(s) marked complete")


@backfill_app.command("reset")
def backfill_reset(provider: str = typer.Argument(..., help="anthropic, cursor or github")) -> None:
    """Forget backfill progress so the next run walks the history again (data is kept; re-reads are idempotent)."""
    provider_names(provider)
    count = run_with_context(
        lambda ctx: _update_state(
            ctx, provider, "backfill_complete = false, backfill_oldest_date = NULL, last_cursor = NULL"
        ),
        progress=False,
    )
    console.print(f"{provider}: {count} state row(s) reset")


async def _update_state(ctx: SyncContext, provider: str, assignment: str) -> int:
    async with ctx.sessionmaker() as db, db.begin():
        result = await db.execute(
            text(f"UPDATE sync_state SET {assignment} WHERE id = :p OR id LIKE :prefix"),
            {"p": provider, "prefix": f"{provider}:%"},
        )
        return result.rowcount or 0

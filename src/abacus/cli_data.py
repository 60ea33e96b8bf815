"""CLI commands over the data: sync, backfill, gaps, import, mappings, status, stats, github, rollup checks."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text

from abacus.cli import app, backing_services, console, db_app, fail, services_running, settings_or_exit
from abacus.db import create_engine, session_factory
from abacus.sync import runner
from abacus.sync.context import Progress as ProgressSink
from abacus.sync.context import SyncContext, SyncResult

T = TypeVar("T")
backfill_app = typer.Typer(help="Walk provider history backwards (bounded chunks) or change its state.",
                           no_args_is_help=True)
mappings_app = typer.Typer(help="Identity mappings: provider identity → work email.", no_args_is_help=True)
github_app = typer.Typer(help="GitHub commits and authors.", no_args_is_help=True)
import_app = typer.Typer(help="Import provider exports.", no_args_is_help=True)
app.add_typer(backfill_app, name="backfill")
app.add_typer(mappings_app, name="mappings")
app.add_typer(github_app, name="github")
app.add_typer(import_app, name="import")


class RichProgress(ProgressSink):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: Any = None

    def start(self, description: str, total: int | None) -> None:
        if self.task is not None:
            self.progress.remove_task(self.task)
        self.task = self.progress.add_task(description, total=total)

    def advance(self, steps: int = 1, *, note: str | None = None) -> None:
        if self.task is not None:
            self.progress.advance(self.task, steps)
            if note:
                self.progress.update(self.task, description=note)


def run_with_context(work: Callable[[SyncContext], Awaitable[T]], *, progress: bool = True) -> T:
    """Resolve services, build a SyncContext with a rich progress bar, run `work`, clean up."""
    _, stop = backing_services()
    settings = settings_or_exit()

    async def main() -> T:
        engine = create_engine(os.environ["DATABASE_URL"], pool_size=5)
        try:
            ctx = SyncContext(settings=settings, sessionmaker=session_factory(engine))
            if not progress:
                return await work(ctx)
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            with Progress(*columns, console=console, transient=False) as bar:
                ctx.progress = RichProgress(bar)
                return await work(ctx)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    finally:
        stop()


def query_rows(sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The rows of one read-only SQL statement (services resolved and cleaned up around it, no progress bar)."""
    async def work(ctx: SyncContext) -> list[Any]:
        async with ctx.sessionmaker() as db:
            return list(await db.execute(text(sql), params))

    return run_with_context(work, progress=False)


def _providers(name: str) -> list[str]:
    if name == "all":
        return list(runner.PROVIDERS)
    if name not in runner.PROVIDERS:
        fail(f"unknown provider {name!r}: use anthropic, cursor, github or all")
    return [name]


def _parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a YYYY-MM-DD date")
    return None


def _report(results: list[SyncResult]) -> None:
    table = Table("provider", "key", "records", "windows", "result")
    for r in results:
        outcome = "ok" if r.ok else f"[red]{r.errors[0]}[/]"
        if r.complete:
            outcome += " (history complete)"
        table.add_row(r.provider, r.label, f"{r.records:,}", str(r.windows), outcome)
    console.print(table)
    failed = [e for r in results for e in r.errors]
    if failed:
        fail(f"{len(failed)} window(s) failed — first: {failed[0]}")


@app.command()
def sync(provider: str = typer.Argument("all", help="anthropic, cursor, github or all"),
         since: str = typer.Option(None, "--since", "--from", help="First UTC day (YYYY-MM-DD), inclusive."),
         until: str = typer.Option(None, "--until", "--to", help="Last UTC day (YYYY-MM-DD), inclusive."),
         days: int = typer.Option(None, help="Last N days (instead of --since/--until)."),
         org: str = typer.Option(None, "--org", help="Only this org/team key label."),
         enqueue: bool = typer.Option(False, "--enqueue", help="Hand the incremental sync to the worker.")) -> None:
    """Sync usage/commits now (inline, with a progress bar); exits non-zero when any window failed."""
    providers = _providers(provider)
    start, end = _parse_day(since, "--since"), _parse_day(until, "--until")
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

    _report(run_with_context(work))


@backfill_app.command("run")
def backfill_run(provider: str = typer.Argument(..., help="anthropic, cursor or github"),
                 from_: str = typer.Option(None, "--from", help="Walk back to this UTC day (default: provider's)."),
                 org: str = typer.Option(None, "--org", help="Only this org/team key label."),
                 steps: int = typer.Option(1000, help="Maximum chunks to walk in this run.")) -> None:
    """Walk history backwards chunk by chunk until complete (resumable: progress is saved per chunk)."""
    target = _parse_day(from_, "--from")
    _providers(provider)

    async def work(ctx: SyncContext) -> list[SyncResult]:
        last: list[SyncResult] = []
        if provider == "anthropic":
            await runner.run_mappings(ctx, provider, org)
        for _ in range(steps):
            last = await runner.run_backfill_step(ctx, provider, org, target=target)
            if any(not r.ok for r in last) or all(r.complete for r in last):
                break
        return last

    _report(run_with_context(work))


@backfill_app.command("complete")
def backfill_complete(provider: str = typer.Argument(..., help="anthropic, cursor or github")) -> None:
    """Mark the provider's backfill complete (all its keys / repositories)."""
    _providers(provider)
    count = run_with_context(lambda ctx: _update_state(ctx, provider, "backfill_complete = true"), progress=False)
    console.print(f"{provider}: {count} state row(s) marked complete")


@backfill_app.command("reset")
def backfill_reset(provider: str = typer.Argument(..., help="anthropic, cursor or github")) -> None:
    """Forget backfill progress so the next run walks the history again (data is kept; re-reads are idempotent)."""
    _providers(provider)
    count = run_with_context(lambda ctx: _update_state(
        ctx, provider, "backfill_complete = false, backfill_oldest_date = NULL, last_cursor = NULL"), progress=False)
    console.print(f"{provider}: {count} state row(s) reset")


async def _update_state(ctx: SyncContext, provider: str, assignment: str) -> int:
    async with ctx.sessionmaker() as db, db.begin():
        result = await db.execute(text(f"UPDATE sync_state SET {assignment} WHERE id = :p OR id LIKE :prefix"),
                                  {"p": provider, "prefix": f"{provider}:%"})
        return result.rowcount or 0


@app.command()
def gaps(tool: str = typer.Argument(None, help="Only this tool (claude_code, cursor, …).")) -> None:
    """List UTC days without usage inside each tool's covered span."""
    rows = query_rows("""
        WITH spans AS (SELECT tool, MIN(date) lo, MAX(date) hi FROM usage_daily
                       WHERE (CAST(:tool AS text) IS NULL OR tool = :tool) GROUP BY tool)
        SELECT s.tool, d::date AS day FROM spans s, generate_series(s.lo, s.hi, interval '1 day') d
        WHERE NOT EXISTS (SELECT 1 FROM usage_daily u WHERE u.tool = s.tool AND u.date = d::date)
        ORDER BY s.tool, day""", {"tool": tool})
    if not rows:
        console.print("no gaps: every day inside each tool's span has usage")
        return
    table = Table("tool", "missing day")
    for row in rows:
        table.add_row(row.tool, row.day.isoformat())
    console.print(table)


@app.command()
def status() -> None:
    """Print sync state per provider key and repository."""
    rows = query_rows("SELECT * FROM sync_state ORDER BY id")
    table = Table("state", "last success", "synced through", "backfill oldest", "complete", "records", "last error")
    for r in rows:
        error = r.last_error if r.last_error_at and (not r.last_success_at or r.last_error_at > r.last_success_at) \
            else ""
        table.add_row(r.id, _ts(r.last_success_at), _ts(r.last_synced_hour_end), str(r.backfill_oldest_date or ""),
                      "yes" if r.backfill_complete else "no", str(r.records_last_run or 0), error or "")
    console.print(table if rows else "no sync has run yet")


def _ts(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""


@app.command()
def stats() -> None:
    """Counts: usage records per tool, top users by tokens (input + output + cache), date range, mappings."""
    async def work(ctx: SyncContext) -> dict[str, Any]:
        async with ctx.sessionmaker() as db:
            return {
                "records": (await db.execute(text("SELECT COUNT(*) FROM usage_records"))).scalar_one(),
                "tools": list(await db.execute(text(
                    "SELECT tool, SUM(record_count) n, SUM(total_tokens) tokens, SUM(cost) cost FROM usage_daily "
                    "GROUP BY tool ORDER BY tokens DESC"))),
                "top": list(await db.execute(text(
                    "SELECT email, SUM(total_tokens) tokens FROM usage_daily WHERE email NOT LIKE 'unmapped:%' "
                    "GROUP BY email ORDER BY tokens DESC, email LIMIT 10"))),
                "span": (await db.execute(text("SELECT MIN(date), MAX(date) FROM usage_daily"))).one(),
                "mappings": (await db.execute(text("SELECT COUNT(*) FROM identity_mappings"))).scalar_one(),
                "commits": (await db.execute(text("SELECT COUNT(*), COUNT(ai_tool) FROM commits"))).one(),
            }

    data = run_with_context(work, progress=False)
    console.print(f"usage records: {data['records']:,}   span: {data['span'][0]} → {data['span'][1]}   "
                  f"mappings: {data['mappings']:,}   commits: {data['commits'][0]:,} ({data['commits'][1]:,} AI)")
    tools = Table("tool", "records", "tokens", "cost (USD)")
    for row in data["tools"]:
        tools.add_row(row.tool, f"{row.n:,}", f"{row.tokens:,}", f"{row.cost:,.2f}")
    console.print(tools)
    top = Table("#", "user", "tokens")
    for i, row in enumerate(data["top"], 1):
        top.add_row(str(i), row.email, f"{row.tokens:,}")
    console.print(top)


@db_app.command("verify-rollups")
def verify_rollups() -> None:
    """Prove usage_daily equals the SQL sums of usage_records (exit 1 when not)."""
    from abacus.sync.usage_store import rollup_mismatches

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db:
            return await rollup_mismatches(db)

    mismatches = run_with_context(work, progress=False)
    if mismatches:
        fail(f"{mismatches} rollup row(s) differ from usage_records — run `abacus db rebuild-rollups`")
    console.print("rollups match usage_records exactly; the dedupe key makes duplicate rows impossible")


@db_app.command("rebuild-rollups")
def rebuild_rollups() -> None:
    """Recompute every usage_daily row from usage_records (one transaction)."""
    from abacus.sync.usage_store import refresh_rollup

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db, db.begin():
            slices = [(r.date, r.tool) for r in await db.execute(text(
                "SELECT DISTINCT date, tool FROM usage_records UNION SELECT DISTINCT date, tool FROM usage_daily"))]
            await refresh_rollup(db, slices)
            return len(slices)

    console.print(f"rebuilt {run_with_context(work, progress=False):,} (date, tool) slices")


@db_app.command("renormalize-models")
def renormalize_models() -> None:
    """Re-derive usage_records.model from raw_model with the current normalisation, then refresh rollups."""
    from abacus.domain.modelnames import normalize_model_name
    from abacus.sync.usage_store import refresh_rollup

    async def work(ctx: SyncContext) -> int:
        async with ctx.sessionmaker() as db, db.begin():
            pairs = list(await db.execute(text("SELECT DISTINCT raw_model, model FROM usage_records")))
            changed = 0
            slices: set[tuple[date, str]] = set()
            for raw, model in pairs:
                wanted = normalize_model_name(raw) if raw is not None else model
                if wanted != model:
                    result = await db.execute(text(
                        "UPDATE usage_records SET model = :m, updated_at = now() WHERE raw_model = :r AND model <> :m "
                        "RETURNING date, tool"), {"m": wanted, "r": raw})
                    touched = list(result)
                    changed += len(touched)
                    slices.update((r.date, r.tool) for r in touched)
            await refresh_rollup(db, slices)
            return changed

    console.print(f"{run_with_context(work, progress=False):,} usage rows re-normalised")


@import_app.command("cursor-csv")
def import_cursor_csv(file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True),
                      org: str = typer.Option(None, "--org", help="Cursor team label the rows belong to.")) -> None:
    """Import a Cursor usage CSV export: whole-file validation first, all-or-nothing, idempotent."""
    from abacus.sync.cursor_csv import CsvImportError, csv_organization_id, describe_import
    from abacus.sync.cursor_csv import import_cursor_csv as run_import

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


@mappings_app.command("list")
def mappings_list(source: str = typer.Option(None, help="claude_code, cursor or github")) -> None:
    """List identity mappings."""
    rows = query_rows("SELECT * FROM identity_mappings WHERE CAST(:s AS text) IS NULL OR source = :s "
                      "ORDER BY source, external_id", {"s": source})
    table = Table("source", "external id", "email", "updated by", "updated at")
    for r in rows:
        table.add_row(r.source, r.external_id, r.email, r.updated_by or "", _ts(r.updated_at))
    console.print(table if rows else "no mappings")


def _set_mapping(source: str, external_id: str, email: str) -> Any:
    """set_mapping by the CLI in its own transaction: the MappingChange, or MappingError raised."""
    from abacus.sync.mappings import set_mapping

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db, db.begin():
            return await set_mapping(db, source, external_id, email, updated_by="cli")

    return run_with_context(work, progress=False)


@mappings_app.command("set")
def mappings_set(source: str, external_id: str, email: str) -> None:
    """Map SOURCE EXTERNAL_ID to EMAIL and re-point that identity's usage / commits."""
    from abacus.sync.mappings import MappingError

    try:
        change = _set_mapping(source, external_id, email)
    except MappingError as exc:
        fail(str(exc))
    console.print(f"mapped {source}:{external_id} → {email} ({change.usage_rows} usage rows, "
                  f"{change.commits} commits re-pointed)")


@mappings_app.command("delete")
def mappings_delete(source: str, external_id: str) -> None:
    """Remove a mapping; its rows fall back to unmapped."""
    from abacus.sync.mappings import MappingError, delete_mapping

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db, db.begin():
            return await delete_mapping(db, source, external_id)

    try:
        change = run_with_context(work, progress=False)
    except MappingError as exc:
        fail(str(exc))
    console.print(f"removed {source}:{external_id} ({change.usage_rows} usage rows, {change.commits} commits)")


@mappings_app.command("sync")
def mappings_sync() -> None:
    """Pull API-key → email (Anthropic) and member → email (GitHub) mappings from the providers."""
    async def work(ctx: SyncContext) -> list[SyncResult]:
        results: list[SyncResult] = []
        for name in ("anthropic", "github"):
            if runner.configured(ctx.settings, name):
                results += await runner.run_mappings(ctx, name)
        return results

    _report(run_with_context(work))


@mappings_app.command("fix")
def mappings_fix() -> None:
    """Interactively map unmapped identities (largest usage first)."""
    from abacus.sync.mappings import MappingError

    rows = query_rows(
        "SELECT identity, COUNT(*) n, SUM(input_tokens + cache_write_tokens + cache_read_tokens + "
        "output_tokens) tokens FROM usage_records WHERE email LIKE 'unmapped:%' GROUP BY identity "
        "ORDER BY n DESC LIMIT 50")
    if not rows:
        console.print("nothing to fix: every usage row belongs to a person")
        return
    for row in rows:
        source, _, external_id = row.identity.partition(":")
        email = typer.prompt(f"{row.identity} ({row.n} records, {row.tokens:,} tokens) → email (empty to skip)",
                             default="", show_default=False)
        if not email:
            continue
        try:
            change = _set_mapping(source, external_id, email)
            console.print(f"  mapped; {change.usage_rows} rows re-pointed")
        except MappingError as exc:
            console.print(f"  [red]{exc}[/]")


@github_app.command("sync")
def github_sync(repo: str = typer.Argument(None, help="owner/repo (default: every org repository)"),
                days: int = typer.Option(90, help="Days of history to read."),
                from_: str = typer.Option(None, "--from", help="First UTC day (overrides --days).")) -> None:
    """Fetch default-branch commits (merges skipped), attribute and store them."""
    end = datetime.now(UTC).date()
    start = _parse_day(from_, "--from") or end - timedelta(days=days - 1)

    async def work(ctx: SyncContext) -> list[SyncResult]:
        from abacus.providers import github

        if not runner.configured(ctx.settings, "github"):
            fail("GitHub is not configured (GITHUB_TOKEN or GITHUB_APP_* and GITHUB_ORG)")
        return [await github.sync_range(ctx, start, end, repo=repo)]

    _report(run_with_context(work))


@github_app.command("commits")
def github_commits(repo: str, limit: int = typer.Option(20, help="How many commits.")) -> None:
    """Show the latest stored commits of REPO with their attribution."""
    rows = query_rows(
        "SELECT c.commit_id, c.committed_at, c.author_email, c.ai_tool, c.ai_model, c.additions, c.deletions,"
        " split_part(c.message, E'\\n', 1) AS subject FROM commits c JOIN repositories r ON r.id = c.repo_id"
        " WHERE r.full_name = :repo ORDER BY c.committed_at DESC LIMIT :limit", {"repo": repo, "limit": limit})
    table = Table("sha", "when (UTC)", "author", "AI", "+/-", "subject")
    for r in rows:
        table.add_row(r.commit_id[:7], _ts(r.committed_at), r.author_email or "", r.ai_tool or "human",
                      f"+{r.additions}/-{r.deletions}" if r.additions is not None else "", r.subject[:60])
    console.print(table if rows else f"no commits stored for {repo}")


@github_app.command("users")
def github_users() -> None:
    """List commit authors by GitHub id with their mapping state."""
    rows = query_rows(
        "SELECT c.author_id, MIN(c.author_login) login, MIN(c.author_raw_email) raw, COUNT(*) n, m.email"
        " FROM commits c LEFT JOIN identity_mappings m ON m.source = 'github' AND m.external_id = c.author_id"
        " WHERE c.author_id IS NOT NULL GROUP BY c.author_id, m.email ORDER BY n DESC")
    table = Table("github id", "login", "commit email", "commits", "mapped to")
    for r in rows:
        table.add_row(r.author_id, r.login or "", r.raw or "", f"{r.n:,}", r.email or "[yellow]unmapped[/]")
    console.print(table if rows else "no GitHub authors yet")


@github_app.command("map")
def github_map(user_id: str, email: str) -> None:
    """Map a GitHub user id to an email and re-point that author's commits."""
    mappings_set("github", user_id, email)


@app.command()
def bench(users: int = typer.Option(400, help="People in the synthetic company."),
          days: int = typer.Option(365, help="Days of history."),
          events: int = typer.Option(6, help="Usage rows per person, tool and day (Cursor-like events)."),
          requests: int = typer.Option(20, help="Requests per page (after one warm-up)."),
          reseed: bool = typer.Option(False, help="Drop and re-create the bench database."),
          database: str = typer.Option("abacus_bench", help="Database to time; `abacus` times the demo's data "
                                       "as it is (nothing is seeded unless the database is empty).")) -> None:
    """Seed millions of usage rows in a separate `abacus_bench` database and print per-page server times."""
    from rich.status import Status

    from abacus import bench as benchmark
    from abacus import migrate as migrations
    from abacus.embedded import ensure_database_exists

    services, stop = backing_services(database)
    settings = settings_or_exit()
    try:
        url = services.database_url

        async def drop_and_create() -> None:
            admin = create_engine(services.with_database("postgres"))
            async with admin.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            await admin.dispose()
            await ensure_database_exists(url)

        if reseed:
            if database == "abacus":
                fail("--reseed refuses to drop the `abacus` database")
            asyncio.run(drop_and_create())
        migrations.upgrade(url)

        async def fill() -> tuple[int, str, str]:
            engine = create_engine(url)
            try:
                async with engine.connect() as conn:
                    rows = (await conn.execute(text("SELECT COUNT(*) FROM usage_records"))).scalar_one()
                if rows == 0:
                    with Status("seeding", console=console) as status:
                        rows = await benchmark.seed(engine, users=users, days=days, events=events, repos=40,
                                                    commits=200_000, progress=status.update)
                async with engine.connect() as conn:
                    top_user = (await conn.execute(text(
                        "SELECT email FROM usage_daily WHERE email NOT LIKE 'unmapped:%' GROUP BY email "
                        "ORDER BY SUM(total_tokens) DESC LIMIT 1"))).scalar_one()
                    top_repo = (await conn.execute(text(
                        "SELECT r.full_name FROM repositories r JOIN commits c ON c.repo_id = r.id "
                        "GROUP BY r.full_name ORDER BY COUNT(*) DESC LIMIT 1"))).scalar_one()
                return rows, top_user, top_repo
            finally:
                await engine.dispose()

        rows, top_user, top_repo = asyncio.run(fill())
        console.print(f"database {database}: {rows:,} usage rows — timing {len(benchmark.PAGES)} pages "
                      f"× {requests} requests")
        timings = benchmark.measure(replace(settings, database_url=url, redis_url=services.redis_url),
                                    requests=requests, top_user=top_user, top_repo=top_repo)
        table = Table("page", "status", "p50 ms", "p95 ms", "max ms", "db p95 ms")
        for timing in timings:
            p50, p95, worst, db95 = benchmark.summary(timing)
            style = "green" if p95 < 50 else "yellow" if p95 < 150 else "red"
            table.add_row(timing.path, str(timing.status), f"{p50:.1f}", f"[{style}]{p95:.1f}[/]", f"{worst:.1f}",
                          f"{db95:.1f}")
        console.print(table)
    finally:
        stop()


@app.command("send-webhook")
def send_webhook(event: str = typer.Argument("push", help="push or ping"),
                 app_url: str = typer.Option("http://127.0.0.1:8000", help="Abacus base URL."),
                 repo: str = typer.Option("acme/web", help="Repository of the emulator's data set."),
                 count: int = typer.Option(3, help="Latest commits to include in a push."),
                 seed: int = typer.Option(7, help="Seed of the emulator's data set (as `abacus emulators`)."),
                 secret: str = typer.Option(None, envvar="GITHUB_WEBHOOK_SECRET",
                                            help="HMAC secret (default: the demo's).")) -> None:
    """Sign and POST a GitHub push/ping webhook built from the emulator's data set (the webhook sender)."""
    from abacus.emulators.dataset import DEMO_GITHUB_WEBHOOK_SECRET, EmulatorConfig, EmulatorDataset
    from abacus.emulators.webhook_sender import ping_payload, push_payload
    from abacus.emulators.webhook_sender import send_webhook as post

    if event not in ("push", "ping"):
        fail(f"unknown event {event!r}: use push or ping")
    dataset = EmulatorDataset(EmulatorConfig(seed=seed))
    payload = push_payload(dataset, repo, count) if event == "push" else ping_payload(dataset)
    try:
        response = post(app_url, secret or DEMO_GITHUB_WEBHOOK_SECRET, event, payload)
    except httpx.HTTPError as exc:
        fail(f"could not reach {app_url}: {exc}")
    console.print(f"{event} → {response.status_code} {response.text[:200]}")
    if response.status_code >= 400:
        raise typer.Exit(1)

"""`abacus github …`: commits and their authors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import typer
from rich.table import Table

from abacus.cli import mappings
from abacus.cli.common import (
    console,
    fail,
    parse_day,
    query_rows,
    report_results,
    run_with_context,
    timestamp,
)
from abacus.queries.identities import GitHubAuthor, github_authors
from abacus.sync.context import SyncContext, SyncResult

app = typer.Typer(help="GitHub commits and authors.", no_args_is_help=True)


@app.command("sync")
def github_sync(
    repo: str = typer.Argument(None, help="owner/repo (default: every org repository)"),
    days: int = typer.Option(90, help="Days of history to read."),
    from_: str = typer.Option(None, "--from", help="First UTC day (overrides --days)."),
) -> None:
    """Fetch default-branch commits (merges skipped), attribute and store them."""
    end = datetime.now(UTC).date()
    start = parse_day(from_, "--from") or end - timedelta(days=days - 1)

    async def work(ctx: SyncContext) -> list[SyncResult]:
        from abacus.providers import github, registry

        if not registry.configured(ctx.settings, github.DESCRIPTION):
            fail("GitHub is not configured (GITHUB_TOKEN or GITHUB_APP_* and GITHUB_ORG)")
        return [await github.sync_range(ctx, start, end, repo=repo)]

    report_results(run_with_context(work))


@app.command("commits")
def github_commits(repo: str, limit: int = typer.Option(20, help="How many commits.")) -> None:
    """Show the latest stored commits of REPO with their attribution."""
    rows = query_rows(
        "SELECT c.commit_id, c.committed_at, c.author_email, c.ai_tool, c.ai_model, c.additions, c.deletions,"
        " split_part(c.message, E'\\n', 1) AS subject FROM commits c JOIN repositories r ON r.id = c.repo_id"
        " WHERE r.full_name = :repo ORDER BY c.committed_at DESC LIMIT :limit",
        {"repo": repo, "limit": limit},
    )
    table = Table("sha", "when (UTC)", "author", "AI", "+/-", "subject")
    for r in rows:
        table.add_row(
            r.commit_id[:7],
            timestamp(r.committed_at),
            r.author_email or "",
            r.ai_tool or "human",
            f"+{r.additions}/-{r.deletions}" if r.additions is not None else "",
            r.subject[:60],
        )
    console.print(table if rows else f"no commits stored for {repo}")


@app.command("users")
def github_users() -> None:
    """List commit authors by GitHub id with their mapping state."""

    async def work(ctx: SyncContext) -> list[GitHubAuthor]:
        async with ctx.sessionmaker() as db:
            return await github_authors(db, unmapped_only=False)

    authors = run_with_context(work, progress=False)
    table = Table("github id", "login", "commit email", "commits", "mapped to")
    for a in authors:
        mapped = a.mapped_email or "[yellow]unmapped[/]"
        table.add_row(a.author_id, a.login or "", a.sample_email or "", f"{a.commits:,}", mapped)
    console.print(table if authors else "no GitHub authors yet")


@app.command("map")
def github_map(user_id: str, email: str) -> None:
    """Map a GitHub user id to an email and re-point that author's commits."""
    mappings.mappings_set("github", user_id, email)

"""`abacus teams …`: list, add, remove and import teams and their members; sync them from GitHub.

Every change is audited with the actor `cli:<operating-system user>`; rows it writes are the admin's (source
`manual`, or `import` for a CSV), so the hourly GitHub sync never overrides them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from abacus.cli.common import console, fail, report_results, run_with_context
from abacus.sync.context import SyncContext

app = typer.Typer(help="Teams: who belongs to which team (lead or member).", no_args_is_help=True)


@app.command("list")
def teams_list(
    team: str = typer.Argument(None, help="Show only this team's members"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table"),
) -> None:
    """List teams with their leads and members (and GitHub members not yet mapped to an email)."""
    from abacus.queries.teams import teams_view

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db:
            return await teams_view(db)

    view = run_with_context(work, progress=False)
    teams = [t for t in view.teams if team is None or t.slug == team.strip().lower()]
    if team is not None and not teams:
        fail(f"no team {team!r}")
    if as_json:
        body = [
            {
                "slug": t.slug,
                "name": t.name,
                "source": t.source,
                "members": [{"email": m.email, "role": m.role, "source": m.source} for m in t.members],
                "unmapped_github_logins": [{"login": login, "role": role} for login, role in t.unmapped],
            }
            for t in teams
        ]
        console.print_json(json.dumps(body))
        return
    if not teams:
        console.print("no teams (add one with `abacus teams add TEAM`, import a CSV, or configure GitHub)")
        return
    if team is None:
        table = Table("team", "name", "source", "leads", "members", "unmapped GitHub logins")
        for t in teams:
            leads = ", ".join(m.email for m in t.leads)
            unmapped = ", ".join(login for login, _ in t.unmapped)
            table.add_row(t.slug, t.name, t.source, leads, str(len(t.members)), unmapped)
        console.print(table)
        console.print(f"{len(teams)} team(s), {view.people} people")
        return
    table = Table("email", "role", "source")
    for m in teams[0].members:
        table.add_row(m.email, m.role, m.source)
    for login, role in teams[0].unmapped:
        table.add_row(f"github:{login} (no email mapped)", role, "github")
    console.print(table)


@app.command("add")
def teams_add(
    team: str = typer.Argument(..., help="Team slug (a–z, 0–9, . _ -)"),
    email: str = typer.Argument(None, help="Add this person (or change their role); without it, create the team"),
    role: str = typer.Option("member", help="lead or member"),
    name: str = typer.Option("", help="Display name of a new team (default: the slug)"),
) -> None:
    """Create TEAM, or add EMAIL to TEAM (creating the team if it does not exist) with --role."""
    from abacus.domain.teams import TeamError, validate_slug
    from abacus.services.audit import cli_actor
    from abacus.services.teams import create_team, set_member, team_snapshot

    async def work(ctx: SyncContext) -> str:
        actor = cli_actor()
        async with ctx.sessionmaker() as db, db.begin():
            slug = validate_slug(team)
            created = False
            if await team_snapshot(db, slug) is None:
                await create_team(db, slug, name, actor=actor)
                created = True
            elif email is None:
                raise TeamError(f"team {slug!r} already exists")
            if email is None:
                return f"created team {slug}"
            change = await set_member(db, slug, email, role, actor=actor)
            prefix = f"created team {slug}; " if created else ""
            if not change.changed:
                return f"{prefix}{change.email} is already {role} of {slug} (nothing changed)"
            if change.before is None:
                return f"{prefix}added {change.email} to {slug} as {change.after and change.after['role']}"
            return (
                f"{prefix}{change.email} in {slug}: {change.before['role']} → {change.after and change.after['role']}"
            )

    try:
        console.print(run_with_context(work, progress=False))
    except TeamError as exc:
        fail(str(exc))


@app.command("remove")
def teams_remove(
    team: str = typer.Argument(..., help="Team slug"),
    email: str = typer.Argument(None, help="Remove this person from the team; without it, remove the whole team"),
) -> None:
    """Remove EMAIL from TEAM, or the whole TEAM. A team or member synced from GitHub stays removed."""
    from abacus.domain.teams import TeamError
    from abacus.services.audit import cli_actor
    from abacus.services.teams import delete_team, remove_member

    async def work(ctx: SyncContext) -> str:
        async with ctx.sessionmaker() as db, db.begin():
            if email is None:
                before = await delete_team(db, team, actor=cli_actor())
                return f"removed team {team.strip().lower()} ({len(before['members'])} member(s))"
            change = await remove_member(db, team, email, actor=cli_actor())
            return f"removed {change.email} from {change.slug}"

    try:
        console.print(run_with_context(work, progress=False))
    except TeamError as exc:
        fail(str(exc))


@app.command("import")
def teams_import(file: Path = typer.Argument(..., help="CSV with lines team,email[,role] (header optional)")) -> None:
    """Import memberships from a CSV: all rows or none. Problems are listed with line and column; importing the
    same file again changes nothing."""
    from abacus.domain.teams import MAX_IMPORT_BYTES
    from abacus.services.audit import cli_actor
    from abacus.services.teams import TeamImportError, import_teams_csv

    try:
        raw = file.read_bytes()
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror or exc}")
    if len(raw) > MAX_IMPORT_BYTES:
        fail(f"{file}: larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        fail(f"{file}: not UTF-8 text (byte {exc.start})")

    async def work(ctx: SyncContext) -> Any:
        async with ctx.sessionmaker() as db, db.begin():
            return await import_teams_csv(db, text, actor=cli_actor(), file_name=file.name)

    try:
        outcome = run_with_context(work, progress=False)
    except TeamImportError as exc:
        for problem in exc.problems[:50]:
            console.print(f"{file.name}: {problem}", markup=False, highlight=False)
        more = len(exc.problems) - 50
        fail(f"nothing imported: {len(exc.problems)} problem(s)" + (f" ({more} more not shown)" if more > 0 else ""))
    console.print(f"imported {file.name}: {outcome.describe()}")


@app.command("sync")
def teams_sync() -> None:
    """Sync teams now from every provider that has them (GitHub org teams), as the hourly job does."""
    from abacus.providers import registry, runner

    async def work(ctx: SyncContext) -> list[Any]:
        results = []
        for provider in registry.PROVIDERS:
            if provider.sync_teams is not None and registry.configured(ctx.settings, provider):
                results.extend(await runner.run_teams(ctx, provider))
        return results

    results = run_with_context(work, progress=False)
    if not results:
        fail("no provider with teams is configured (set GITHUB_ORG and GitHub credentials)")
    report_results(results)

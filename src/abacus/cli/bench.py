"""`abacus bench`: seed a large data set and print per-page server times."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table
from sqlalchemy import text

from abacus.cli.common import (
    console,
    fail,
    runtime_or_exit,
)
from abacus.db import create_engine

app = typer.Typer()


@app.command()
def bench(
    users: int = typer.Option(400, help="People in the synthetic company."),
    days: int = typer.Option(365, help="Days of history."),
    events: int = typer.Option(6, help="Usage rows per person, tool and day (Cursor-like events)."),
    requests: int = typer.Option(20, help="Requests per page (after one warm-up)."),
    reseed: bool = typer.Option(False, help="Drop and re-create the bench database."),
    database: str = typer.Option(
        "abacus_bench",
        help="Database to time; `abacus` times the demo's data "
        "as it is (nothing is seeded unless the database is empty).",
    ),
) -> None:
    """Seed millions of usage rows in a separate `abacus_bench` database and print per-page server times."""
    from rich.status import Status

    from abacus import bench as benchmark
    from abacus import migrate as migrations
    from abacus.embedded import ensure_database_exists

    runtime = runtime_or_exit(database)
    services = runtime.services
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
                        rows = await benchmark.seed(
                            engine,
                            users=users,
                            days=days,
                            events=events,
                            repos=40,
                            commits=200_000,
                            progress=status.update,
                        )
                async with engine.connect() as conn:
                    top_user = (
                        await conn.execute(
                            text(
                                "SELECT email FROM usage_daily WHERE email NOT LIKE 'unmapped:%' GROUP BY email "
                                "ORDER BY SUM(total_tokens) DESC LIMIT 1"
                            )
                        )
                    ).scalar_one()
                    top_repo = (
                        await conn.execute(
                            text(
                                "SELECT r.full_name FROM repositories r JOIN commits c ON c.repo_id = r.id "
                                "GROUP BY r.full_name ORDER BY COUNT(*) DESC LIMIT 1"
                            )
                        )
                    ).scalar_one()
                return rows, top_user, top_repo
            finally:
                await engine.dispose()

        rows, top_user, top_repo = asyncio.run(fill())
        console.print(
            f"database {database}: {rows:,} usage rows — timing {len(benchmark.PAGES)} pages × {requests} requests"
        )
        timings = benchmark.measure(
            runtime.settings,
            requests=requests,
            top_user=top_user,
            top_repo=top_repo,
        )
        table = Table("page", "status", "p50 ms", "p95 ms", "max ms", "db p95 ms")
        for timing in timings:
            p50, p95, worst, db95 = benchmark.summary(timing)
            style = "green" if p95 < 50 else "yellow" if p95 < 150 else "red"
            table.add_row(
                timing.path, str(timing.status), f"{p50:.1f}", f"[{style}]{p95:.1f}[/]", f"{worst:.1f}", f"{db95:.1f}"
            )
        console.print(table)
    finally:
        runtime.stop()

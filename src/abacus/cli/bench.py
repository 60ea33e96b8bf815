"""`abacus bench`: build a large data set in its own database, measure ingest, every page, the original's way,
concurrent load and a streamed export, print one table (and JSON), drop the database. `--existing` times the pages
of a database as it is (e.g. the demo's `abacus`): nothing generated, ingested, modified or dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

import typer

from abacus.cli.common import console, err, fail, handle_sigterm, runtime_or_exit

app = typer.Typer()

GENERATED_ONLY = ("events", "people", "days", "seed", "keep")
"""Options that only describe a generated data set: refused with `--existing` when given."""


def _given(context: typer.Context, name: str) -> bool:
    """Whether option `name` was given (on the command line or in the environment), not left at its default."""
    source = context.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


@app.command()
def bench(
    context: typer.Context,
    events: int = typer.Option(2_000_000, help="Usage rows in total (Cursor events + Claude Code daily rows)."),
    people: int = typer.Option(2000, help="People in the synthetic company (~250 commits each)."),
    days: int = typer.Option(365, help="Days of history, ending today."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    requests: int = typer.Option(20, help="Warm requests per page (after the cold one)."),
    clients: int = typer.Option(50, help="Concurrent clients of the load test."),
    load_seconds: float = typer.Option(10.0, help="Length of the load test."),
    keep: bool = typer.Option(False, help="Keep the bench database afterwards (default: dropped)."),
    web_workers: int | None = typer.Option(
        None,
        min=1,
        max=32,
        help="Worker processes of the timed web process (default: as `abacus serve`, 2 × CPU cores, at most 8).",
        show_default=False,
    ),
    existing: bool = typer.Option(
        False,
        "--existing",
        help="Time the pages of an existing, migrated database as it is (default `abacus`): no data generated, "
        "no ingest measured, nothing modified or dropped.",
    ),
    database: str | None = typer.Option(
        None,
        help="Database to create, fill and drop (default `abacus_bench`, never `abacus`); "
        "with --existing the database to time (default `abacus`).",
        show_default=False,
    ),
) -> None:
    """Measure Abacus at scale on a generated data set: ingest, every page cold and warm, the original's way,
    load, memory; prints one table. With --existing: the same page figures on a database as it is."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from abacus.bench import report
    from abacus.bench.run import EXISTING_STEPS, STEPS, Options, existing_problem, run, run_existing

    if existing:
        given = [f"--{name}" for name in GENERATED_ONLY if _given(context, name)]
        if given:
            fail(f"{', '.join(given)} describe a generated data set: --existing times the database as it is")
        database = database or "abacus"
    else:
        database = database or "abacus_bench"
        if database == "abacus":
            fail(
                "the bench drops its database when it is done: pick another name than `abacus` "
                "(or time it as it is with --existing)"
            )
        if min(events, people, days) < 1:
            fail("--events, --people and --days must be at least 1")
    options = Options(
        events=events,
        people=people,
        days=days,
        seed=seed,
        requests=max(1, requests),
        clients=max(1, clients),
        load_seconds=load_seconds,
        keep=keep,
        web_workers=web_workers,
    )
    handle_sigterm()  # SIGTERM unwinds like Ctrl-C: the web process is stopped, the database dropped
    runtime = runtime_or_exit(database, create_database=not existing)
    try:
        problem = asyncio.run(existing_problem(runtime.services, database)) if existing else None
        if problem is not None:
            fail(problem)
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("bench", total=EXISTING_STEPS if existing else STEPS)

            def step(description: str) -> None:
                progress.update(task, description=description, advance=1)

            if existing:
                try:
                    outcome = run_existing(runtime.services, database, options, step)
                except ValueError as exc:
                    progress.stop()
                    fail(str(exc))
            else:
                outcome = run(runtime.services, database, options, step)
    finally:
        runtime.stop()
    if existing:
        title = (
            f"abacus bench --existing: database `{database}` as it is, "
            f"{outcome.figures[0].value:,.0f} usage rows, {outcome.figures[1].value:,.0f} commits"
        )
    else:
        title = f"abacus bench: {events:,} usage rows, {people:,} people, {days} days (seed {seed})"
    if not console.is_terminal:
        console.width = max(console.width, 120)  # a log or a pipe gets the figure names whole
    console.print(report.table(outcome.figures, title))
    for failure in outcome.failures:
        err.print(f"[yellow]warning:[/] {failure}", highlight=False)
    if json_file is not None:
        report.write_json(json_file, outcome.figures, outcome.params, outcome.explain)
        console.print(f"figures written to {json_file}")

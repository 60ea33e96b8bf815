"""`abacus bench`: build a large data set in its own database, measure ingest, every page, the original's way,
concurrent load and a streamed export, print one table (and JSON), drop the database."""

from __future__ import annotations

from pathlib import Path

import typer

from abacus.cli.common import console, err, fail, handle_sigterm, runtime_or_exit

app = typer.Typer()


@app.command()
def bench(
    events: int = typer.Option(2_000_000, help="Usage rows in total (Cursor events + Claude Code daily rows)."),
    people: int = typer.Option(2000, help="People in the synthetic company (~250 commits each)."),
    days: int = typer.Option(365, help="Days of history, ending today."),
    seed: int = typer.Option(1, help="Seed of the generated data."),
    json_file: Path | None = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
    requests: int = typer.Option(20, help="Warm requests per page (after the cold one)."),
    clients: int = typer.Option(50, help="Concurrent clients of the load test."),
    load_seconds: float = typer.Option(10.0, help="Length of the load test."),
    keep: bool = typer.Option(False, help="Keep the bench database afterwards (default: dropped)."),
    database: str = typer.Option("abacus_bench", help="Database to create, fill and drop (never `abacus`)."),
) -> None:
    """Measure Abacus at scale on a generated data set: ingest, every page cold and warm, the original's way,
    load, memory; prints one table."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from abacus.bench import report
    from abacus.bench.run import STEPS, Options, run

    if database == "abacus":
        fail("the bench drops its database when it is done: pick another name than `abacus`")
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
    )
    handle_sigterm()  # SIGTERM unwinds like Ctrl-C: the web process is stopped, the database dropped
    runtime = runtime_or_exit(database)
    try:
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("bench", total=STEPS)

            def step(description: str) -> None:
                progress.update(task, description=description, advance=1)

            outcome = run(runtime.services, database, options, step)
    finally:
        runtime.stop()
    title = f"abacus bench: {events:,} usage rows, {people:,} people, {days} days (seed {seed})"
    if not console.is_terminal:
        console.width = max(console.width, 120)  # a log or a pipe gets the figure names whole
    console.print(report.table(outcome.figures, title))
    for failure in outcome.failures:
        err.print(f"[yellow]warning:[/] {failure}", highlight=False)
    if json_file is not None:
        report.write_json(json_file, outcome.figures, outcome.params, outcome.explain)
        console.print(f"figures written to {json_file}")

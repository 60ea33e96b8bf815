"""`abacus loadtest`: signed-in clients on the Overview, Team, Status, a person and the GitHub webhook while the
worker ingests; requests/s, p50/p95/p99 and errors per route, and the webhook exactly-once check (bench/loadtest.py)."""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import typer
from rich.table import Table

from abacus.cli.common import console, err, fail, runtime_or_exit, settings_or_exit

if TYPE_CHECKING:
    from abacus.bench.loadtest import LoadReport, Target

app = typer.Typer()


@app.command()
def loadtest(
    clients: int = typer.Option(50, "--clients", help="Concurrent signed-in clients."),
    seconds: float = typer.Option(10.0, "--seconds", help="How long the load runs."),
    think_seconds: float = typer.Option(
        0.0,
        "--think-seconds",
        help="Mean pause of each client between requests, like a person reading a page (0: back to back).",
    ),
    warmup_seconds: float = typer.Option(
        5.0,
        "--warmup-seconds",
        help="Run this long before measuring (connections open, first arrivals spread out); failures still count.",
    ),
    sync_every: float = typer.Option(
        15.0,
        "--sync-every",
        help="Enqueue a forward sync of every provider at the start and again this often (s) during the load "
        "(0: only at the start).",
    ),
    target: str = typer.Option(
        "auto", "--target", help="demo (the running abacus demo), own (start an app of its own) or auto."
    ),
    email: str = typer.Option("ada@example.com", "--email", help="Who the clients sign in as (at the emulator)."),
    person: str = typer.Option(None, "--person", help="Whose page is loaded (default: the first demo person)."),
    web_workers: int = typer.Option(2, "--web-workers", help="own target: uvicorn worker processes."),
    users: int = typer.Option(40, "--users", help="own target: people in the emulators' synthetic company."),
    days: int = typer.Option(90, "--days", help="own target: days of history the emulators serve."),
    drain_seconds: float = typer.Option(120.0, "--drain-seconds", help="How long to wait for webhook follow-ups."),
    json_file: Path = typer.Option(None, "--json", help="Also write the figures to this JSON file."),
) -> None:
    """A bounded loopback load on a signed-in Abacus while its worker ingests: exits non-zero on any error or when
    a webhook delivery was not processed exactly once."""
    from abacus.bench.loadtest import Target, own_app, run_loadtest
    from abacus.bench.web import quiet_logs
    from abacus.emulators.dataset import EmulatorConfig, EmulatorDataset
    from abacus.runtime import settings_files

    if not 1 <= clients <= 1000:
        fail("--clients must be between 1 and 1000")
    if not 0 < seconds <= 3600:
        fail("--seconds must be more than 0 and at most 3600")
    if not 0 <= think_seconds <= 60:
        fail("--think-seconds must be between 0 and 60")
    if not 0 <= warmup_seconds <= 600:
        fail("--warmup-seconds must be between 0 and 600")
    if not (sync_every == 0 or 1 <= sync_every <= 3600):
        fail("--sync-every must be 0 or between 1 and 3600")
    if target not in ("auto", "demo", "own"):
        fail(f"--target {target!r}: use demo, own or auto")
    demo_running = settings_files().note is not None and "using the running demo" in (settings_files().note or "")
    if target == "demo" and not demo_running:
        fail("no running abacus demo here (.abacus/demo.env); start one or use --target own")
    use_demo = target == "demo" or (target == "auto" and demo_running)
    if users < 1 or days < 1:
        fail("--users and --days must be at least 1")
    emulator = EmulatorConfig() if use_demo else EmulatorConfig(users=users, days=days)  # the demo's: seed 7
    person = person or EmulatorDataset(emulator).people[0].email
    settings = settings_or_exit(web=False)
    runtime = runtime_or_exit(settings=settings)
    with ExitStack() as stack:
        stack.callback(runtime.stop)
        if use_demo:
            chosen = Target(runtime.settings.base_url, runtime.settings, "demo")
            _check_reachable(chosen)
        else:
            database = f"abacus_loadtest_{uuid.uuid4().hex[:8]}"
            with console.status("starting the emulators, a database, the web app and the worker; first ingest"):
                try:
                    chosen = stack.enter_context(
                        own_app(
                            runtime.settings,
                            web_workers=web_workers,
                            database=database,
                            person=person,
                            emulator=emulator,
                        )
                    )
                except RuntimeError as exc:
                    fail(str(exc))
            quiet_logs()
        console.print(f"load on the {chosen.origin} app at {chosen.base_url}: {clients} clients for {seconds:g} s")
        report = run_loadtest(
            chosen,
            clients=clients,
            seconds=seconds,
            email=email,
            person=person,
            drain_seconds=drain_seconds,
            think_seconds=think_seconds,
            warmup_seconds=warmup_seconds,
            sync_every=sync_every,
        )
    _print(report)
    if json_file is not None:
        json_file.write_text(json.dumps(report.as_json(), indent=2, default=str) + "\n")
        console.print(f"figures written to {json_file}")
    problems = []
    if report.errors:
        problems.append(f"{report.errors} request(s) failed")
    if not report.webhooks.exactly_once:
        problems.append("webhook deliveries were not all processed exactly once")
    if problems:
        fail("; ".join(problems))


def _check_reachable(target: Target) -> None:
    try:
        httpx.get(f"{target.base_url}/healthz", timeout=5)
    except httpx.HTTPError as exc:
        fail(f"the demo's app does not answer at {target.base_url}: {exc}")
    if not target.settings.github.webhook_secret:
        fail("the app has no GITHUB_WEBHOOK_SECRET: the webhook cannot be driven")


def _print(report: LoadReport) -> None:
    figures = report.as_json()
    pace = f"pausing {figures['think_seconds']:g} s on average" if figures["think_seconds"] else "back to back"
    title = (
        f"{figures['clients']} clients ({pace}) · {figures['seconds']:.1f} s measured after "
        f"{figures['warmup_seconds']:g} s of warm-up · {figures['target']} ({figures['base_url']})"
    )
    table = Table("route", "requests", "requests/s", "p50 ms", "p95 ms", "p99 ms", "errors", title=title)
    for route in figures["routes"]:
        table.add_row(
            route["route"],
            f"{route['requests']:,}",
            f"{route['requests_per_s']:.1f}",
            f"{route['p50_ms']:.0f}",
            f"{route['p95_ms']:.0f}",
            f"{route['p99_ms']:.0f}",
            f"[red]{route['errors']}[/]" if route["errors"] else "0",
        )
    total_rate, total_p99 = f"{figures['requests_per_s']:.1f}", f"{figures['p99_ms']:.0f}"
    table.add_row("[bold]all[/]", f"{figures['requests']:,}", total_rate, "", "", total_p99, str(figures["errors"]))
    console.print(table)
    for route in figures["routes"]:
        for sample in route["error_samples"]:
            err.print(f"  {route['route']}: {sample}", markup=False, highlight=False)
    w = report.webhooks
    verdict = "[green]exactly once[/]" if w.exactly_once else "[red]NOT exactly once[/]"
    console.print(
        f"webhook deliveries: {w.sent:,} sent ({w.pushes:,} pushes), {w.stored:,} stored, {w.processed:,} processed, "
        f"{w.pending:,} pending, {w.failed:,} failed; {w.replays:,} replays, {w.replays_answered_duplicate:,} "
        f"answered duplicate; push follow-up jobs finished {w.followup_jobs_done:,}/{w.pushes:,} "
        f"({w.followup_jobs_retried} retried) → {verdict}"
    )
    if report.enqueued:
        names = ", ".join(sorted(set(report.enqueued)))
        console.print(
            f"worker ingest during the load: {report.sync_rounds} round(s) of forward syncs "
            f"({len(report.enqueued)} jobs: {names})"
        )

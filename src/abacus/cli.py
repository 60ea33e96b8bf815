"""The `abacus` command line: serve, worker, db, emulators, demo, and the sync/maintenance commands."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from abacus.settings import Settings, SettingsError, load_settings

if TYPE_CHECKING:
    from abacus.embedded import BackingServices

app = typer.Typer(help="Abacus — how your engineers use AI coding tools.", no_args_is_help=True,
                  add_completion=False)
db_app = typer.Typer(help="Database schema (Alembic migrations) and rollup checks.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def _terminate_as_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def handle_sigterm() -> None:
    """SIGTERM (service managers, `timeout`) unwinds like Ctrl-C, so children and embedded servers are stopped.

    SIGINT is set explicitly too: a process started in the background of a script inherits it ignored."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    signal.signal(signal.SIGINT, _terminate_as_interrupt)


def fail(message: str) -> None:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def backing_services(database_name: str = "abacus"):  # type: ignore[no-untyped-def]
    """Resolve DATABASE_URL / REDIS_URL (configured, machine or embedded) and export them for child processes."""
    from abacus.embedded import BackingServiceError, ensure_database_exists, resolve_backing_services

    try:
        services, stop = resolve_backing_services(database_name=database_name)
    except BackingServiceError as exc:
        fail(str(exc))
    asyncio.run(ensure_database_exists(services.database_url))
    os.environ["DATABASE_URL"] = services.database_url
    os.environ["REDIS_URL"] = services.redis_url
    return services, stop


@contextmanager
def services_running(database_name: str = "abacus") -> Iterator[BackingServices]:
    """backing_services() for the length of a with-block: embedded servers it started are stopped at its end."""
    services, stop = backing_services(database_name)
    try:
        yield services
    finally:
        stop()


def settings_or_exit(*, web: bool = False) -> Settings:
    try:
        settings = load_settings(web=web)
    except SettingsError as exc:
        fail(str(exc))
    return replace(settings, database_url=os.environ.get("DATABASE_URL"), redis_url=os.environ.get("REDIS_URL"))


@app.command()
def serve(host: str = typer.Option("127.0.0.1", help="Interface to bind."),
          port: int = typer.Option(8000, help="Port to listen on."),
          workers: int = typer.Option(0, help="Worker processes (0 = 2 × CPU cores, at most 8)."),
          migrate: bool = typer.Option(True, help="Apply pending migrations before starting.")) -> None:
    """Run the web app under uvicorn (production ASGI server, several worker processes)."""
    import uvicorn

    from abacus import migrate as migrations

    _, stop = backing_services()
    load_settings_checked(web=True)
    if migrate:
        migrations.upgrade(os.environ["DATABASE_URL"])
    count = workers or min(8, 2 * (os.cpu_count() or 1))
    try:
        uvicorn.run("abacus.app:create_app_from_env", factory=True, host=host, port=port, workers=count,
                    log_level="warning", proxy_headers=True, access_log=False)
    finally:
        stop()


def load_settings_checked(*, web: bool = False) -> Settings:
    return settings_or_exit(web=web)


@app.command()
def worker() -> None:
    """Run the arq worker (cron syncs, backfills, webhook follow-ups)."""
    _, stop = backing_services()
    load_settings_checked()
    from arq.worker import run_worker

    from abacus.worker.settings import WorkerSettings

    try:
        run_worker(WorkerSettings)  # type: ignore[arg-type]
    except KeyboardInterrupt:
        pass
    finally:
        stop()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply migrations up to REVISION (default head). Running it twice is a no-op."""
    from abacus import migrate as migrations

    with services_running() as services:
        migrations.upgrade(services.database_url, revision)
        console.print(f"database at revision [bold]{migrations.current_revision(services.database_url)}[/]")


@db_app.command("current")
def db_current() -> None:
    """Print the database's current migration revision."""
    from abacus import migrate as migrations

    with services_running() as services:
        console.print(migrations.current_revision(services.database_url) or "(empty database)")


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="Target revision, e.g. base or -1.")) -> None:
    """Revert migrations down to REVISION."""
    from abacus import migrate as migrations

    with services_running() as services:
        migrations.downgrade(services.database_url, revision)
        console.print(f"database at revision {migrations.current_revision(services.database_url) or 'base'}")


@app.command()
def emulators(host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it loopback)."),
              port: int = typer.Option(8100, help="Port to listen on."),
              seed: int = typer.Option(7, help="Seed of the synthetic data set."),
              users: int = typer.Option(40, help="People in the synthetic company."),
              days: int = typer.Option(90, help="Days of history.")) -> None:
    """Serve the loopback fakes: /oidc, /anthropic, /cursor, /github (+ /_emulator controls)."""
    import uvicorn

    from abacus.emulators.server import build_emulator_app

    application = build_emulator_app(seed=seed, users=users, days=days)
    console.print(f"emulators on http://{host}:{port} — OIDC issuer http://{host}:{port}/oidc")
    uvicorn.run(application, host=host, port=port, log_level="warning")


DEMO_DEFAULTS = {
    "ABACUS_ENV": "demo",
    "OIDC_CLIENT_ID": "abacus",
    "OIDC_CLIENT_SECRET": "dev",
    "ABACUS_ALLOWED_DOMAINS": "example.com",
    "ABACUS_ADMIN_EMAILS": "ada@example.com",
}


@app.command()
def demo(host: str = typer.Option("127.0.0.1", help="Interface for the web app."),
         port: int = typer.Option(8000, help="Port of the web app."),
         emulator_port: int = typer.Option(8100, help="Port of the provider/identity emulators."),
         embedded: bool = typer.Option(False, "--embedded", help="Use project-local PostgreSQL + Valkey."),
         seed: bool = typer.Option(True, help="Run the initial backfill from the emulators.")) -> None:
    """One command: services, migrations, emulators, web + worker with demo data and dev sign-in."""
    from abacus import migrate as migrations
    from abacus.embedded import port_answers
    from abacus.emulators.dataset import demo_environment

    handle_sigterm()
    for what, number in (("--port", port), ("--emulator-port", emulator_port)):
        if port_answers("127.0.0.1", number):
            fail(f"port {number} is already in use (another demo?) — stop that process or pass {what}")
    if embedded:
        os.environ["ABACUS_EMBEDDED"] = "1"
    services, stop = backing_services()
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = {**DEMO_DEFAULTS, "OIDC_ISSUER": f"{emulator_url}/oidc", "ABACUS_BASE_URL": f"http://{host}:{port}",
           **demo_environment(emulator_url)}
    env.update({k: v for k, v in os.environ.items() if k in env or k.startswith(("OIDC_", "ABACUS_"))})
    env["DATABASE_URL"], env["REDIS_URL"] = services.database_url, services.redis_url
    child_env = {**os.environ, **env}
    with console.status("applying migrations"):
        migrations.upgrade(services.database_url)
    exe = [sys.executable, "-m", "abacus"]
    procs: list[subprocess.Popen[bytes]] = []

    def shutdown(*_: object) -> None:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()  # uvicorn and arq shut down gracefully on SIGTERM
        deadline = time.time() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        stop()

    try:
        procs.append(subprocess.Popen([*exe, "emulators", "--port", str(emulator_port)], env=child_env))
        _wait_http(f"{emulator_url}/oidc/.well-known/openid-configuration", "emulators")
        procs.append(subprocess.Popen([*exe, "serve", "--host", host, "--port", str(port), "--workers", "2",
                                       "--no-migrate"], env=child_env))
        procs.append(subprocess.Popen([*exe, "worker"], env=child_env))
        _wait_http(f"http://{host}:{port}/healthz", "web app")
        if seed:
            from abacus.worker.enqueue import enqueue_initial_sync

            asyncio.run(enqueue_initial_sync(services.redis_url))
        console.rule("[bold]Abacus demo is running")
        console.print(f"  Open [bold cyan]http://{host}:{port}/[/] and sign in as any [bold]name@example.com[/] "
                      "(e.g. [bold]ada@example.com[/], an admin).")
        console.print(f"  Emulators: {emulator_url}  ·  database: {'embedded' if services.embedded else 'local'}"
                      "  ·  Ctrl-C stops everything.")
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        fail("a demo process exited unexpectedly; see the log above")
    except KeyboardInterrupt:
        console.print("\nstopping…")
    finally:
        shutdown()


def _wait_http(url: str, what: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    fail(f"the {what} did not answer at {url} within {timeout:.0f} s")


def main() -> None:
    app()


if __name__ == "__main__":
    main()


from abacus import cli_data  # noqa: E402,F401  (registers the data commands on `app`)

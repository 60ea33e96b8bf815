"""`abacus demo`, `abacus emulators` and `abacus send-webhook`: the loopback fakes and the one-command demo."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

import httpx
import typer

from abacus.cli.common import (
    console,
    fail,
    handle_sigterm,
    runtime_or_exit,
    settings_or_exit,
)
from abacus.cli.demo_budgets import demo_alert_environment

if TYPE_CHECKING:
    from abacus.emulators.dataset import GitHubTeam

app = typer.Typer()


async def seed_demo_budgets(database_url: str, emulator_url: str) -> str:
    """Create the demo's three budgets (over, at risk, on track) when there are none yet; say what was made."""
    from datetime import UTC, datetime

    from abacus.cli.demo_budgets import demo_budgets, emulator_month_usage
    from abacus.db import create_engine, session_factory
    from abacus.services.budgets import budget_input, list_budgets, save_budget

    now = datetime.now(UTC)
    planned = demo_budgets(emulator_month_usage(emulator_url, now.date()), now)
    engine = create_engine(database_url, pool_size=1)
    try:
        async with session_factory(engine)() as db, db.begin():
            if await list_budgets(db):
                return ""
            for item in planned:
                fields = budget_input(
                    scope=item.scope, scope_id="", tool=item.tool, amount_usd=str(item.amount_usd),
                    channels=("slack", "webhook"),
                )  # fmt: skip
                await save_budget(db, fields, actor="demo")
    finally:
        await engine.dispose()
    return ", ".join(f"{b.tool} ${b.amount_usd} ({b.meant.replace('_', ' ')})" for b in planned)


@app.command()
def emulators(
    host: str = typer.Option("127.0.0.1", help="Interface to bind (keep it loopback)."),
    port: int = typer.Option(8100, help="Port to listen on."),
    seed: int = typer.Option(7, help="Seed of the synthetic data set."),
    users: int = typer.Option(40, help="People in the synthetic company."),
    days: int = typer.Option(90, help="Days of history."),
    otlp_app: str = typer.Option(
        "", help="Also push the demo people's Claude Code OTel stream to this Abacus (e.g. http://127.0.0.1:8000)."
    ),
    otlp_token: str = typer.Option("", help="Ingest token for --otlp-app (default: the demo's token)."),
) -> None:
    """Serve the loopback fakes: /oidc, /anthropic, /cursor, /github (+ /_emulator controls)."""
    import uvicorn

    from abacus.emulators.dataset import EmulatorConfig
    from abacus.emulators.otel import demo_stream, run_stream
    from abacus.emulators.server import build_emulator_app

    application = build_emulator_app(seed=seed, users=users, days=days)
    console.print(f"emulators on http://{host}:{port} — OIDC issuer http://{host}:{port}/oidc")
    if otlp_app:
        stream = demo_stream(otlp_app, EmulatorConfig(seed=seed, users=users, days=days))
        if otlp_token:
            stream.token = otlp_token
        threading.Thread(target=run_stream, args=(stream, threading.Event()), name="otel-stream", daemon=True).start()
        console.print(f"pushing Claude Code OTel metrics of {len(stream.emails)} people to {stream.url}")
    uvicorn.run(application, host=host, port=port, log_level="warning")


DEMO_DEFAULTS = {
    "ABACUS_ENV": "demo",
    "OIDC_CLIENT_ID": "abacus",
    "OIDC_CLIENT_SECRET": "dev",
    "ABACUS_ALLOWED_DOMAINS": "example.com",
    "ABACUS_ADMIN_EMAILS": "ada@example.com",
}


def visibility_hint(teams: Iterable[GitHubTeam], emails: dict[str, str], admins: Iterable[str]) -> str:
    """How to try ABACUS_VISIBILITY=team on the demo (docs/security.md §6): a lead and a member of the first demo
    team whose lead is no admin, by their work emails (the GitHub team sync maps the logins to them)."""
    admin = {a.lower() for a in admins}
    for team in teams:
        leads = [emails[login] for login in sorted(team.maintainers) if login in emails]
        members = [emails[login] for login, _ in team.members if login in emails and login not in team.maintainers]
        if leads and members and leads[0] not in admin:
            return (
                f"Who sees what: restart with ABACUS_VISIBILITY=team and sign in as {leads[0]} (lead of "
                f"{team.name}) or {members[0]} (a member): their teams' people by name, everyone else as "
                '"Others"; ABACUS_VISIBILITY=self shows each person only themselves.'
            )
    return ""


def demo_visibility_hint() -> str:
    """`visibility_hint` over the demo's data set (the emulators' default seed)."""
    from abacus.emulators.dataset import EmulatorConfig, EmulatorDataset

    dataset = EmulatorDataset(EmulatorConfig())
    emails = {p.github_login: p.email for p in dataset.people if p.github_login and p.email}
    return visibility_hint(dataset.github_teams, emails, DEMO_DEFAULTS["ABACUS_ADMIN_EMAILS"].split(","))


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Interface for the web app."),
    port: int = typer.Option(8000, help="Port of the web app."),
    emulator_port: int = typer.Option(8100, help="Port of the provider/identity emulators."),
    embedded: bool = typer.Option(False, "--embedded", help="Use project-local PostgreSQL + Valkey."),
    seed: bool = typer.Option(True, help="Run the initial backfill from the emulators."),
) -> None:
    """One command: services, migrations, emulators, web + worker with demo data and dev sign-in.

    While it runs, its settings are in `.abacus/demo.env`: other commands in this project use them when no
    settings of their own are given (`abacus sync all`, `abacus status` … work on the demo's data)."""
    from abacus import migrate as migrations
    from abacus.embedded import port_answers
    from abacus.emulators.dataset import demo_environment
    from abacus.emulators.otel import demo_otlp_environment, demo_stream, run_stream
    from abacus.runtime import remove_demo_env, write_demo_env

    handle_sigterm()
    for what, number in (("--port", port), ("--emulator-port", emulator_port)):
        if port_answers("127.0.0.1", number):
            fail(f"port {number} is already in use (another demo?) — stop that process or pass {what}")
    settings = settings_or_exit(demo_env=False)  # the environment and .env; never an older demo's settings
    if embedded:
        settings = settings.model_copy(update={"embedded": True})
    runtime = runtime_or_exit(settings=settings)
    services = runtime.services
    emulator_url = f"http://127.0.0.1:{emulator_port}"
    env = {
        **DEMO_DEFAULTS,
        "OIDC_ISSUER": f"{emulator_url}/oidc",
        "ABACUS_BASE_URL": f"http://{host}:{port}",
        **demo_environment(emulator_url),
        **demo_otlp_environment(),
    }
    env.update({k: v for k, v in os.environ.items() if k in env or k.startswith(("OIDC_", "ABACUS_"))})
    env = {**demo_alert_environment(emulator_url), **env}  # budget alerts to the emulator's hooks (unless set)
    env["DATABASE_URL"], env["REDIS_URL"] = services.database_url, services.redis_url
    env["ABACUS_QUEUE"] = runtime.settings.jobs.queue
    child_env = {**os.environ, **env}  # the children's configuration: the servers resolved here, demo keys
    with console.status("applying migrations"):
        migrations.upgrade(services.database_url)
    exe = [sys.executable, "-m", "abacus"]
    procs: list[subprocess.Popen[bytes]] = []
    stop_stream = threading.Event()

    def shutdown(*_: object) -> None:
        remove_demo_env()  # first: from now on other commands no longer reach for the demo's servers
        stop_stream.set()
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()  # uvicorn and arq shut down gracefully on SIGTERM
        deadline = time.time() + 10
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
        runtime.stop()

    try:
        procs.append(subprocess.Popen([*exe, "emulators", "--port", str(emulator_port)], env=child_env))
        _wait_http(f"{emulator_url}/oidc/.well-known/openid-configuration", "emulators")
        procs.append(
            subprocess.Popen(
                [*exe, "serve", "--host", host, "--port", str(port), "--workers", "2", "--no-migrate"], env=child_env
            )
        )
        procs.append(subprocess.Popen([*exe, "worker"], env=child_env))
        _wait_http(f"http://{host}:{port}/healthz", "web app")
        write_demo_env({k: v for k, v in env.items() if k != "ABACUS_SECRET_KEY"})
        if env.get("ABACUS_OTLP_TOKENS") == demo_otlp_environment()["ABACUS_OTLP_TOKENS"]:
            # Claude Code telemetry of the demo people, pushed to /otlp/v1/metrics (the Overview's Today strip)
            stream = demo_stream(f"http://{host}:{port}")
            threading.Thread(target=run_stream, args=(stream, stop_stream), name="otel-stream", daemon=True).start()
            console.print(f"  Live: a Claude Code OTel stream of {len(stream.emails)} people (one on a subscription).")
        if seed:
            from abacus.worker.enqueue import enqueue_initial_sync

            asyncio.run(enqueue_initial_sync(runtime.settings))
            seeded = asyncio.run(seed_demo_budgets(services.database_url, emulator_url))
            if seeded:
                console.print(f"  Budgets: {seeded} (their alerts arrive as the first syncs land; see /budgets)")
        console.rule("[bold]Abacus demo is running")
        console.print(
            f"  Open [bold cyan]http://{host}:{port}/[/] and sign in as any [bold]name@example.com[/] "
            "(e.g. [bold]ada@example.com[/], an admin)."
        )
        console.print(
            f"  Emulators: {emulator_url}  ·  database: {'embedded' if services.embedded else 'local'}"
            "  ·  Ctrl-C stops everything."
        )
        console.print("  Other abacus commands run here use the demo's settings (.abacus/demo.env).")
        visibility = env.get("ABACUS_VISIBILITY", "everyone")
        hint = demo_visibility_hint()
        if visibility != "everyone":
            whom = "their teams' people and themselves" if visibility == "team" else "only themselves"
            console.print(f"  ABACUS_VISIBILITY={visibility}: non-admins see {whom} by name (docs/security.md §6).")
        if hint:
            console.print(f"  {hint}")
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


@app.command("send-webhook")
def send_webhook(
    event: str = typer.Argument("push", help="push or ping"),
    app_url: str = typer.Option("http://127.0.0.1:8000", help="Abacus base URL."),
    repo: str = typer.Option("acme/web", help="Repository of the emulator's data set."),
    count: int = typer.Option(3, help="Latest commits to include in a push."),
    seed: int = typer.Option(7, help="Seed of the emulator's data set (as `abacus emulators`)."),
    secret: str = typer.Option(None, envvar="GITHUB_WEBHOOK_SECRET", help="HMAC secret (default: the demo's)."),
) -> None:
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

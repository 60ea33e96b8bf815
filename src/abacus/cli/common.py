"""What every command shares: the consoles, failing with a message, settings and backing services (resolved once
per command by `abacus.runtime`), a SyncContext with a progress bar, and small readers of options."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.providers.names import PROVIDER_NAMES
from abacus.settings import Settings, SettingsError, load_settings
from abacus.sync.context import Progress as ProgressSink
from abacus.sync.context import SyncContext, SyncResult

if TYPE_CHECKING:
    from abacus.providers.provider import Provider
    from abacus.runtime import Runtime


console = Console()


err = Console(stderr=True)


T = TypeVar("T")


def _terminate_as_interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def handle_sigterm() -> None:
    """SIGTERM (service managers, `timeout`) unwinds like Ctrl-C, so children and embedded servers are stopped.

    SIGINT is set explicitly too: a process started in the background of a script inherits it ignored."""
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    signal.signal(signal.SIGINT, _terminate_as_interrupt)


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", soft_wrap=True, highlight=False)
    raise typer.Exit(1)


def _per_command() -> dict[str, Any]:
    """A dict that lives as long as the running command (nothing outside a command): settings are read once."""
    context = click.get_current_context(silent=True)
    return context.find_root().meta.setdefault("abacus", {}) if context is not None else {}


def settings_or_exit(*, web: bool = False, demo_env: bool = True) -> Settings:
    """This command's settings: environment variables and `.env`, or — when neither gives any and `abacus demo`
    runs here — the demo's `.abacus/demo.env`, said in one line. `demo_env=False`: never the demo's."""
    cache = _per_command()
    key = f"settings:{web}:{demo_env}"
    if key not in cache:
        from abacus.runtime import SettingsFiles, settings_files

        chosen = settings_files() if demo_env else SettingsFiles((Path.cwd() / ".env",))
        if chosen.note and not cache.get("announced"):
            err.print(chosen.note, highlight=False)
            cache["announced"] = True
        try:
            cache[key] = load_settings(web=web, env_files=chosen.files)
        except SettingsError as exc:
            fail(str(exc))
    return cache[key]


def runtime_or_exit(
    database_name: str = "abacus", *, web: bool = False, settings: Settings | None = None, create_database: bool = True
) -> Runtime:
    """Settings with resolved servers (configured, machine or embedded; the database created when missing unless
    `create_database=False`). The caller stops the servers this started with `runtime.stop()`."""
    from abacus.embedded import BackingServiceError
    from abacus.runtime import resolve_runtime_settings

    settings = settings or settings_or_exit(web=web)
    try:
        return resolve_runtime_settings(settings, database_name=database_name, create_database=create_database)
    except BackingServiceError as exc:
        fail(str(exc))


@contextmanager
def services_running(database_name: str = "abacus") -> Iterator[Runtime]:
    """runtime_or_exit() for the length of a with-block: embedded servers it started are stopped at its end."""
    runtime = runtime_or_exit(database_name)
    try:
        yield runtime
    finally:
        runtime.stop()


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
    runtime = runtime_or_exit()

    async def main() -> T:
        engine = create_engine(runtime.settings.database.url or "", pool_size=5)
        try:
            ctx = SyncContext(settings=runtime.settings, sessionmaker=session_factory(engine))
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
        runtime.stop()


def query_rows(sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """The rows of one read-only SQL statement (services resolved and cleaned up around it, no progress bar)."""

    async def work(ctx: SyncContext) -> list[Any]:
        async with ctx.sessionmaker() as db:
            return list(await db.execute(text(sql), params))

    return run_with_context(work, progress=False)


PROVIDER_HELP = f"{', '.join(PROVIDER_NAMES)} or all"


def chosen_providers(name: str) -> list[Provider]:
    """The registered provider called `name`, or all of them for "all"; exits with the choices otherwise."""
    from abacus.providers import registry  # the providers load with the command that uses them, not with --help

    if name == "all":
        return list(registry.PROVIDERS)
    if name not in registry.NAMES:
        fail(f"unknown provider {name!r}: use {PROVIDER_HELP}")
    return [registry.get(name)]


def one_provider(name: str) -> Provider:
    """The registered provider called `name`; exits with the choices otherwise."""
    from abacus.providers import registry

    if name not in registry.NAMES:
        fail(f"unknown provider {name!r}: use one of {', '.join(registry.NAMES)}")
    return registry.get(name)


def parse_day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail(f"{option}: {value!r} is not a YYYY-MM-DD date")
    return None


def report_results(results: list[SyncResult]) -> None:
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


def timestamp(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else ""

"""Settings plus the servers they point at, resolved once per process.

`resolve_runtime_settings()` is the one way a process (CLI command, web app, worker) gets its configuration: it
reads the settings, finds or starts PostgreSQL and Redis (configured, on this machine, or project-local; see
`abacus.embedded`) and returns the settings with both URLs filled in, plus a `stop()` for the servers it started.

Where the settings come from (`settings_files()`): environment variables, then `.env` in the working directory.
When neither gives any (no `.env`, no DATABASE_URL, REDIS_URL or provider key in the environment) and
`abacus demo` is running in this project, its `.abacus/demo.env` is read instead, so `abacus sync all` next to
a demo syncs the demo's emulators into the demo's database. A demo.env whose demo is gone is removed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from dotenv import dotenv_values

from abacus.embedded import (
    BackingServices,
    ensure_database_exists,
    port_answers,
    project_root,
    resolve_backing_services,
)
from abacus.settings import Settings, load_settings

log = logging.getLogger("abacus.runtime")

DEMO_PID_VARIABLE = "ABACUS_DEMO_PID"
# Any of these in the environment means "settings are given": the running demo's are not used then.
GIVEN_VARIABLES = (
    "DATABASE_URL",
    "REDIS_URL",
    "ANTHROPIC_ADMIN_KEYS",
    "ANTHROPIC_ADMIN_KEY",
    "CURSOR_ADMIN_KEYS",
    "CURSOR_ADMIN_KEY",
    "GITHUB_TOKEN",
    "GITHUB_APP_ID",
)


@dataclass(frozen=True)
class SettingsFiles:
    """The env files to read after the environment, and one line for the user when that is not the usual."""

    files: tuple[Path, ...]
    note: str | None = None


@dataclass(frozen=True)
class Runtime:
    settings: Settings  # database.url and redis.url are set
    services: BackingServices
    stop: Callable[[], None]  # stops the project-local servers this process started (idempotent)


def demo_env_path(root: Path | None = None) -> Path:
    """Where `abacus demo` writes its settings while it runs: `<project root>/.abacus/demo.env`."""
    return (root or project_root()) / ".abacus" / "demo.env"


def settings_files(
    environ: Mapping[str, str] | None = None, *, cwd: Path | None = None, root: Path | None = None
) -> SettingsFiles:
    """`.env` in the working directory; or the running demo's demo.env when no other settings are given."""
    environ = os.environ if environ is None else environ
    dotenv = (cwd or Path.cwd()) / ".env"
    demo_env = demo_env_path(root)
    if dotenv.is_file() or any(environ.get(name, "").strip() for name in GIVEN_VARIABLES) or not demo_env.is_file():
        return SettingsFiles((dotenv,))
    shown = _shown(demo_env, cwd)
    if not demo_is_running(demo_env):
        with contextlib.suppress(OSError):
            demo_env.unlink()
        return SettingsFiles((dotenv,), f"removed a stale {shown}: the demo that wrote it is no longer running")
    return SettingsFiles((demo_env,), f"using the running demo's settings from {shown}")


def demo_is_running(path: Path) -> bool:
    """True when the demo that wrote `path` is alive: its process exists and its web app's port answers."""
    values = dotenv_values(path)
    try:
        process = psutil.Process(int(values.get(DEMO_PID_VARIABLE) or 0))
        alive = process.status() != psutil.STATUS_ZOMBIE
    except (ValueError, psutil.Error):
        return False
    web = urlsplit(values.get("ABACUS_BASE_URL") or "")
    try:
        port = web.port or (443 if web.scheme == "https" else 80)
    except ValueError:
        return False
    return alive and bool(web.hostname) and port_answers(web.hostname or "", port)


def write_demo_env(values: Mapping[str, str], *, root: Path | None = None) -> Path:
    """Write the demo's settings (readable only by this user: they hold keys), stamped with this process's pid."""
    path = demo_env_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Written by `abacus demo` while it runs; removed when it stops. CLI commands in this project use it",
        "# when no other settings are given (no .env, no DATABASE_URL/REDIS_URL/provider keys in the environment).",
        _dotenv_line(DEMO_PID_VARIABLE, str(os.getpid())),
        *(_dotenv_line(name, value) for name, value in sorted(values.items()) if name != DEMO_PID_VARIABLE),
    ]
    scratch = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    fd = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    scratch.replace(path)
    return path


def remove_demo_env(*, root: Path | None = None) -> None:
    """Remove demo.env if this process wrote it (a second demo's file is left alone)."""
    path = demo_env_path(root)
    with contextlib.suppress(OSError):
        if dotenv_values(path).get(DEMO_PID_VARIABLE) == str(os.getpid()):
            path.unlink()


def resolve_runtime_settings(
    settings: Settings | None = None,
    *,
    web: bool = False,
    database_name: str = "abacus",
    root: Path | None = None,
    create_database: bool = False,
    announce: Callable[[str], None] = log.info,
) -> Runtime:
    """Settings (read via `settings_files()` unless given) with resolved database and Redis URLs.

    Raises `SettingsError` or `BackingServiceError` (both one readable message). `create_database=True` creates
    the database when missing (not inside a running event loop). `announce` receives the settings-files note.
    """
    if settings is None:
        chosen = settings_files(root=root)
        if chosen.note:
            announce(chosen.note)
        settings = load_settings(web=web, env_files=chosen.files)
    services, stop = resolve_backing_services(
        settings.database.url,
        settings.redis.url,
        database_name=database_name,
        force_embedded=settings.embedded,
        root=root,
    )
    try:
        if create_database:
            asyncio.run(ensure_database_exists(services.database_url))
    except BaseException:
        stop()
        raise
    return Runtime(settings.with_services(services.database_url, services.redis_url), services, stop)


def _dotenv_line(name: str, value: str) -> str:
    """`NAME='value'` as python-dotenv's own writer quotes it (a value holding `${…}` would be expanded on read)."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"{name}='{escaped}'"


def _shown(path: Path, cwd: Path | None) -> str:
    try:
        return str(path.relative_to(cwd or Path.cwd()))
    except ValueError:
        return str(path)


def default_web_workers() -> int:
    """Web worker processes of `abacus serve` when none are asked for: 2 × CPU cores (a worker waits on the database
    about half the time), at most 8 (each keeps a pool of up to 10 connections)."""
    return min(8, 2 * (os.cpu_count() or 1))

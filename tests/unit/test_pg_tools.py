"""Choosing pg_dump / pg_restore for `abacus db backup|restore`: same major as the server, else the oldest newer
one, never an older one; --pg-bin is the only place looked at when given; libpq variables carry the connection."""

from __future__ import annotations

from pathlib import Path

import pytest

from abacus.cli import db


def _fake_tool(directory: Path, name: str, version: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(f"#!/bin/sh\necho '{name} (PostgreSQL) {version}'\n")
    path.chmod(0o755)
    return path


@pytest.mark.parametrize(
    ("installed", "server", "expected"),
    [
        ((15, 18), 15, 15),
        ((18, 15), 15, 15),
        ((15, 18), 16, 18),
        ((15, 17, 18), 16, 17),
        ((18,), 18, 18),
        ((15,), 18, None),
        ((), 15, None),
    ],
)
def test_choose_pg_tool(tmp_path, monkeypatch, installed, server, expected):
    dirs = []
    for major in installed:
        _fake_tool(tmp_path / str(major), "pg_dump", f"{major}.2 (Debian {major}.2-1)")
        dirs.append(tmp_path / str(major))
    monkeypatch.setattr(db, "_candidate_dirs", lambda extra: dirs)
    if expected is None:
        with pytest.raises(LookupError, match=f"no pg_dump for PostgreSQL {server} or newer"):
            db.choose_pg_tool("pg_dump", server)
    else:
        chosen = db.choose_pg_tool("pg_dump", server)
        assert (chosen.major, chosen.path) == (expected, tmp_path / str(expected) / "pg_dump")


def test_pg_bin_is_the_only_place_looked_at(tmp_path):
    _fake_tool(tmp_path / "old", "pg_restore", "14.1")
    with pytest.raises(LookupError, match=r"found: .*old/pg_restore \(14\)"):
        db.choose_pg_tool("pg_restore", 15, tmp_path / "old")
    _fake_tool(tmp_path / "new", "pg_restore", "18.0")
    assert db.choose_pg_tool("pg_restore", 15, tmp_path / "new").major == 18


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "postgresql+asyncpg://abacus:s3cret@db.internal:6543/abacus",
            {
                "PGHOST": "db.internal",
                "PGPORT": "6543",
                "PGUSER": "abacus",
                "PGPASSWORD": "s3cret",
                "PGDATABASE": "abacus",
            },
        ),
        (
            "postgresql+asyncpg://postgres@/abacus?host=/tmp/pg-socket",
            {"PGHOST": "/tmp/pg-socket", "PGPORT": "5432", "PGUSER": "postgres", "PGDATABASE": "abacus"},
        ),
    ],
)
def test_libpq_environment(url, expected, monkeypatch):
    monkeypatch.delenv("PGPASSWORD", raising=False)
    env = db.libpq_environment(url)
    assert {key: env.get(key) for key in expected} == expected
    assert "PGPASSWORD" in env or "PGPASSWORD" not in expected

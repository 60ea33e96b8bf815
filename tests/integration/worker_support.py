"""Real `abacus worker` processes for the kill tests: their environment, start, waits and what they stored."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import DEMO_ANTHROPIC_KEYS
from abacus.emulators.server import EmulatorServer
from abacus.rollups import rollup_mismatches

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def worker_env(database_url: str, redis_url: str, emulator: EmulatorServer, queue_tag: str) -> dict[str, str]:
    """A worker syncing only the emulator's Anthropic organisation `acme`, on a queue of its own, with 2 s locks."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "ABACUS_ENV": "dev",
        "ABACUS_QUEUE": f"abacus:test:{queue_tag}:{uuid.uuid4().hex[:6]}",
        "ABACUS_JOB_LOCK_SECONDS": "2",
        "OIDC_CLIENT_ID": "abacus",
        "OIDC_CLIENT_SECRET": "dev",
        "ANTHROPIC_ADMIN_KEYS": f"acme={DEMO_ANTHROPIC_KEYS['acme']}",
        "ANTHROPIC_API_URL": f"{emulator.base_url}/anthropic",
        "ABACUS_PROVIDER_PACING_MS": "0",
    }
    for name in ("CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY", "GITHUB_TOKEN", "GITHUB_APP_ID", "ANTHROPIC_ADMIN_KEY"):
        env.pop(name, None)
    return env


def start_worker(env: dict[str, str], log_path: str) -> subprocess.Popen[bytes]:
    """`abacus worker` in its own process group (kill it with os.killpg), its output appended to `log_path`."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "abacus", "worker"],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(
    predicate: Callable[[], Any], worker: subprocess.Popen[bytes], log_path: str, timeout: float, what: str
) -> Any:
    """Poll until `predicate` holds. A busy CI machine can make a worker slow to start, so limits are generous; a
    worker that died fails at once, with its log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) before {what}:\n{log_tail(log_path)}")
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; worker log:\n{log_tail(log_path)}")


def log_tail(log_path: str) -> str:
    """The end of a worker log, without heartbeat lines."""
    with open(log_path, encoding="utf-8", errors="replace") as handle:
        return "".join(line for line in handle.readlines() if "heartbeat" not in line)[-6000:]


async def snapshot(database_url: str) -> tuple[Any, dict[tuple[Any, str], tuple[int, Decimal]], int]:
    """The Anthropic backfill's state, Claude Code tokens and cost per (day, model), and the rollup mismatches."""
    engine = create_engine(database_url)
    async with session_factory(engine)() as db:
        state = (
            await db.execute(
                text("SELECT backfill_oldest_date, backfill_complete FROM sync_state WHERE id = 'anthropic:acme'")
            )
        ).first()
        rows = {
            (r.date, r.model): (int(r.tokens), Decimal(r.cost))
            for r in await db.execute(
                text(
                    "SELECT date, model, SUM(input_tokens + cache_write_tokens + cache_read_tokens + output_tokens)"
                    " tokens, "
                    "SUM(cost) cost FROM usage_records WHERE tool = 'claude_code' GROUP BY date, model"
                )
            )
        }
        mismatches = await rollup_mismatches(db)
    await engine.dispose()
    return state, rows, mismatches


def truth(emulator: EmulatorServer, start: Any, end: Any) -> dict[tuple[Any, str], tuple[int, Decimal]]:
    """What the emulator serves for `acme`'s Claude Code days `start`..`end`, in snapshot()'s shape."""
    return {
        (r["date"], r["model"]): (r["tokens"], r["cost"])
        for r in emulator.state.dataset.truth_usage(start, end, tool="claude_code", org_label="acme")
    }

"""A real arq worker process is SIGKILLed in the middle of a backfill; a restart loses and duplicates nothing."""

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from abacus.db import create_engine, session_factory
from abacus.emulators.dataset import DEMO_ANTHROPIC_KEYS, EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.rollups import rollup_mismatches
from tests.support import run_async

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _snapshot(database_url):
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


def _truth(emulator, start, end):
    return {
        (r["date"], r["model"]): (r["tokens"], r["cost"])
        for r in emulator.state.dataset.truth_usage(start, end, tool="claude_code", org_label="acme")
    }


def _worker(env, log):
    return subprocess.Popen(
        [sys.executable, "-m", "abacus", "worker"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(predicate, worker, log, timeout, what):
    """Poll until `predicate` holds. A busy CI machine can make the worker slow to start, so the limit is generous;
    a worker that died fails at once, with its log."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        if worker.poll() is not None:
            pytest.fail(f"the worker exited ({worker.returncode}) before {what}:\n{_tail(log)}")
        time.sleep(0.3)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; worker log:\n{_tail(log)}")


def _tail(log, lines=40):
    log.flush()
    with open(log.name, encoding="utf-8", errors="replace") as f:
        return "".join(f.readlines()[-lines:])


@pytest.fixture
def log(tmp_path):
    """The file both worker runs write their output to (shown when a wait fails)."""
    with open(tmp_path / "worker.log", "w+b") as f:
        yield f


def test_sigkill_mid_backfill_then_restart(services, database_url, clean_db, log):
    config = EmulatorConfig(days=20, lag=False)
    with EmulatorServer(config) as emulator:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": services.redis_url,
            "ABACUS_ENV": "dev",
            "ABACUS_QUEUE": f"abacus:test:kill:{uuid.uuid4().hex[:6]}",
            "ABACUS_JOB_LOCK_SECONDS": "2",
            "OIDC_CLIENT_ID": "abacus",
            "OIDC_CLIENT_SECRET": "dev",
            "ANTHROPIC_ADMIN_KEYS": f"acme={DEMO_ANTHROPIC_KEYS['acme']}",
            "ANTHROPIC_API_URL": f"{emulator.base_url}/anthropic",
            "ABACUS_PROVIDER_PACING_MS": "0",
        }
        for name in ("CURSOR_ADMIN_KEYS", "CURSOR_ADMIN_KEY", "GITHUB_TOKEN", "GITHUB_APP_ID", "ANTHROPIC_ADMIN_KEY"):
            env.pop(name, None)
        emulator.state.add_fault("anthropic", "usage_report", "slow", count=10_000, delay=0.4)
        worker = _worker(env, log)
        try:
            # the backfill cron runs at start-up; wait until it has committed a few days, then kill -9 mid-day
            _wait(
                lambda: (s := run_async(_snapshot(database_url))[0]) and s.backfill_oldest_date,
                worker,
                log,
                240,
                "the first backfilled day",
            )
            time.sleep(1.0)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)

        state, rows, mismatches = run_async(_snapshot(database_url))
        assert mismatches == 0
        assert not state.backfill_complete
        today = datetime.now(UTC).date()
        done_from, done_to = state.backfill_oldest_date, today - timedelta(days=3)
        # every day the backfill claims is fully read matches the provider exactly; nothing older was written
        # (newer days belong to the forward sync that also runs at worker start)
        assert {k: v for k, v in rows.items() if k[0] <= done_to} == _truth(emulator, done_from, done_to)

        emulator.state.clear_faults()
        worker = _worker(env, log)
        try:
            _wait(
                lambda: run_async(_snapshot(database_url))[0].backfill_complete, worker, log, 240, "backfill completion"
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
        state, rows, mismatches = run_async(_snapshot(database_url))
        assert mismatches == 0
        truth = _truth(emulator, today - timedelta(days=400), today - timedelta(days=3))
        assert {k: v for k, v in rows.items() if k[0] <= today - timedelta(days=3)} == truth

"""Process and database faults during ingest, on real PostgreSQL, Redis and the emulators: a real worker SIGKILLed at
random points of a backfill five times in a row and then left to finish, and the PostgreSQL backends of a running
backfill terminated (pg_terminate_backend) again and again, then the backfill re-run. After every fault the rows are
exactly the emulator's ground truth for the days the sync state claims, nothing older is written, rollups agree; the
finished run equals the ground truth. (test_worker_resilience.py has the single-kill case.)"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from abacus.db import session_factory
from abacus.emulators.dataset import EmulatorConfig
from abacus.emulators.server import EmulatorServer
from abacus.providers import anthropic
from abacus.sync.context import SyncContext
from tests.integration.attack_support import long_run
from tests.integration.provider_support import (
    ACME,
    FIRST_DAY,
    TODAY,
    rollup_mismatches,
    stored_totals,
    sync_settings,
    sync_state,
    truth_totals,
)
from tests.integration.worker_support import snapshot, start_worker, truth, wait_for, worker_env
from tests.support import run_async

KILLS = 5
TOOL = "claude_code"


def _check_claimed_days_equal_truth(database_url: str, emulator: EmulatorServer) -> tuple[object, int]:
    """After a fault: rollups agree and every day the backfill claims equals the provider exactly."""
    state, rows, mismatches = run_async(snapshot(database_url))
    assert mismatches == 0
    if state is None or state.backfill_oldest_date is None:
        return state, 0
    done_to = datetime.now(UTC).date() - timedelta(days=3)
    claimed = {k: v for k, v in rows.items() if k[0] <= done_to}
    assert claimed == truth(emulator, state.backfill_oldest_date, done_to)
    return state, len(claimed)


def _backfill_reading(emulator: EmulatorServer, served: int) -> bool:
    """A backfill day (older than the forward sync's three days) was requested since request number `served`."""
    oldest_forward = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    return any(
        str(r["query"].get("starting_at", ""))[:10] < oldest_forward
        for r in emulator.state.requests("anthropic", "usage_report")[served:]
    )


def test_worker_sigkilled_at_random_points_five_times_then_finishes(services, database_url, clean_db, tmp_path):
    seed = int(os.environ.get("ABACUS_FAULT_SEED") or random.randrange(1_000_000))
    rng = random.Random(seed)
    print(f"sigkill run: ABACUS_FAULT_SEED={seed}")
    kills = KILLS * (4 if long_run() else 1)
    with EmulatorServer(EmulatorConfig(days=12, lag=False)) as emulator:
        env = worker_env(database_url, services.redis_url, emulator, "kill5")
        emulator.state.add_fault("anthropic", "usage_report", "slow", count=1_000_000, delay=0.15)
        progress = []
        log_path = str(tmp_path / "worker.log")
        for _ in range(kills):
            served = len(emulator.state.requests("anthropic", "usage_report"))
            worker = start_worker(env, log_path)
            try:
                # a random point of the backfill: once this worker reads usage, mid-day or between days
                wait_for(
                    lambda served=served: _backfill_reading(emulator, served),
                    worker,
                    log_path,
                    240,
                    "the backfill to read a day",
                )
                time.sleep(rng.uniform(0.0, 1.5))
            finally:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(10)
            state, days = _check_claimed_days_equal_truth(database_url, emulator)
            progress.append(days)
            if state is not None and state.backfill_complete:
                break
        emulator.state.clear_faults()
        worker = start_worker(env, log_path)
        try:
            wait_for(
                lambda: (s := run_async(snapshot(database_url))[0]) and s.backfill_complete,
                worker,
                log_path,
                240,
                f"the backfill to complete after {len(progress)} kills",
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
        state, rows, mismatches = run_async(snapshot(database_url))
        assert mismatches == 0
        today = datetime.now(UTC).date()
        expected = truth(emulator, today - timedelta(days=400), today - timedelta(days=3))
        assert {k: v for k, v in rows.items() if k[0] <= today - timedelta(days=3)} == expected
        print(f"sigkill: seed {seed}, {len(progress)} kills, claimed days after each: {progress}")


# ---- PostgreSQL backends terminated mid-ingest --------------------------------------------------------------------

APP_NAME = "abacus-fault-ingest"


async def _terminate_mid_write(database_url: str, step: asyncio.Task[Any]) -> int:
    """Poll until one of the step's backends is inside a transaction that has written (it holds a transaction id),
    then terminate it; give up when the step ends first. Idle pooled connections are left alone: killing those
    proves nothing, since the pool's pre-ping replaces them."""
    admin = create_async_engine(database_url)
    try:
        async with admin.connect() as conn:
            while not step.done():
                result = await conn.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                        " WHERE application_name = :name AND backend_xid IS NOT NULL"
                    ),
                    {"name": APP_NAME},
                )
                await conn.commit()
                if killed := int(result.scalar() or 0):
                    return killed
                await asyncio.sleep(0.002)
            return 0
    finally:
        await admin.dispose()


async def test_postgres_backend_terminated_mid_ingest_then_rerun(emulator, database_url, clock):
    engine = create_async_engine(
        database_url, pool_pre_ping=True, connect_args={"server_settings": {"application_name": APP_NAME}}
    )
    maker = session_factory(engine)
    ctx = SyncContext(settings=sync_settings(emulator.base_url), sessionmaker=maker, now=clock, backoff_base=0.01)
    emulator.state.add_fault("anthropic", "usage_report", "slow", count=1_000_000, delay=0.03)
    terminated, failures, steps = 0, 0, 0
    rng = random.Random(int(os.environ.get("ABACUS_FAULT_SEED") or 10))
    try:
        for _ in range(40):  # backfill steps, each killed part-way, until the history is complete
            steps += 1
            task = asyncio.create_task(anthropic.backfill_step(ctx, ACME, with_mappings=False))
            await asyncio.sleep(rng.uniform(0.05, 0.4))
            terminated += await _terminate_mid_write(database_url, task)
            try:
                result = await task
                failures += 0 if result.ok else 1
                complete = result.complete
            except Exception:  # the connection died under the step: it must have written all or nothing
                failures += 1
                complete = False
            # every fault leaves: rollups consistent, the claimed days equal to the provider, nothing older
            state = await sync_state(maker, anthropic.state_id(ACME))
            assert await rollup_mismatches(maker) == 0
            if state and state["backfill_oldest_date"]:
                oldest, newest = state["backfill_oldest_date"], TODAY - timedelta(days=3)
                stored = await stored_totals(maker, TOOL, FIRST_DAY - timedelta(days=30), newest)
                assert stored == truth_totals(emulator, TOOL, oldest, newest, org="acme")
            if complete:
                break
        assert terminated > 0 and failures > 0, "no backend was terminated mid-write: the test proved nothing"
        emulator.state.clear_faults()
        # the re-run (fresh connections) finishes and equals the ground truth, whatever the faults left
        for _ in range(20):
            result = await anthropic.backfill_step(ctx, ACME, with_mappings=False)
            assert result.ok, result.errors
            if result.complete:
                break
        newest = TODAY - timedelta(days=3)
        assert await stored_totals(maker, TOOL, FIRST_DAY - timedelta(days=30), newest) == truth_totals(
            emulator, TOOL, FIRST_DAY, newest, org="acme"
        )
        assert await rollup_mismatches(maker) == 0
        print(f"pg_terminate_backend: {terminated} backends over {steps} steps, {failures} failed steps")
    finally:
        await engine.dispose()

"""A real arq worker process is SIGKILLed in the middle of a backfill; a restart loses and duplicates nothing."""

import os
import signal
import time
from datetime import UTC, datetime, timedelta

from abacus.emulators.dataset import EmulatorConfig
from abacus.emulators.server import EmulatorServer
from tests.integration.worker_support import snapshot, start_worker, truth, wait_for, worker_env
from tests.support import run_async


def test_sigkill_mid_backfill_then_restart(services, database_url, clean_db, tmp_path):
    log_path = str(tmp_path / "worker.log")
    with EmulatorServer(EmulatorConfig(days=20, lag=False)) as emulator:
        env = worker_env(database_url, services.redis_url, emulator, "kill")
        emulator.state.add_fault("anthropic", "usage_report", "slow", count=10_000, delay=0.4)
        worker = start_worker(env, log_path)
        try:
            # the backfill cron runs at start-up; wait until it has committed a few days, then kill -9 mid-day
            wait_for(
                lambda: (s := run_async(snapshot(database_url))[0]) and s.backfill_oldest_date,
                worker,
                log_path,
                240,
                "the first backfilled day",
            )
            time.sleep(1.0)
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)

        state, rows, mismatches = run_async(snapshot(database_url))
        assert mismatches == 0
        assert not state.backfill_complete
        today = datetime.now(UTC).date()
        done_from, done_to = state.backfill_oldest_date, today - timedelta(days=3)
        # every day the backfill claims is fully read matches the provider exactly; nothing older was written
        # (newer days belong to the forward sync that also runs at worker start)
        assert {k: v for k, v in rows.items() if k[0] <= done_to} == truth(emulator, done_from, done_to)

        emulator.state.clear_faults()
        worker = start_worker(env, log_path)
        try:
            wait_for(
                lambda: run_async(snapshot(database_url))[0].backfill_complete,
                worker,
                log_path,
                240,
                "backfill completion",
            )
        finally:
            os.killpg(worker.pid, signal.SIGTERM)
            worker.wait(20)
        state, rows, mismatches = run_async(snapshot(database_url))
        assert mismatches == 0
        expected = truth(emulator, today - timedelta(days=400), today - timedelta(days=3))
        assert {k: v for k, v in rows.items() if k[0] <= today - timedelta(days=3)} == expected
